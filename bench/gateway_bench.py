"""GET /api/v1/accounts/{id} through the gateway, gRPC and PostgreSQL of the local stack."""

import asyncio
import tempfile
from pathlib import Path

import httpx

from bench.loadgen import LoadResult, run_load
from crm_platform.devstack import launcher
from crm_platform.devstack.stack import StackConfig

CONNECTIONS = 32
LIGHT_CONNECTIONS = 4
PORT_OFFSET = 3000  # away from a `make run` stack on the default ports


def run(*, seconds: float) -> str:
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as state:
        Path(state).chmod(0o755)  # PostgreSQL runs as nobody when we are root
        config = StackConfig.from_env(
            {"CRM_DEVSTACK_DIR": state, "CRM_DEVSTACK_PORT_OFFSET": str(PORT_OFFSET)}
        )
        info = launcher.up(config)
        try:
            saturated = _measure(info, seconds, CONNECTIONS)
            light = _measure(info, seconds, LIGHT_CONNECTIONS)
        finally:
            launcher.down(config)
    return (
        "## Gateway: `GET /api/v1/accounts/{id}`\n\n"
        f"Closed loop over keep-alive connections, {seconds:.0f} s after a 3 s warm-up; one "
        "gateway process, one customer process, tracing on (spans to file). With "
        f"{CONNECTIONS} connections the stack is saturated (throughput; latency is mostly "
        f"queueing); with {LIGHT_CONNECTIONS} it is not (latency of one request).\n\n"
        f"| figure | {CONNECTIONS} connections | {LIGHT_CONNECTIONS} connections | target |\n"
        "|---|---|---|---|\n"
        f"| requests/s | {saturated.rps:,.0f} | {light.rps:,.0f} | >= 2,500 |\n"
        f"| p50 | {saturated.percentile(50):.1f} ms | {light.percentile(50):.1f} ms | |\n"
        f"| p99 | {saturated.percentile(99):.1f} ms | {light.percentile(99):.1f} ms | < 50 ms |\n"
        f"| errors | {saturated.errors} of {saturated.requests} "
        f"| {light.errors} of {light.requests} | 0 |"
    )


def _measure(info: launcher.StackInfo, seconds: float, connections: int) -> LoadResult:
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
            connections=connections,
            seconds=duration,
        )

    asyncio.run(load(3))
    return asyncio.run(load(seconds))
