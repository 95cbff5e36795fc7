"""Start, watch and stop the local stack: one PostgreSQL, one NATS, every service.

Everything started here is detached (own session) and recorded in `<state>/state.json`, so
`down` from another process stops exactly what `up` started and nothing else.

This module holds the operations; the parts live beside it: `state` (the state directory's
files), `servers` (PostgreSQL and NATS), `services` and `readiness` (the service processes),
`info` (addresses and credentials) and `errors`.
"""

import signal
import time
from dataclasses import dataclass

from crm_platform.devstack.errors import StackError
from crm_platform.devstack.info import StackInfo, banner, stack_info
from crm_platform.devstack.servers import (
    create_databases,
    is_nats_process,
    new_nats,
    postgres,
    recorded_nats,
)
from crm_platform.devstack.services import ServiceStarter, is_service_process, service_environment
from crm_platform.devstack.stack import StackConfig
from crm_platform.devstack.state import State, make_state_dirs, shared_secrets
from crm_platform.testing.processes import cmdline, pid_alive, send, terminate, wait_gone

# Re-exported: callers import the whole devstack API from here.
__all__ = [
    "RunningStack",
    "StackError",
    "StackInfo",
    "banner",
    "down",
    "run",
    "service_environment",
    "stack_info",
    "start_nats",
    "start_postgres",
    "status",
    "stop_nats",
    "stop_postgres",
    "up",
]

STOP_TIMEOUT = 10.0


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

    def kill_service(self, name: str) -> None:
        """SIGKILL one service, as a crash would; `restart()` brings it back."""
        pid = State(self.config).service_pids()[name]
        if pid_alive(pid) and f"crm-{name}" in cmdline(pid):
            send(pid, signal.SIGKILL)
            wait_gone([pid], STOP_TIMEOUT)

    def restart(self) -> None:
        """Start whatever is not running (`up` is idempotent)."""
        up(self.config)


def up(config: StackConfig | None = None) -> StackInfo:
    """Bring every part up (only the parts not already running) and wait until all are ready."""
    config = config or StackConfig.from_env()
    make_state_dirs(config)
    state = State(config)
    info = stack_info(config)

    started = ServiceStarter(config, state, info)
    # Before starting anything: a missing script found late would leave half a stack.
    for spec in config.services:
        started.script(spec)
    start_postgres(config)
    if not all(started.is_alive(spec) for spec in config.services):
        create_databases(config, shared_secrets(config)["databases"])
    _start_nats(config, state)
    started.start_all()
    return info


def down(config: StackConfig | None = None) -> None:
    """Stop what `up` recorded: services, then NATS, then PostgreSQL. Safe to repeat."""
    config = config or StackConfig.from_env()
    if not config.state_dir.exists():
        return
    state = State(config)
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
    state = State(config)
    result = {"postgres": postgres(config).is_running(), "nats": _nats_alive(state)}
    pids = state.service_pids()
    for spec in config.services:
        pid = pids.get(spec.name)
        result[spec.name] = pid is not None and is_service_process(pid, spec)
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
    server = postgres(config)
    if kill:
        server.kill()
    else:
        server.stop("fast")


def start_postgres(config: StackConfig) -> None:
    make_state_dirs(config)
    postgres(config).start()


def stop_nats(config: StackConfig, *, kill: bool = False) -> None:
    state = State(config)
    pid = state.nats_pid()
    if pid is not None and is_nats_process(pid):
        if kill:
            recorded_nats(config, pid).kill()
        else:
            terminate([pid], STOP_TIMEOUT)
    state.set_nats_pid(None)


def start_nats(config: StackConfig) -> None:
    make_state_dirs(config)
    _start_nats(config, State(config))


def _start_nats(config: StackConfig, state: State) -> None:
    if _nats_alive(state):
        return
    server = new_nats(config)
    server.start()
    state.set_nats_pid(server.pid)


def _nats_alive(state: State) -> bool:
    pid = state.nats_pid()
    return pid is not None and is_nats_process(pid)


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
