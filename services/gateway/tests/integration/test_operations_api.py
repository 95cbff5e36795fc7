"""What operators rely on: problems for every failure, probes, metrics, traces, OpenAPI."""

import secrets
import uuid

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from crm_platform.testing.ports import free_port

from .conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Gateway,
    assert_problem,
    running_gateway,
    settings_for,
)

pytestmark = pytest.mark.integration


async def test_the_trace_goes_on_to_the_service(gateway: Gateway) -> None:
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())  # what setup_telemetry does in `serve`
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    auth = await gateway.login()
    reply = await gateway.client.get(
        "/api/v1/accounts", headers={**auth, "traceparent": traceparent}
    )
    assert reply.status_code == 200
    sent = gateway.fake.metadata[-1]["traceparent"]
    assert sent.split("-")[1] == trace_id
    assert sent != traceparent  # a child: the gateway's own spans sit in between


async def test_a_failing_service_is_a_500_problem(gateway: Gateway) -> None:
    reply = await gateway.client.get("/api/v1/accounts/crash", headers=await gateway.login())
    assert_problem(reply, 500)


async def test_unknown_routes_and_methods_are_problems(gateway: Gateway) -> None:
    assert_problem(await gateway.client.get("/api/v1/nowhere"), 404)
    reply = await gateway.client.delete("/healthz")
    assert_problem(reply, 405)
    assert "GET" in reply.headers["allow"]


async def test_health_readiness_and_metrics(gateway: Gateway) -> None:
    assert (await gateway.client.get("/healthz")).status_code == 200
    ready = await gateway.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "customer": "ok", "sales": "ok"}
    auth = await gateway.login()
    await gateway.client.get(f"/api/v1/accounts/{uuid.uuid4()}", headers=auth)
    metrics = (await gateway.client.get("/metrics")).text
    assert (
        'crm_http_requests_total{method="GET",route="/api/v1/accounts/{account_id}",status="404"}'
        in metrics
    )


async def test_openapi_documents_auth_schemes_and_problems(gateway: Gateway) -> None:
    schema = (await gateway.client.get("/openapi.json")).json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert (schemes["apiKeyAuth"]["in"], schemes["apiKeyAuth"]["name"]) == ("header", "X-API-Key")
    patch = schema["paths"]["/api/v1/accounts/{account_id}"]["patch"]
    assert patch["security"] == [{"bearerAuth": []}, {"apiKeyAuth": []}]
    assert "security" not in schema["paths"]["/api/v1/auth/token"]["post"]
    assert {"401", "412", "422", "428", "429", "503", "default"} <= set(patch["responses"])
    assert "application/problem+json" in patch["responses"]["412"]["content"]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            default = operation["responses"]["default"]
            assert "application/problem+json" in default["content"], (method, path)
    docs = await gateway.client.get("/docs")
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text


async def test_a_down_service_is_503_with_retry_after(migrated_database: str) -> None:
    settings = settings_for(migrated_database, f"127.0.0.1:{free_port()}")
    async with running_gateway(settings) as (_, client):
        token = await client.post(
            "/api/v1/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        reply = await client.get(f"/api/v1/accounts/{uuid.uuid4()}", headers=auth)
        assert_problem(reply, 503)
        assert reply.headers["retry-after"] == "1"
        not_ready = await client.get("/readyz")
        assert "customer" in str(assert_problem(not_ready, 503)["detail"])
