"""`crm-gateway migrate | serve`."""

import atexit
from pathlib import Path

import typer
import uvicorn
from fastapi import FastAPI

from crm_gateway.bootstrap import build_app
from crm_gateway.config import GatewaySettings
from crm_platform.db.migrations import upgrade_to_head
from crm_platform.gc_tuning import collect_less
from crm_platform.telemetry import setup_telemetry
from crm_platform.telemetry.metrics import shared_metrics
from crm_platform.telemetry.traces import shutdown_tracing

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

app = typer.Typer(add_completion=False, no_args_is_help=True)


@app.command()
def migrate() -> None:
    """Bring the gateway's database schema (users) to the latest migration."""
    upgrade_to_head(MIGRATIONS, GatewaySettings().database_url)


@app.command()
def serve() -> None:
    """Serve the REST API until SIGINT/SIGTERM, in `CRM_GATEWAY_WORKERS` processes."""
    settings = GatewaySettings()
    settings.require_secrets()  # refuse before any worker starts
    with shared_metrics(settings.workers):
        uvicorn.run(
            f"{__name__}:worker_app",
            factory=True,
            host=settings.http_host,
            port=settings.http_port,
            workers=settings.workers,
            loop="uvloop",
            http="httptools",
            access_log=False,  # RED metrics and traces cover requests; a line each costs CPU
            log_config=None,  # keep the JSON logging each worker sets up
            server_header=False,
            lifespan="on",
        )


def worker_app() -> FastAPI:
    """The app one worker process serves (uvicorn calls this in each worker)."""
    settings = GatewaySettings()
    setup_telemetry(
        service_name=settings.service_name,
        log_level=settings.log_level,
        spans_file=settings.otel_spans_file,
    )
    atexit.register(shutdown_tracing)
    app = build_app(settings)
    collect_less()
    return app


if __name__ == "__main__":
    app()
