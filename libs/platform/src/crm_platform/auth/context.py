"""The principal of the call being served, set by the gRPC interceptor for use-case code."""

from contextvars import ContextVar

from crm_platform.auth.principal import Principal
from crm_platform.errors import Unauthenticated

_current: ContextVar[Principal | None] = ContextVar("crm_principal", default=None)


def current_principal() -> Principal:
    principal = _current.get()
    if principal is None:
        raise Unauthenticated("no principal on this call")
    return principal


def bind_principal(principal: Principal | None) -> object:
    return _current.set(principal)


def unbind_principal(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
