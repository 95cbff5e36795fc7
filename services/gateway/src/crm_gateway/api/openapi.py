"""The OpenAPI document, with errors documented as what they are: problem+json.

Every operation documents its own problems (crm_gateway.api.routes.common.problems); the
ones any request can meet (rate limits, an unavailable dependency, a timeout, a body too
large...) are added here, with a `default` problem for the rest. API keys (`X-API-Key`)
are declared as an alternative to bearer tokens wherever a bearer token is accepted.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from crm_gateway.api.idempotency import document_idempotency
from crm_gateway.api.problems import MEDIA_TYPE

_PROBLEM = {"schema": {"$ref": "#/components/schemas/Problem"}}
# FastAPI's own validation error shapes; our 422 is a Problem instead.
_UNUSED = ("HTTPValidationError", "ValidationError")
BEARER = "bearerAuth"
API_KEY = "apiKeyAuth"
API_KEY_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": "X-API-Key",
    "description": "An API key of a partner or ERP system (shown once when it is created).",
}
_EVERYWHERE = {
    "429": "Too many requests; retry after `Retry-After` seconds.",
    "503": "A service or database is unavailable; retry after `Retry-After` seconds.",
}
_DEFAULT = "Any other error (e.g. 405, 413, 415, 500, 504), as a problem."


def problem_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {})
        api_key = _api_key_scheme(components)
        document_idempotency(schema.get("paths", {}))
        for path, path_item in schema.get("paths", {}).items():
            for operation in path_item.values():
                responses = operation.setdefault("responses", {})
                if path.startswith("/api/"):
                    for status, description in _EVERYWHERE.items():
                        responses.setdefault(status, {"description": description})
                responses.setdefault("default", {"description": _DEFAULT})
                _problem_content(responses)
                _accept_api_keys(operation, api_key)
        for name in _UNUSED:
            components.get("schemas", {}).pop(name, None)
        app.openapi_schema = schema
    return app.openapi_schema


def _problem_content(responses: dict[str, Any]) -> None:
    for status, response in responses.items():
        if status == "default" or (status.isdigit() and int(status) >= 400):
            response["content"] = {MEDIA_TYPE: _PROBLEM}


def _api_key_scheme(components: dict[str, Any]) -> str:
    """The name of the X-API-Key scheme: the routes' own once they declare one, else ours."""
    schemes = components.setdefault("securitySchemes", {})
    for name, scheme in schemes.items():
        if scheme.get("type") == "apiKey" and scheme.get("name") == "X-API-Key":
            return str(name)
    schemes[API_KEY] = API_KEY_SCHEME
    return API_KEY


def _accept_api_keys(operation: dict[str, Any], scheme: str) -> None:
    security: list[dict[str, list[str]]] = operation.get("security", [])
    if {BEARER: []} in security and not any(scheme in entry for entry in security):
        security.append({scheme: []})
