"""The kinds of record by the plural name an API gives them (`entity`), and which of them a
principal may read."""

from typing import Any

from crm_customer.usecases.accounts import ACCOUNTS
from crm_customer.usecases.contacts import CONTACTS
from crm_customer.usecases.records import RecordKind
from crm_platform.auth.principal import Action, Principal, Scope

KINDS: dict[str, RecordKind[Any]] = {"contacts": CONTACTS, "accounts": ACCOUNTS}


def read_scopes(principal: Principal) -> dict[str, Scope]:
    """Entity -> the principal's read scope, for the kinds it may read at all."""
    scopes = {entity: principal.scope(kind.obj, Action.READ) for entity, kind in KINDS.items()}
    return {entity: scope for entity, scope in scopes.items() if scope is not None}
