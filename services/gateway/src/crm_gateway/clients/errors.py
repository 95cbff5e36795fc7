"""gRPC status of a failed call -> the error the HTTP layer maps to a problem (DESIGN §4)."""

from collections.abc import Callable, Mapping

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from crm_gateway.errors import DownstreamFailure, RateLimited, ServiceUnavailable
from crm_platform import errors
from crm_platform.grpc.errors import MERGED, MERGED_INTO

STALE_VERSION = "STALE_VERSION"

Translate = Callable[[str, status_pb2.Status | None], Exception]


def translate(error: grpc.aio.AioRpcError, service: str) -> Exception:
    """The exception to raise for `error`, a failed call to `service`."""
    code = error.code()
    message = error.details() or code.name.lower()
    try:
        details = rpc_status.from_call(error)
    except ValueError:  # details disagree with the status line: ignore them
        details = None
    builder = _BUILDERS.get(code)
    if builder is None:
        return DownstreamFailure(f"{service} answered {code.name}: {message}")
    return builder(message, details)


def _violations(details: status_pb2.Status | None) -> list[errors.FieldViolation]:
    found: list[errors.FieldViolation] = []
    for packed in details.details if details else ():
        if packed.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            packed.Unpack(bad_request)
            found += [
                errors.FieldViolation(_API_NAMES.get(v.field, v.field), v.description)
                for v in bad_request.field_violations
            ]
    return found


# Request fields the public API names otherwise: a problem names what the client sent.
_API_NAMES = {"page_token": "cursor", "page_size": "limit"}


def _reasons(details: status_pb2.Status | None) -> set[str]:
    return set(_infos(details))


def _infos(details: status_pb2.Status | None) -> dict[str, Mapping[str, str]]:
    """The ErrorInfo details: reason -> metadata."""
    found: dict[str, Mapping[str, str]] = {}
    for packed in details.details if details else ():
        if packed.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            packed.Unpack(info)
            found[info.reason] = dict(info.metadata)
    return found


def _not_found(message: str, details: status_pb2.Status | None) -> Exception:
    merged = _infos(details).get(MERGED, {})
    return errors.NotFound(message, merged_into=merged.get(MERGED_INTO, ""))


def _invalid(message: str, details: status_pb2.Status | None) -> Exception:
    violations = _violations(details)
    error = errors.InvalidArgument(violations)
    if not violations:
        error.message = message  # keep the service's own words when it named no field
    return error


def _precondition(message: str, details: status_pb2.Status | None) -> Exception:
    if STALE_VERSION in _reasons(details):
        return errors.StaleVersion(message)
    return errors.PreconditionFailed(message)


def _unavailable(message: str, details: status_pb2.Status | None) -> Exception:
    return ServiceUnavailable(message)


_BUILDERS: dict[grpc.StatusCode, Translate] = {
    grpc.StatusCode.INVALID_ARGUMENT: _invalid,
    grpc.StatusCode.OUT_OF_RANGE: _invalid,
    grpc.StatusCode.NOT_FOUND: _not_found,
    grpc.StatusCode.ALREADY_EXISTS: lambda message, _: errors.AlreadyExists(message),
    grpc.StatusCode.ABORTED: lambda message, _: errors.PreconditionFailed(message),
    grpc.StatusCode.FAILED_PRECONDITION: _precondition,
    grpc.StatusCode.PERMISSION_DENIED: lambda message, _: errors.PermissionDenied(message),
    grpc.StatusCode.UNAUTHENTICATED: lambda message, _: errors.Unauthenticated(message),
    grpc.StatusCode.RESOURCE_EXHAUSTED: lambda message, _: RateLimited(message),
    grpc.StatusCode.UNAVAILABLE: _unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: _unavailable,
    # The caller went away or the call was cut short; retrying is the remedy, not a bug.
    grpc.StatusCode.CANCELLED: _unavailable,
}
