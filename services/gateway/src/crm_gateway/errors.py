"""Errors of the gateway's own making, besides crm_platform.errors; framework-free so the
clients can raise them and the HTTP layer maps them once (crm_gateway.api.problems)."""

from crm_platform.errors import DomainError


class ServiceUnavailable(DomainError):
    """A downstream service or our database cannot answer now; retrying later may work."""


class RateLimited(DomainError):
    """A downstream refused for lack of resources (RESOURCE_EXHAUSTED)."""


class OverLimit(RateLimited):
    """The caller has spent its own request budget for this minute."""

    def __init__(self, message: str, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.headers = headers


class LoginThrottled(RateLimited):
    """Too many failed logins for an email or from an address; retry after a while."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"too many failed logins; retry in {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds
        self.headers = {"Retry-After": str(retry_after_seconds)}


class PreconditionRequired(DomainError):
    """A conditional write came without If-Match (RFC 6585: 428)."""


class DownstreamFailure(Exception):
    """A downstream answered with an error that is a bug (INTERNAL, UNKNOWN, ...)."""
