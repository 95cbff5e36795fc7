"""`crm-devstack`: the command behind `make run/up/down/status`."""

from typing import Annotated

import typer

from crm_platform.devstack import launcher
from crm_platform.devstack.stack import StackConfig
from crm_platform.testing.postgres import tail

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Run the CRM suite locally: PostgreSQL, NATS, every service and the gateway.",
)


@app.command()
def run() -> None:
    """Start everything, print the URLs and credentials, stop everything on Ctrl-C."""
    try:
        launcher.run(StackConfig.from_env())
    except RuntimeError as error:
        # The failing part's log tail is already printed; a traceback would bury it.
        typer.echo(f"crm-devstack: {_summary(error)}", err=True)
        raise typer.Exit(1) from None


@app.command()
def up() -> None:
    """Start everything in the background (no-op for the parts already running)."""
    config = StackConfig.from_env()
    try:
        info = launcher.up(config)
    except RuntimeError as error:
        typer.echo(f"crm-devstack: {_summary(error)}; stopping what started", err=True)
        # Half a stack is harder to reason about than none: the logs stay for diagnosis.
        launcher.down(config)
        raise typer.Exit(1) from None
    typer.echo(launcher.banner(config, info, foreground=False))


@app.command()
def down() -> None:
    """Stop everything `up` or `run` started."""
    launcher.down(StackConfig.from_env())


@app.command()
def status() -> None:
    """Show which parts are running; exit 1 when any is down."""
    parts = launcher.status(StackConfig.from_env())
    width = max(len(name) for name in parts)
    for name, alive in parts.items():
        typer.echo(f"{name:<{width}}  {'running' if alive else 'DOWN'}")
    if not all(parts.values()):
        raise typer.Exit(1)


@app.command()
def logs(
    name: Annotated[str, typer.Argument(help="customer, sales, gateway, postgres or nats")],
    lines: Annotated[int, typer.Option("--lines", "-n")] = 50,
) -> None:
    """Print the end of one part's log."""
    config = StackConfig.from_env()
    path = config.log_file(name)
    if not path.exists():
        known = sorted(p.stem for p in config.logs_dir.glob("*.log"))
        typer.echo(f"no log {path}; known: {', '.join(known) or 'none yet'}", err=True)
        raise typer.Exit(1)
    typer.echo(tail(path, lines))


def _summary(error: RuntimeError) -> str:
    if isinstance(error, launcher.StackError):
        return error.message
    # PostgresError and NatsError carry their server log after the first line.
    return str(error).splitlines()[0]
