"""Framework-free errors that domain and use-case code raise; the gRPC layer maps them to
status codes (see crm_platform.grpc.errors) and the gateway to problem+json."""

from dataclasses import dataclass, field


class DomainError(Exception):
    """Base of errors that are the caller's fault or a business rule, never a bug."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    def __init__(self, message: str, *, merged_into: str = "") -> None:
        super().__init__(message)
        # The id of the record this one was merged into, when it was: where callers go now.
        self.merged_into = merged_into


class AlreadyExists(DomainError):
    pass


class StaleVersion(DomainError):
    """The caller's expected version is not the current one (optimistic concurrency)."""


class PermissionDenied(DomainError):
    pass


class Unauthenticated(DomainError):
    pass


class PreconditionFailed(DomainError):
    pass


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


@dataclass
class InvalidArgument(DomainError):
    violations: list[FieldViolation] = field(default_factory=list)

    def __post_init__(self) -> None:
        text = "; ".join(f"{v.field}: {v.description}" for v in self.violations)
        super().__init__(text or "invalid argument")
