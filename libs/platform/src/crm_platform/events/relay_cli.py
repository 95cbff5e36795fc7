"""`python -m crm_platform.events.relay`: one outbox relay as its own process, until
SIGTERM/SIGINT (the services run theirs in-process; this serves operations and fault tests)."""

import argparse
import asyncio
import logging
import signal
from collections.abc import Sequence

from nats.js.client import JetStreamContext

from crm_platform.db.engine import create_engine
from crm_platform.events.connection import connect_nats
from crm_platform.events.relay import OutboxRelay
from crm_platform.events.streams import ensure_service_stream


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m crm_platform.events.relay",
        description="Publish a service's outbox to JetStream until SIGTERM/SIGINT.",
    )
    parser.add_argument("--database-url", required=True, help="postgresql+asyncpg://...")
    parser.add_argument("--nats-url", required=True)
    parser.add_argument("--service", help="also provision this service's stream on connect")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument("--metrics-port", type=int, help="serve Prometheus metrics here")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    engine = create_engine(args.database_url, pool_size=2)
    nc = await connect_nats(args.nats_url, name="crm-outbox-relay")
    service: str | None = args.service

    async def provision(js: JetStreamContext) -> None:
        if service:
            await ensure_service_stream(js, service)

    relay = OutboxRelay(
        engine,
        nc,
        batch_size=args.batch_size,
        poll_interval=args.poll_interval,
        on_connect=provision,
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, relay.stop)
    try:
        await relay.run()
    finally:
        await nc.close()
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(args.metrics_port, addr="127.0.0.1")
    asyncio.run(_serve(args))
