"""How each kind of event shows in the timeline: its kind, noun and label. Known event types
and subjects are listed here; anything else is still shown, named after its subject, so a
new event type needs no entry (one only makes its title nicer)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from crm.customer.events.v1 import events_pb2 as customer_events

Data = dict[str, Any]
# Fields whose value names the record an event is about, best first.
LABEL_FIELDS = ("name", "title", "subject", "number", "reference")


@dataclass(frozen=True)
class Presentation:
    kind: str
    noun: str  # "Opportunity"
    verb: str | None = None  # None: the subject's (crm.sales.opportunity.won.v1 -> "won")
    label: Callable[[Data], str] | None = None  # None: the first of LABEL_FIELDS found
    # The accounts an event is about; None: every `account_id` in it.
    accounts: Callable[[Message], list[str]] | None = None
    # Whether this event belongs in the timeline at all.
    relevant: Callable[[Message], bool] = lambda _message: True
    # What of the event is kept, read from the message; None: all of it (MessageToDict).
    keep: Callable[[Message], Data] | None = None


# Subject prefix (crm.<service>.<aggregate>.) -> presentation, for the other services'
# events, whose contracts this service need not know to show them.
BY_SUBJECT: dict[str, Presentation] = {
    "crm.sales.opportunity.": Presentation("opportunity", "Opportunity"),
    "crm.sales.activity.": Presentation("activity", "Activity"),
    "crm.sales.quote.": Presentation("quote", "Quote"),
    "crm.service_desk.ticket.": Presentation("ticket", "Ticket"),
    "crm.marketing.campaign_response.": Presentation("campaign_response", "Campaign response"),
    "crm.erp_bridge.order.": Presentation("erp_order", "ERP order"),
    "crm.erp_bridge.invoice.": Presentation("erp_invoice", "ERP invoice"),
}


def _contact_name(data: Data) -> str:
    contact = data.get("contact", {})
    return " ".join(part for part in (contact.get("first_name"), contact.get("last_name")) if part)


_CONTACT_SUMMARY = ("id", "first_name", "last_name", "title", "account_id")


def _contact_summary(message: Message) -> Data:
    """Who the contact is and where: its emails, phones and notes stay with the contact,
    whose own visibility may be narrower than the account's. Read field by field, as
    MessageToDict would write them (unset ones left out), at a fraction of its cost for a
    whole contact: an import sends one such event per row."""
    contact = message.contact  # type: ignore[attr-defined]
    summary = {name: value for name in _CONTACT_SUMMARY if (value := getattr(contact, name))}
    if contact.account_roles:
        summary["account_roles"] = [
            MessageToDict(role, preserving_proto_field_name=True) for role in contact.account_roles
        ]
    kept: Data = {"contact": summary}
    if changed := list(getattr(message, "changed_fields", ())):
        kept["changed_fields"] = changed
    return kept


def _contact_accounts(message: Message) -> list[str]:
    """Every account_id of the contact, as the generic search finds them, without it."""
    contact = message.contact  # type: ignore[attr-defined]
    found = [contact.account_id] if contact.account_id else []
    return found + [role.account_id for role in contact.account_roles if role.account_id]


_LINK_FIELDS = frozenset({"account_id", "account_roles"})


def _links_changed(message: Message) -> bool:
    return bool(_LINK_FIELDS & set(getattr(message, "changed_fields", ())))


def _the_account(message: Message) -> list[str]:
    return [message.account.id]  # type: ignore[attr-defined]


def _contact(verb: str, relevant: Callable[[Message], bool] = lambda _m: True) -> Presentation:
    return Presentation(
        "contact",
        "Contact",
        verb,
        _contact_name,
        accounts=_contact_accounts,
        relevant=relevant,
        keep=_contact_summary,
    )


# Full proto name -> presentation: this service's own events about an account.
BY_EVENT_TYPE: dict[str, Presentation] = {
    customer_events.AccountCreated.DESCRIPTOR.full_name: Presentation(
        "account", "Account", "created", accounts=_the_account
    ),
    customer_events.ContactCreated.DESCRIPTOR.full_name: _contact("added"),
    # Edits of a contact are its own history; only its joining an account is the account's.
    customer_events.ContactUpdated.DESCRIPTOR.full_name: _contact("linked", _links_changed),
    customer_events.ContactDeleted.DESCRIPTOR.full_name: _contact("removed"),
}

# The customer service's own events the timeline shows (see BY_EVENT_TYPE): every event
# about a contact, and new accounts. Written where they are published (own_entries).
OWN_PREFIXES = ("crm.customer.contact.",)
OWN_SUBJECTS = frozenset({"crm.customer.account.created.v1"})
