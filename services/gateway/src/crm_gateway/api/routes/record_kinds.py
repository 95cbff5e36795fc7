"""The record kinds the customer service keeps, as routes serving all of them see them."""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from crm_gateway.api import schemas
from crm_gateway.api.mapping import JsonObject, account_json, contact_json
from crm_gateway.clients.customer import CustomerClient, Metadata, Record
from crm_gateway.identity.callers import Caller
from crm_gateway.identity.user_admin import UserAdmin
from crm_platform.auth.principal import Action


@dataclass(frozen=True)
class RecordKind:
    entity: str  # the collection: "accounts", as in the path and the service's requests
    noun: str  # one of them: "account"
    render: Callable[[Any], JsonObject]
    read: Callable[[CustomerClient, Metadata, str], Awaitable[Record]]
    schema: type[BaseModel]

    @property
    def path(self) -> str:
        return f"/api/v1/{self.entity}"


ACCOUNTS = RecordKind(
    "accounts", "account", account_json, CustomerClient.get_account, schemas.Account
)
CONTACTS = RecordKind(
    "contacts", "contact", contact_json, CustomerClient.get_contact, schemas.Contact
)
RECORD_KINDS = (ACCOUNTS, CONTACTS)


async def handed_over(
    kind: RecordKind,
    record_id: str,
    values: Mapping[str, Any],
    *,
    caller: Caller,
    customer: CustomerClient,
    users: UserAdmin,
) -> dict[str, Any]:
    """`values`, a change of a record, with a new owner or team it names checked against the
    record's present ones (identity/handover.py)."""
    transfers = caller.principal.scope(kind.noun, Action.TRANSFER) is not None
    if not transfers or not values.keys() & {"owner_id", "team_id"}:
        return dict(values)  # without the permission, the service refuses the change as is
    held = await kind.read(customer, caller.metadata, record_id)
    current = {"owner_id": held.owner_id, "team_id": held.team_id}
    return await users.handover(caller.principal, kind.noun, values, current)
