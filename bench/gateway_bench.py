"""GET /api/v1/accounts/{id} through the gateway, gRPC and PostgreSQL of the local stack."""

import asyncio
import tempfile
from pathlib import Path

import httpx

from bench.loadgen import LoadResult, run_load
from crm_platform.devstack import launcher
from crm_platform.devstack.stack import StackConfig

CONNECTIONS = 32
PORT_OFFSET = 3000  # away from a `make run` stack on the default ports


def run(*, seconds: float) -> str:
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as state:
        Path(state).chmod(0o755)  # PostgreSQL runs as nobody when we are root
        config = StackConfig.from_env(
            {"CRM_DEVSTACK_DIR": state, "CRM_DEVSTACK_PORT_OFFSET": str(PORT_OFFSET)}
        )
        info = launcher.up(config)
        try:
            result = _measure(info, seconds)
        finally:
            launcher.down(config)
    return (
        "## Gateway: `GET /api/v1/accounts/{id}`\n\n"
        f"Closed loop, {CONNECTIONS} keep-alive connections, {seconds:.0f} s after a 3 s "
        "warm-up; one gateway process, one customer process, tracing on (spans to file).\n\n"
        "| figure | value | target |\n|---|---|---|\n"
        f"| requests/s | {result.rps:,.0f} | >= 2,500 |\n"
        f"| p50 | {result.percentile(50):.1f} ms | |\n"
        f"| p99 | {result.percentile(99):.1f} ms | < 50 ms |\n"
        f"| errors | {result.errors} of {result.requests} | 0 |"
    )


def _measure(info: launcher.StackInfo, seconds: float) -> LoadResult:
    with httpx.Client(base_url=info.gateway_url) as client:
        token = client.post(
            "/api/v1/auth/token",
            data={"username": info.admin_email, "password": info.admin_password},
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        account = client.post("/api/v1/accounts", json={"name": "Bench"}, headers=headers)
        account.raise_for_status()
    port = int(info.gateway_url.rsplit(":", 1)[1])
    path = f"/api/v1/accounts/{account.json()['id']}"

    async def load(duration: float) -> LoadResult:
        return await run_load(
            host="127.0.0.1",
            port=port,
            path=path,
            headers=headers,
            connections=CONNECTIONS,
            seconds=duration,
        )

    asyncio.run(load(3))
    return asyncio.run(load(seconds))
