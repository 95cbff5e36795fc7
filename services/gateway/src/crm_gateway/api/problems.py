"""RFC 9457 problem details: every error the API answers, in one shape.

`type` is a URN per kind of problem (stable, not meant to be dereferenced), `title` the
HTTP reason phrase, `detail` what went wrong this time, and `errors` lists field paths for
validation failures.
"""

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, cast

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.responses import Response

from crm_gateway.api.json_body import nested_too_deep
from crm_gateway.errors import (
    DownstreamFailure,
    PreconditionRequired,
    RateLimited,
    ServiceUnavailable,
)
from crm_platform import errors

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_SECONDS = "1"

_KINDS: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad Request"),
    401: ("unauthenticated", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not Found"),
    405: ("method-not-allowed", "Method Not Allowed"),
    406: ("not-acceptable", "Not Acceptable"),
    409: ("conflict", "Conflict"),
    412: ("stale-version", "Precondition Failed"),
    413: ("too-large", "Content Too Large"),
    415: ("unsupported-media-type", "Unsupported Media Type"),
    422: ("validation", "Unprocessable Content"),
    428: ("precondition-required", "Precondition Required"),
    429: ("rate-limited", "Too Many Requests"),
    500: ("internal", "Internal Server Error"),
    503: ("unavailable", "Service Unavailable"),
    504: ("timeout", "Gateway Timeout"),
}

# Most specific first: StaleVersion before other failed preconditions, and so on.
_STATUS: list[tuple[type[Exception], int]] = [
    (errors.InvalidArgument, 422),
    (errors.NotFound, 404),
    (errors.AlreadyExists, 409),
    (errors.StaleVersion, 412),
    (errors.PreconditionFailed, 409),
    (errors.PermissionDenied, 403),
    (errors.Unauthenticated, 401),
    (PreconditionRequired, 428),
    (RateLimited, 429),
    (ServiceUnavailable, 503),
]


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending field, e.g. `tags.0`.")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem details object (`application/problem+json`)."""

    type: str = Field(examples=["urn:crm:problem:not-found"])
    title: str = Field(examples=["Not Found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["account 0190f1c2-... not found"])
    errors: list[FieldError] | None = Field(
        default=None, description="Present on validation problems (422)."
    )
    merged_into: str | None = Field(
        default=None,
        description="Present on a 404 of a record merged into another: the id of that one.",
    )


def problem(
    status: int,
    detail: str,
    *,
    field_errors: Sequence[Mapping[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> Response:
    slug, title = _KINDS.get(status, ("http-error", "Error"))
    body: dict[str, Any] = {
        "type": f"urn:crm:problem:{slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if field_errors is not None:
        body["errors"] = list(field_errors)
    body.update(extensions or {})
    extra = dict(headers or {})
    if status == 401:
        extra.setdefault("WWW-Authenticate", "Bearer")
    if status in (429, 503):
        extra.setdefault("Retry-After", RETRY_AFTER_SECONDS)
    return Response(json.dumps(body).encode(), status, extra, media_type=MEDIA_TYPE)


def status_for(error: Exception) -> int:
    for error_type, status in _STATUS:
        if isinstance(error, error_type):
            return status
    return 500


def domain_problem(error: errors.DomainError) -> Response:
    status = status_for(error)
    if isinstance(error, errors.InvalidArgument):
        fields = [{"field": v.field, "message": v.description} for v in error.violations]
        return problem(status, error.message, field_errors=fields)
    if isinstance(error, errors.NotFound) and error.merged_into:
        return problem(status, error.message, extensions={"merged_into": error.merged_into})
    return problem(status, error.message, headers=getattr(error, "headers", None))


def validation_problem(error: RequestValidationError) -> Response:
    fields = [
        {"field": _field_path(tuple(e.get("loc", ()))), "message": str(e.get("msg", ""))}
        for e in error.errors()
    ]
    return problem(422, "the request is not valid", field_errors=fields)


def _field_path(loc: tuple[Any, ...]) -> str:
    """`("body", "tags", 0)` -> `tags.0`; query and header names keep their location."""
    parts = loc[1:] if len(loc) > 1 and loc[0] == "body" else loc
    return ".".join(str(part) for part in parts)


# Starlette picks a handler by the exception's type, so each handler knows what it gets.
async def _on_domain_error(request: Request, error: Exception) -> Response:
    return domain_problem(cast(errors.DomainError, error))


async def _on_validation_error(request: Request, error: Exception) -> Response:
    return validation_problem(cast(RequestValidationError, error))


async def _on_http_error(request: Request, error: Exception) -> Response:
    http_error = cast(HTTPException, error)
    if isinstance(http_error.__cause__, RecursionError):
        # FastAPI's parser gave up on a body nested past Python's recursion limit:
        # answered as sound_json_body answers one nested less deep.
        return domain_problem(errors.InvalidArgument([nested_too_deep()]))
    return problem(http_error.status_code, str(http_error.detail), headers=http_error.headers)


async def _on_downstream_failure(request: Request, error: Exception) -> Response:
    log.error("downstream failure", extra={"error": str(error), "path": request.url.path})
    return problem(500, "a downstream service failed; this is a bug and has been logged")


EXCEPTION_HANDLERS = {
    errors.DomainError: _on_domain_error,
    RequestValidationError: _on_validation_error,
    HTTPException: _on_http_error,
    DownstreamFailure: _on_downstream_failure,
}
