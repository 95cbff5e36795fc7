"""Files in the state directory: what `up` started (`state.json`) and the generated credentials.

Secrets and the admin password are generated on first use and then kept: the databases' roles
and the gateway's admin were created with them.
"""

import json
import os
import secrets
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crm_platform.devstack.servers import postgres
from crm_platform.devstack.stack import ServiceSpec, StackConfig

ADMIN_EMAIL = "admin@crm.local"
ADMIN_EMAIL_ENV = "CRM_BOOTSTRAP_ADMIN_EMAIL"
ADMIN_PASSWORD_ENV = "CRM_BOOTSTRAP_ADMIN_PASSWORD"  # noqa: S105 - a variable name


def make_state_dirs(config: StackConfig) -> None:
    for directory in (config.state_dir, config.logs_dir, config.traces_dir):
        directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            # As root PostgreSQL runs as nobody, which must reach its data dir and its log.
            directory.chmod(directory.stat().st_mode | 0o711)


def shared_secrets(config: StackConfig) -> dict[str, Any]:
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


def admin_credentials(config: StackConfig, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The environment's admin if it names one, else the stored one, else a new one."""
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


class State:
    """`state.json`: the pids and ports of what we started; the only thing `down` trusts."""

    # One lock for all instances: each rewrites the whole file, and services are started (and
    # recorded) from parallel threads.
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
        postgres_pid = postgres(self.config).postmaster_pid()
        data["postgres"] = {"port": self.config.postgres_port, "pid": postgres_pid}
        data["port_offset"] = self.config.port_offset
        _write_private_json(self.path, data)


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
