"""Domain errors -> gRPC status codes, with field violations in google.rpc.BadRequest."""

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from crm_platform import errors

STATUS_DETAILS_KEY = "grpc-status-details-bin"
# ErrorInfo of a NOT_FOUND record that was merged into another, named in its metadata.
MERGED = "MERGED"
MERGED_INTO = "merged_into"

_CODES: list[tuple[type[errors.DomainError], grpc.StatusCode]] = [
    (errors.NotFound, grpc.StatusCode.NOT_FOUND),
    (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (errors.StaleVersion, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.PreconditionFailed, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (errors.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
]


def status_code_for(error: errors.DomainError) -> grpc.StatusCode:
    for error_type, code in _CODES:
        if isinstance(error, error_type):
            return code
    return grpc.StatusCode.FAILED_PRECONDITION


def rich_status(code: grpc.StatusCode, error: errors.DomainError) -> status_pb2.Status:
    status = status_pb2.Status(code=code.value[0], message=error.message)
    if isinstance(error, errors.StaleVersion):
        # Lets the gateway tell a stale If-Match (412) from other failed preconditions.
        info = error_details_pb2.ErrorInfo(reason="STALE_VERSION", domain="crm")
        status.details.append(_pack(info))
    if isinstance(error, errors.NotFound) and error.merged_into:
        info = error_details_pb2.ErrorInfo(
            reason=MERGED, domain="crm", metadata={MERGED_INTO: error.merged_into}
        )
        status.details.append(_pack(info))
    if isinstance(error, errors.InvalidArgument):
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in error.violations
            ]
        )
        status.details.append(_pack(bad_request))
    return status


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed
