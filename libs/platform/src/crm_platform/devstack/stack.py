"""What the local stack is made of and where it listens; nothing here starts anything."""

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

# Away from the standard ports (5432, 4222, 8222) so a system PostgreSQL or NATS can coexist.
POSTGRES_PORT = 15432
NATS_PORT = 14222
NATS_MONITOR_PORT = 18222

PORT_OFFSET_ENV = "CRM_DEVSTACK_PORT_OFFSET"
STATE_DIR_ENV = "CRM_DEVSTACK_DIR"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    grpc_port: int | None
    metrics_port: int | None
    http_port: int | None

    @property
    def env_prefix(self) -> str:
        """`service-desk` reads `CRM_SERVICE_DESK_*`."""
        return f"CRM_{self.name.upper().replace('-', '_')}_"

    @property
    def script(self) -> str:
        return f"crm-{self.name}"

    @property
    def database(self) -> str:
        """Name of both the service's database and its role."""
        return f"crm_{self.name.replace('-', '_')}"

    @property
    def grpc_target(self) -> str | None:
        return None if self.grpc_port is None else f"127.0.0.1:{self.grpc_port}"

    @property
    def metrics_url(self) -> str | None:
        # The gateway serves /metrics on its HTTP port rather than on a port of its own.
        port = self.metrics_port or self.http_port
        return None if port is None else f"http://127.0.0.1:{port}/metrics"

    def shifted(self, offset: int) -> "ServiceSpec":
        def shift(port: int | None) -> int | None:
            return None if port is None else port + offset

        return replace(
            self,
            grpc_port=shift(self.grpc_port),
            metrics_port=shift(self.metrics_port),
            http_port=shift(self.http_port),
        )


# Start order: the gateway needs the others' gRPC endpoints, so it comes last.
SERVICES: list[ServiceSpec] = [
    ServiceSpec("customer", grpc_port=50061, metrics_port=9561, http_port=None),
    ServiceSpec("sales", grpc_port=50062, metrics_port=9562, http_port=None),
    ServiceSpec("gateway", grpc_port=None, metrics_port=None, http_port=8080),
]


@dataclass(frozen=True)
class StackConfig:
    state_dir: Path
    port_offset: int = 0
    services: tuple[ServiceSpec, ...] = field(default_factory=lambda: tuple(SERVICES))
    # Where the `crm-<name>` console scripts are: this interpreter's venv.
    bin_dir: Path = field(default_factory=lambda: Path(sys.executable).parent)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> "StackConfig":
        env = os.environ if env is None else env
        offset = int(env.get(PORT_OFFSET_ENV) or 0)
        default_dir = (cwd or Path.cwd()) / ".devstack"
        state_dir = Path(env.get(STATE_DIR_ENV) or default_dir).absolute()
        return cls(
            state_dir=state_dir,
            port_offset=offset,
            services=tuple(spec.shifted(offset) for spec in SERVICES),
        )

    @property
    def postgres_port(self) -> int:
        return POSTGRES_PORT + self.port_offset

    @property
    def nats_port(self) -> int:
        return NATS_PORT + self.port_offset

    @property
    def nats_monitor_port(self) -> int:
        return NATS_MONITOR_PORT + self.port_offset

    @property
    def grpc_services(self) -> tuple[ServiceSpec, ...]:
        return tuple(spec for spec in self.services if spec.grpc_port is not None)

    @property
    def gateway(self) -> ServiceSpec:
        return next(spec for spec in self.services if spec.name == "gateway")

    def all_ports(self) -> list[int]:
        ports = [self.postgres_port, self.nats_port, self.nats_monitor_port]
        for spec in self.services:
            ports += [p for p in (spec.grpc_port, spec.metrics_port, spec.http_port) if p]
        return ports

    # Layout of the state directory.
    @property
    def postgres_dir(self) -> Path:
        return self.state_dir / "postgres"

    @property
    def nats_dir(self) -> Path:
        return self.state_dir / "nats"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def traces_dir(self) -> Path:
        return self.state_dir / "traces"

    @property
    def secrets_file(self) -> Path:
        return self.state_dir / "secrets.json"

    @property
    def admin_file(self) -> Path:
        return self.state_dir / "admin.json"

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    def log_file(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"
