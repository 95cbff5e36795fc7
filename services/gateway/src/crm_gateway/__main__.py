"""`crm-gateway migrate | serve`."""

from pathlib import Path

import typer
import uvicorn

from crm_gateway.bootstrap import build_app
from crm_gateway.config import GatewaySettings
from crm_platform.db.migrations import upgrade_to_head
from crm_platform.telemetry import setup_telemetry
from crm_platform.telemetry.traces import shutdown_tracing

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

app = typer.Typer(add_completion=False, no_args_is_help=True)


@app.command()
def migrate() -> None:
    """Bring the gateway's database schema (users) to the latest migration."""
    upgrade_to_head(MIGRATIONS, GatewaySettings().database_url)


@app.command()
def serve() -> None:
    """Serve the REST API until SIGINT/SIGTERM."""
    settings = GatewaySettings()
    setup_telemetry(
        service_name=settings.service_name,
        log_level=settings.log_level,
        spans_file=settings.otel_spans_file,
    )
    config = uvicorn.Config(
        build_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        loop="uvloop",
        http="httptools",
        workers=1,
        access_log=False,  # RED metrics and traces cover requests; a line each costs CPU
        log_config=None,  # keep the JSON logging set up above
        server_header=False,
        lifespan="on",
    )
    try:
        uvicorn.Server(config).run()
    finally:
        shutdown_tracing()


if __name__ == "__main__":
    app()
