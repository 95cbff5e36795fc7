"""Start, watch and stop the local stack: one PostgreSQL, one NATS, every service.

Everything started here is detached (own session) and recorded in `<state>/state.json`, so
`down` from another process stops exactly what `up` started and nothing else.
"""

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from crm_platform.devstack.stack import ServiceSpec, StackConfig
from crm_platform.testing.nats import NatsServer
from crm_platform.testing.postgres import PostgresServer, tail
from crm_platform.testing.processes import cmdline, pid_alive, terminate

READY_TIMEOUT = 60.0
# Short enough that a second `up` is not dominated by sleeping between probes.
POLL_INTERVAL = 0.05
STOP_TIMEOUT = 10.0
ADMIN_EMAIL = "admin@crm.local"
ADMIN_EMAIL_ENV = "CRM_BOOTSTRAP_ADMIN_EMAIL"
ADMIN_PASSWORD_ENV = "CRM_BOOTSTRAP_ADMIN_PASSWORD"  # noqa: S105 - a variable name


class StackError(RuntimeError):
    def __init__(self, message: str, log_file: Path | None = None) -> None:
        self.message = message
        self.log_file = log_file
        detail = f"\n--- end of {log_file} ---\n{tail(log_file)}" if log_file else ""
        super().__init__(message + detail)


@dataclass(frozen=True)
class StackInfo:
    gateway_url: str
    admin_email: str
    admin_password: str
    state_dir: Path
    grpc_targets: dict[str, str]
    metrics_urls: dict[str, str]
    # Each service's own database, as its role: for tests that look behind the API.
    database_urls: dict[str, str]
    principal_secret: str
    jwt_secret: str
    postgres_port: int
    postgres_url: str
    nats_url: str
    traces_dir: Path
    logs_dir: Path


@dataclass(frozen=True)
class RunningStack:
    """What the e2e fixture hands to tests: the stack's facts and its fault switches."""

    config: StackConfig
    info: StackInfo

    def stop_postgres(self, *, kill: bool = False) -> None:
        stop_postgres(self.config, kill=kill)

    def start_postgres(self) -> None:
        start_postgres(self.config)

    def stop_nats(self, *, kill: bool = False) -> None:
        stop_nats(self.config, kill=kill)

    def start_nats(self) -> None:
        start_nats(self.config)

    def status(self) -> dict[str, bool]:
        return status(self.config)


# --- public operations -------------------------------------------------------------------


def up(config: StackConfig | None = None) -> StackInfo:
    """Bring every part up (only the parts not already running) and wait until all are ready."""
    config = config or StackConfig.from_env()
    _make_state_dirs(config)
    state = _State(config)
    info = stack_info(config)

    started = _ServiceStarter(config, state, info)
    # Before starting anything: a missing script found late would leave half a stack.
    for spec in config.services:
        started.script(spec)
    start_postgres(config)
    if not all(started.is_alive(spec) for spec in config.services):
        _create_databases(config)
    _start_nats(config, state)
    started.start_all()
    return info


def down(config: StackConfig | None = None) -> None:
    """Stop what `up` recorded: services, then NATS, then PostgreSQL. Safe to repeat."""
    config = config or StackConfig.from_env()
    if not config.state_dir.exists():
        return
    state = _State(config)
    # Only our own processes: a recorded pid may since belong to something else.
    services = [
        pid
        for name, pid in state.service_pids().items()
        if pid_alive(pid) and f"crm-{name}" in cmdline(pid)
    ]
    terminate(services, STOP_TIMEOUT)
    state.forget_services()
    stop_nats(config)
    stop_postgres(config)


def status(config: StackConfig | None = None) -> dict[str, bool]:
    config = config or StackConfig.from_env()
    state = _State(config)
    result = {"postgres": _postgres(config).is_running(), "nats": _nats_alive(state)}
    pids = state.service_pids()
    for spec in config.services:
        pid = pids.get(spec.name)
        result[spec.name] = pid is not None and _is_service_process(pid, spec)
    return result


