"""gRPC statuses and domain errors -> RFC 9457 problems with the right HTTP status."""

import json

import grpc
import pytest
from fastapi.exceptions import RequestValidationError

from crm_gateway.api.problems import MEDIA_TYPE, domain_problem, validation_problem
from crm_gateway.clients.errors import translate
from crm_gateway.errors import DownstreamFailure
from crm_platform import errors
from crm_platform.grpc.errors import STATUS_DETAILS_KEY, rich_status


def rpc_error(
    code: grpc.StatusCode, message: str, cause: errors.DomainError | None = None
) -> grpc.aio.AioRpcError:
    """A failed call as the platform's server interceptor sends it, details included."""
    trailing = grpc.aio.Metadata()
    if cause is not None:
        trailing.add(STATUS_DETAILS_KEY, rich_status(code, cause).SerializeToString())
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailing, message)


def answer(error: grpc.aio.AioRpcError) -> tuple[int, dict[str, object], dict[str, str]]:
    translated = translate(error, "customer")
    assert isinstance(translated, errors.DomainError)
    response = domain_problem(translated)
    assert response.media_type == MEDIA_TYPE
    return response.status_code, json.loads(bytes(response.body)), dict(response.headers)


@pytest.mark.parametrize(
    ("code", "cause", "status"),
    [
        (grpc.StatusCode.NOT_FOUND, errors.NotFound("account x not found"), 404),
        (grpc.StatusCode.ALREADY_EXISTS, errors.AlreadyExists("taken"), 409),
        (grpc.StatusCode.FAILED_PRECONDITION, errors.StaleVersion("at version 2"), 412),
        (grpc.StatusCode.FAILED_PRECONDITION, errors.PreconditionFailed("merged"), 409),
        (grpc.StatusCode.PERMISSION_DENIED, errors.PermissionDenied("no"), 403),
        (grpc.StatusCode.UNAUTHENTICATED, errors.Unauthenticated("who?"), 401),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, None, 429),
        (grpc.StatusCode.UNAVAILABLE, None, 503),
        (grpc.StatusCode.DEADLINE_EXCEEDED, None, 503),
    ],
)
def test_status_codes_map_to_http(
    code: grpc.StatusCode, cause: errors.DomainError | None, status: int
) -> None:
    message = cause.message if cause else "try later"
    got_status, body, _ = answer(rpc_error(code, message, cause))
    assert got_status == status
    assert body["status"] == status
    assert body["detail"] == message
    assert str(body["type"]).startswith("urn:crm:problem:")


def test_field_violations_become_field_errors() -> None:
    cause = errors.InvalidArgument([errors.FieldViolation("email", "is not an email address")])
    status, body, _ = answer(rpc_error(grpc.StatusCode.INVALID_ARGUMENT, cause.message, cause))
    assert status == 422
    assert body["errors"] == [{"field": "email", "message": "is not an email address"}]


def test_failed_precondition_without_details_is_a_conflict() -> None:
    status, _, _ = answer(rpc_error(grpc.StatusCode.FAILED_PRECONDITION, "stale?"))
    assert status == 409


@pytest.mark.parametrize("code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED])
def test_retryable_answers_say_when_to_retry(code: grpc.StatusCode) -> None:
    _, _, headers = answer(rpc_error(code, "busy"))
    assert headers["retry-after"] == "1"


def test_unauthenticated_asks_for_a_bearer_token() -> None:
    _, _, headers = answer(rpc_error(grpc.StatusCode.UNAUTHENTICATED, "bad principal"))
    assert headers["www-authenticate"] == "Bearer"


def test_internal_errors_of_a_service_are_bugs_not_domain_errors() -> None:
    translated = translate(rpc_error(grpc.StatusCode.INTERNAL, "boom"), "customer")
    assert isinstance(translated, DownstreamFailure)
    assert "customer" in str(translated)


def test_request_validation_errors_name_body_fields_without_the_body_prefix() -> None:
    error = RequestValidationError(
        [
            {"loc": ("body", "owner"), "msg": "Extra inputs are not permitted", "type": "x"},
            {"loc": ("body", "tags", 0), "msg": "too long", "type": "y"},
            {"loc": ("query", "limit"), "msg": "too big", "type": "z"},
        ]
    )
    response = validation_problem(error)
    body = json.loads(bytes(response.body))
    assert response.status_code == 422
    assert [e["field"] for e in body["errors"]] == ["owner", "tags.0", "query.limit"]


def test_a_problem_names_the_parameter_the_client_sent_not_the_services_field() -> None:
    cause = errors.InvalidArgument(
        [
            errors.FieldViolation("page_token", "is not a valid cursor"),
            errors.FieldViolation("page_size", "must be 1..500"),
            errors.FieldViolation("filter.email", "too long"),
        ]
    )
    status, body, _ = answer(rpc_error(grpc.StatusCode.INVALID_ARGUMENT, cause.message, cause))
    assert status == 422
    assert body["errors"] == [
        {"field": "cursor", "message": "is not a valid cursor"},
        {"field": "limit", "message": "must be 1..500"},
        {"field": "filter.email", "message": "too long"},
    ]
    assert body["detail"] == (
        "cursor: is not a valid cursor; limit: must be 1..500; filter.email: too long"
    )
