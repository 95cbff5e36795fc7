"""Starting the services: migrate, start detached, record the pid, wait until ready."""

import contextlib
import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from crm_platform.devstack.errors import StackError, reported_failure
from crm_platform.devstack.info import StackInfo
from crm_platform.devstack.readiness import READY_TIMEOUT, wait_ready
from crm_platform.devstack.stack import PORT_OFFSET_ENV, ServiceSpec, StackConfig
from crm_platform.devstack.state import ADMIN_EMAIL_ENV, ADMIN_PASSWORD_ENV, State
from crm_platform.testing.ports import port_is_free
from crm_platform.testing.processes import cmdline, pid_alive


class ServiceStarter:
    def __init__(self, config: StackConfig, state: State, info: StackInfo) -> None:
        self.config = config
        self.state = state
        self.info = info

    def is_alive(self, spec: ServiceSpec) -> bool:
        pid = self.state.service_pids().get(spec.name)
        return pid is not None and is_service_process(pid, spec)

    def start_all(self) -> None:
        # All at once: services connect to each other lazily, and the gateway's readiness
        # already waits for the backends it routes to.
        with ThreadPoolExecutor(max_workers=len(self.config.services)) as pool:
            _results([pool.submit(self._migrate_start_wait, s) for s in self.config.services])

    def script(self, spec: ServiceSpec) -> Path:
        script = self.config.bin_dir / spec.script
        if not script.exists():
            raise StackError(f"{script} is missing: install the services (`make setup`)")
        return script

    def _migrate_start_wait(self, spec: ServiceSpec) -> None:
        self._migrate(spec)
        self._start_and_wait(spec)

    def _migrate(self, spec: ServiceSpec) -> None:
        if self.is_alive(spec):
            return
        log_file = self.config.log_file(spec.name)
        with _open_log(log_file, f"{spec.script} migrate") as log:
            result = subprocess.run(
                [str(self.script(spec)), "migrate"],
                env=self._env(spec),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=READY_TIMEOUT,
                check=False,
            )
        if result.returncode != 0:
            message = f"{spec.script} migrate failed (exit {result.returncode})"
            raise reported_failure(message, log_file)

    def _start_and_wait(self, spec: ServiceSpec) -> None:
        pid = self.state.service_pids().get(spec.name)
        if pid is None or not is_service_process(pid, spec):
            require_free_ports(spec)
            pid = self._start(spec)
            self.state.set_service(spec, pid)
        wait_ready(self.config, spec, pid)

    def _start(self, spec: ServiceSpec) -> int:
        with _open_log(self.config.log_file(spec.name), f"{spec.script} serve") as log:
            process = subprocess.Popen(
                [str(self.script(spec)), "serve"],
                env=self._env(spec),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Survives this process (`up` returns) and ignores the terminal's Ctrl-C:
                # `down` stops services before the servers they depend on.
                start_new_session=True,
            )
        return process.pid

    def _env(self, spec: ServiceSpec) -> dict[str, str]:
        return {**os.environ, **service_environment(self.config, spec, self.info)}


def require_free_ports(spec: ServiceSpec) -> None:
    """StackError when another process listens on a port of the service about to start
    (often one left running by an interrupted stack): the new one would fail to bind while
    the readiness checks reached the old one and called it ready."""
    ports = (("gRPC", spec.grpc_port), ("metrics", spec.metrics_port), ("HTTP", spec.http_port))
    for what, port in ports:
        if port is not None and not port_is_free(port):
            raise StackError(
                f"{spec.name}: port {port} ({what}) is taken by another process; stop it, "
                f"or run the stack on other ports ({PORT_OFFSET_ENV}=100)"
            )


def service_environment(config: StackConfig, spec: ServiceSpec, info: StackInfo) -> dict[str, str]:
    """The variables one service is started with (on top of the launcher's own environment)."""
    p = spec.env_prefix
    env = {
        p + "DATABASE_URL": info.database_urls[spec.name],
        p + "NATS_URL": info.nats_url,
        p + "PRINCIPAL_SECRET": info.principal_secret,
        p + "OTEL_SPANS_FILE": str(config.traces_dir / f"{spec.name}.jsonl"),
        # Log lines reach the log file as they happen, not when a buffer fills.
        "PYTHONUNBUFFERED": "1",
    }
    for key, port in (
        ("GRPC_PORT", spec.grpc_port),
        ("METRICS_PORT", spec.metrics_port),
        ("HTTP_PORT", spec.http_port),
    ):
        if port is not None:
            env[p + key] = str(port)
    if spec == config.gateway:
        env.update(_gateway_environment(config, info))
    return env


def _gateway_environment(config: StackConfig, info: StackInfo) -> dict[str, str]:
    p = config.gateway.env_prefix
    env = {
        p + "JWT_SECRET": info.jwt_secret,
        # One worker per core, up to a handful: every request passes through the gateway.
        p + "WORKERS": os.environ.get(p + "WORKERS", str(min(os.cpu_count() or 1, 4))),
    }
    for backend in config.grpc_services:
        target_key = backend.name.upper().replace("-", "_") + "_TARGET"
        env[p + target_key] = str(backend.grpc_target)
    env[ADMIN_EMAIL_ENV] = info.admin_email
    env[ADMIN_PASSWORD_ENV] = info.admin_password
    return env


def is_service_process(pid: int, spec: ServiceSpec) -> bool:
    # The pid comes from the state file and may since belong to something else.
    return pid_alive(pid) and spec.script in cmdline(pid)


def _results(futures: list[Future[None]]) -> None:
    # Wait for all before raising: a half-started sibling would otherwise go unrecorded.
    errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error


@contextlib.contextmanager
def _open_log(path: Path, what: str) -> Iterator[BinaryIO]:
    """Append to a service log, marking where this run starts (tails then show this run)."""
    with path.open("ab") as file:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        file.write(f"\n=== crm-devstack: {what} at {stamp} ===\n".encode())
        file.flush()
        yield file