def run(config: StackConfig | None = None) -> None:
    """`make run`: up, show where everything is, wait for Ctrl-C or SIGTERM, then down."""
    config = config or StackConfig.from_env()
    # SIGTERM takes the same path as Ctrl-C so `down` runs either way. SIGINT is set too: a
    # shell without job control starts background commands with it ignored.
    previous = {
        signum: signal.signal(signum, _raise_keyboard_interrupt)
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        info = up(config)
        print(banner(config, info, foreground=True), flush=True)
        _watch(config)
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave servers behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("\nStopping the stack...", flush=True)
        down(config)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    print("Stopped.", flush=True)


def stop_postgres(config: StackConfig, *, kill: bool = False) -> None:
    server = _postgres(config)
    if kill:
        server.kill()
    else:
        server.stop("fast")


def start_postgres(config: StackConfig) -> None:
    _make_state_dirs(config)
    _postgres(config).start()


def stop_nats(config: StackConfig, *, kill: bool = False) -> None:
    state = _State(config)
    pid = state.nats_pid()
    if pid is not None and _nats_process(pid):
        if kill:
            NatsServer(config.nats_dir, config.nats_port, config.nats_monitor_port, pid=pid).kill()
        else:
            terminate([pid], STOP_TIMEOUT)
    state.set_nats_pid(None)


def start_nats(config: StackConfig) -> None:
    _make_state_dirs(config)
    _start_nats(config, _State(config))


def stack_info(config: StackConfig) -> StackInfo:
    """The stack's addresses and credentials (creating the secrets on first use)."""
    shared = _secrets(config)
    email, password = _admin_credentials(config)
    postgres = _postgres(config)
    gateway = config.gateway
    return StackInfo(
        gateway_url=f"http://127.0.0.1:{gateway.http_port}",
        admin_email=email,
        admin_password=password,
        state_dir=config.state_dir,
        grpc_targets={s.name: s.grpc_target for s in config.services if s.grpc_target},
        metrics_urls={s.name: s.metrics_url for s in config.services if s.metrics_url},
        database_urls={
            s.name: postgres.url(s.database, s.database, shared["databases"][s.database])
            for s in config.services
        },
        principal_secret=shared["principal_secret"],
        jwt_secret=shared["jwt_secret"],
        postgres_port=config.postgres_port,
        postgres_url=postgres.url("postgres"),
        nats_url=f"nats://127.0.0.1:{config.nats_port}",
        traces_dir=config.traces_dir,
        logs_dir=config.logs_dir,
    )


def banner(config: StackConfig, info: StackInfo, *, foreground: bool) -> str:
    metrics = "\n".join(f"    {name:<10} {url}" for name, url in info.metrics_urls.items())
    lines = [
        "",
        "CRM suite is up.",
        f"  Gateway      {info.gateway_url}",
        f"  API docs     {info.gateway_url}/docs",
        "  Metrics",
        metrics,
        f"  Admin        {info.admin_email}",
        f"  Password     {info.admin_password}",
        f"  Logs         {info.logs_dir}/<name>.log   (crm-devstack logs <name>)",
        f"  Traces       {info.traces_dir}",
        f"  PostgreSQL   {info.postgres_url}",
        f"  NATS         {info.nats_url}",
        "",
        "Ctrl-C to stop." if foreground else "Stop it with `make down`.",
    ]
    return "\n".join(lines)


# --- services ------------------------------------------------------------------------------


class _ServiceStarter:
    def __init__(self, config: StackConfig, state: "_State", info: StackInfo) -> None:
        self.config = config
        self.state = state
        self.info = info

    def is_alive(self, spec: ServiceSpec) -> bool:
        pid = self.state.service_pids().get(spec.name)
        return pid is not None and _is_service_process(pid, spec)

    def start_all(self) -> None:
        # All at once: services connect to each other lazily, and the gateway's readiness
        # already waits for the backends it routes to.
        with ThreadPoolExecutor(max_workers=len(self.config.services)) as pool:
            _results([pool.submit(self._migrate_start_wait, s) for s in self.config.services])

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
            raise _failure(f"{spec.script} migrate failed (exit {result.returncode})", log_file)

    def _start_and_wait(self, spec: ServiceSpec) -> None:
        pid = self.state.service_pids().get(spec.name)
        if pid is None or not _is_service_process(pid, spec):
            log_file = self.config.log_file(spec.name)
            with _open_log(log_file, f"{spec.script} serve") as log:
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
            pid = process.pid
            self.state.set_service(spec, pid)
        _wait_ready(self.config, spec, pid)

    def script(self, spec: ServiceSpec) -> Path:
        script = self.config.bin_dir / spec.script
        if not script.exists():
            raise StackError(f"{script} is missing: install the services (`make setup`)")
        return script

    def _env(self, spec: ServiceSpec) -> dict[str, str]:
        return {**os.environ, **service_environment(self.config, spec, self.info)}


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
        env[p + "JWT_SECRET"] = info.jwt_secret
        for backend in config.grpc_services:
            target_key = backend.name.upper().replace("-", "_") + "_TARGET"
            env[p + target_key] = str(backend.grpc_target)
        env[ADMIN_EMAIL_ENV] = info.admin_email
        env[ADMIN_PASSWORD_ENV] = info.admin_password
    return env


def _wait_ready(config: StackConfig, spec: ServiceSpec, pid: int) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    with _ReadinessProbe(spec) as probe:
        while not probe.ready():
            if not pid_alive(pid):
                raise _failure(
                    f"{spec.script} exited before it was ready", config.log_file(spec.name)
                )
            if time.monotonic() > deadline:
                raise _failure(
                    f"{spec.script} not ready after {READY_TIMEOUT:.0f}s",
                    config.log_file(spec.name),
                )
            time.sleep(POLL_INTERVAL)


class _ReadinessProbe:
    """gRPC services answer the standard health check; the gateway answers GET /readyz."""

    def __init__(self, spec: ServiceSpec) -> None:
        self.spec = spec
        self._close: list[Any] = []
        self.ready: Callable[[], bool]
        # Imported here: `status` and `down` should not pay for grpc.
        if spec.grpc_target is not None:
            import grpc  # type: ignore[import-untyped, unused-ignore]
            from grpc_health.v1 import health_pb2, health_pb2_grpc

            # gRPC's default reconnect backoff starts at 1 s and would dominate start-up.
            channel = grpc.insecure_channel(
                spec.grpc_target,
                options=[
                    ("grpc.initial_reconnect_backoff_ms", 50),
                    ("grpc.min_reconnect_backoff_ms", 50),
                    ("grpc.max_reconnect_backoff_ms", 200),
                ],
            )
            self._close.append(channel)
            stub = health_pb2_grpc.HealthStub(channel)
            request = health_pb2.HealthCheckRequest(service="")
            serving = health_pb2.HealthCheckResponse.SERVING

            def grpc_ready() -> bool:
                try:
                    return bool(stub.Check(request, timeout=1.0).status == serving)
                except grpc.RpcError:
                    return False

            self.ready = grpc_ready
        else:
            import httpx

            client = httpx.Client(timeout=1.0)
            self._close.append(client)
            url = f"http://127.0.0.1:{spec.http_port}/readyz"

            def http_ready() -> bool:
                try:
                    return client.get(url).status_code == 200
                except httpx.TransportError:
                    return False

            self.ready = http_ready

    def __enter__(self) -> "_ReadinessProbe":
        return self

    def __exit__(self, *exc: object) -> None:
        for resource in self._close:
            resource.close()


def _is_service_process(pid: int, spec: ServiceSpec) -> bool:
    return pid_alive(pid) and spec.script in cmdline(pid)


def _results(futures: list[Future[None]]) -> None:
    # Wait for all before raising: a half-started sibling would otherwise go unrecorded.
    errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error


def _failure(message: str, log_file: Path) -> StackError:
    error = StackError(message, log_file)
    # Printed here too: callers such as pytest may show only the first line of an error.
    print(error, file=sys.stderr, flush=True)
    return error


@contextlib.contextmanager
def _open_log(path: Path, what: str) -> Iterator[BinaryIO]:
    """Append to a service log, marking where this run starts (tails then show this run)."""
    with path.open("ab") as file:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        file.write(f"\n=== crm-devstack: {what} at {stamp} ===\n".encode())
        file.flush()
        yield file


def _watch(config: StackConfig) -> None:
    """Block until interrupted, saying once when a part of the stack dies on its own."""
    reported: set[str] = set()
    while True:
        time.sleep(1.0)
        for name, alive in status(config).items():
            if not alive and name not in reported:
                reported.add(name)
                print(f"!! {name} is no longer running; see {config.log_file(name)}", flush=True)


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


# --- servers -------------------------------------------------------------------------------


def _postgres(config: StackConfig) -> PostgresServer:
    return PostgresServer(
        config.postgres_dir,
        config.postgres_port,
        durable=True,
        log_file=config.log_file("postgres"),
    )


def _create_databases(config: StackConfig) -> None:
    server = _postgres(config)
    passwords = _secrets(config)["databases"]

    async def create_all() -> None:
        for spec in config.services:
            await server.create_database(spec.database, spec.database, passwords[spec.database])

    asyncio.run(create_all())


def _start_nats(config: StackConfig, state: "_State") -> None:
    if _nats_alive(state):
        return
    server = NatsServer(
        config.nats_dir,
        config.nats_port,
        config.nats_monitor_port,
        log_file=config.log_file("nats"),
    )
    server.start()
    state.set_nats_pid(server.pid)


def _nats_alive(state: "_State") -> bool:
    pid = state.nats_pid()
    return pid is not None and _nats_process(pid)


def _nats_process(pid: int) -> bool:
    return pid_alive(pid) and "nats-server" in cmdline(pid)


# --- files in the state directory ----------------------------------------------------------


def _make_state_dirs(config: StackConfig) -> None:
    for directory in (config.state_dir, config.logs_dir, config.traces_dir):
        directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            # As root PostgreSQL runs as nobody, which must reach its data dir and its log.
            directory.chmod(directory.stat().st_mode | 0o711)


def _secrets(config: StackConfig) -> dict[str, Any]:
    """Shared secrets and per-service database passwords, generated once and then kept."""
    data: dict[str, Any] = _read_json(config.secrets_file) or {}
    before = json.dumps(data, sort_keys=True)
    data.setdefault("principal_secret", secrets.token_urlsafe(32))
    data.setdefault("jwt_secret", secrets.token_urlsafe(32))
    databases = data.setdefault("databases", {})
    for spec in config.services:
        databases.setdefault(spec.database, secrets.token_urlsafe(24))
    if json.dumps(data, sort_keys=True) != before:
        _write_private_json(config.secrets_file, data)
    return data


def _admin_credentials(
    config: StackConfig, env: Mapping[str, str] | None = None
) -> tuple[str, str]:
    env = os.environ if env is None else env
    email, password = env.get(ADMIN_EMAIL_ENV), env.get(ADMIN_PASSWORD_ENV)
    if email and password:
        return email, password
    stored = _read_json(config.admin_file)
    if stored:
        return str(stored["email"]), str(stored["password"])
    email, password = ADMIN_EMAIL, secrets.token_urlsafe(16)
    _write_private_json(config.admin_file, {"email": email, "password": password})
    return email, password


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return data


def _write_private_json(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 before anything is written, then renamed over: never readable by others,
    # never half-written.
    temporary = path.with_suffix(".tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(data, file, indent=2)
    temporary.replace(path)


class _State:
    """`state.json`: the pids and ports of what we started; the only thing `down` trusts."""

    _lock = threading.Lock()

    def __init__(self, config: StackConfig) -> None:
        self.path = config.state_file
        self.config = config

    def service_pids(self) -> dict[str, int]:
        services = self._load().get("services", {})
        return {name: int(entry["pid"]) for name, entry in services.items()}

    def set_service(self, spec: ServiceSpec, pid: int) -> None:
        ports = {"grpc_port": spec.grpc_port, "metrics_port": spec.metrics_port}
        ports["http_port"] = spec.http_port
        with self._lock:
            data = self._load()
            data.setdefault("services", {})[spec.name] = {"pid": pid, **ports}
            self._save(data)

    def forget_services(self) -> None:
        with self._lock:
            data = self._load()
            data["services"] = {}
            self._save(data)

    def nats_pid(self) -> int | None:
        pid = self._load().get("nats", {}).get("pid")
        return None if pid is None else int(pid)

    def set_nats_pid(self, pid: int | None) -> None:
        with self._lock:
            data = self._load()
            data["nats"] = {
                "pid": pid,
                "port": self.config.nats_port,
                "monitor_port": self.config.nats_monitor_port,
            }
            self._save(data)

    def _load(self) -> dict[str, Any]:
        return _read_json(self.path) or {}

    def _save(self, data: dict[str, Any]) -> None:
        if not self.path.parent.exists():
            return  # `down` of a stack that never ran: nothing to record
        # For people reading the file; PostgreSQL itself is found through its postmaster.pid.
        postgres_pid = _postgres(self.config).postmaster_pid()
        data["postgres"] = {"port": self.config.postgres_port, "pid": postgres_pid}
        data["port_offset"] = self.config.port_offset
        _write_private_json(self.path, data)
