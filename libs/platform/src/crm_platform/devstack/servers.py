"""The stack's PostgreSQL and NATS: how to reach them, and how to recognise their processes."""

import asyncio
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
    )


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
