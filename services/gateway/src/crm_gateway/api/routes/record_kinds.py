"""The record kinds the customer service keeps, as routes serving all of them see them."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from crm_gateway.api import schemas
from crm_gateway.api.mapping import JsonObject, account_json, contact_json
from crm_gateway.clients.customer import CustomerClient, Metadata, Record


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


RECORD_KINDS = (
    RecordKind("accounts", "account", account_json, CustomerClient.get_account, schemas.Account),
    RecordKind("contacts", "contact", contact_json, CustomerClient.get_contact, schemas.Contact),
)
