"""The OpenAPI document, with errors documented as what they are: problem+json."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from crm_gateway.api.idempotency import document_idempotency
from crm_gateway.api.problems import MEDIA_TYPE

_PROBLEM = {"schema": {"$ref": "#/components/schemas/Problem"}}
# FastAPI's own validation error shapes; our 422 is a Problem instead.
_UNUSED = ("HTTPValidationError", "ValidationError")


def problem_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        document_idempotency(schema.get("paths", {}))
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                _problem_content(operation.get("responses", {}))
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in _UNUSED:
            components.pop(name, None)
        app.openapi_schema = schema
    return app.openapi_schema


def _problem_content(responses: dict[str, Any]) -> None:
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400:
            response["content"] = {MEDIA_TYPE: _PROBLEM}
