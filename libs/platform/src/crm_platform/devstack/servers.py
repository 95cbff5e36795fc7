"""The stack's PostgreSQL and NATS: how to reach them, and how to recognise their processes."""

import asyncio
import os
from collections.abc import Mapping

from crm_platform.devstack.stack import StackConfig
from crm_platform.testing.nats import NatsServer
from crm_platform.testing.postgres import PostgresServer
from crm_platform.testing.processes import cmdline, pid_alive


def postgres(config: StackConfig) -> PostgresServer:
    return PostgresServer(
        config.postgres_dir,
        config.postgres_port,
        durable=True,
        log_file=config.log_file("postgres"),
        shared_buffers_mb=shared_buffers_mb(),
    )


def shared_buffers_mb() -> int:
    """A quarter of the machine's memory, PostgreSQL's own advice for a database server,
    up to 1 GiB: the local stack shares the machine with its services. The default 128 MB
    holds a third of a million contacts' table, and a name search that reads a thousand of
    its rows, scattered over the table, then copies most of them in from the OS cache."""
    memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    return max(128, min(1024, memory_mb // 4))


def create_databases(config: StackConfig, passwords: Mapping[str, str]) -> None:
    """One database per service, owned by a role of the same name."""
    server = postgres(config)

    async def create_all() -> None:
        for spec in config.services:
            await server.create_database(spec.database, spec.database, passwords[spec.database])

    asyncio.run(create_all())


def new_nats(config: StackConfig) -> NatsServer:
    return NatsServer(
        config.nats_dir,
        config.nats_port,
        config.nats_monitor_port,
        log_file=config.log_file("nats"),
    )


def recorded_nats(config: StackConfig, pid: int) -> NatsServer:
    """The NATS another process started, adopted by the pid it recorded."""
    return NatsServer(config.nats_dir, config.nats_port, config.nats_monitor_port, pid=pid)


def is_nats_process(pid: int) -> bool:
    # The pid comes from the state file and may since belong to something else.
    return pid_alive(pid) and "nats-server" in cmdline(pid)
