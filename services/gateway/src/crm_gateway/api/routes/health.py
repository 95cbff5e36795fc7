"""Probes and metrics: `/healthz` (alive), `/readyz` (dependencies answer), `/metrics`."""

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from crm_gateway.api import session_schemas
from crm_gateway.api.deps import GatewayServices
from crm_gateway.api.problems import problem
from crm_gateway.api.routes import common
from crm_gateway.api.routes.common import problems
from crm_platform.db.pool_metrics import POOLS
from crm_platform.telemetry.metrics import exposition

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=session_schemas.Alive, summary="The process is alive")
async def healthz() -> Response:
    return common.json_response({"status": "alive"})


@router.get(
    "/readyz",
    response_model=session_schemas.Ready,
    responses=problems(503),
    summary="The database and every downstream service answer",
)
async def readyz(services: GatewayServices) -> Response:
    checks = await services.readiness()
    failed = {name: why for name, why in checks.items() if why is not None}
    if failed:
        detail = "; ".join(f"{name}: {why}" for name, why in sorted(failed.items()))
        return problem(503, f"not ready: {detail}")
    return common.json_response({"status": "ready", "checks": dict.fromkeys(checks, "ok")})


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(exposition(POOLS), media_type=CONTENT_TYPE_LATEST)
