"""What a running stack offers: its addresses and credentials, and the banner that shows them."""

from dataclasses import dataclass
from pathlib import Path

from crm_platform.devstack.servers import postgres
from crm_platform.devstack.stack import StackConfig
from crm_platform.devstack.state import admin_credentials, shared_secrets


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


def stack_info(config: StackConfig) -> StackInfo:
    """The stack's addresses and credentials (creating the secrets on first use)."""
    shared = shared_secrets(config)
    email, password = admin_credentials(config)
    server = postgres(config)
    gateway = config.gateway
    return StackInfo(
        gateway_url=f"http://127.0.0.1:{gateway.http_port}",
        admin_email=email,
        admin_password=password,
        state_dir=config.state_dir,
        grpc_targets={s.name: s.grpc_target for s in config.services if s.grpc_target},
        metrics_urls={s.name: s.metrics_url for s in config.services if s.metrics_url},
        database_urls={
            s.name: server.url(s.database, s.database, shared["databases"][s.database])
            for s in config.services
        },
        principal_secret=shared["principal_secret"],
        jwt_secret=shared["jwt_secret"],
        postgres_port=config.postgres_port,
        postgres_url=server.url("postgres"),
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
