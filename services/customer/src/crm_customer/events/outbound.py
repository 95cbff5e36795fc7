"""Maps record events and ledger entries to the published contract crm.customer.events.v1."""

from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from crm.customer.events.v1 import events_pb2 as events
from crm.customer.v1 import customer_pb2 as pb
from crm.customer.v1 import loyalty_pb2 as lpb
from crm_customer.domain.accounts import Account
from crm_customer.domain.loyalty import EARN, EXPIRE, PAST_TENSE, REDEEM, LoyaltyEntry
from crm_customer.domain.records import RecordEvent
from crm_customer.proto_mapping import to_proto
from crm_platform.events.outbox import OutboxEvent


@dataclass(frozen=True)
class _Contract:
    """The messages of one aggregate; each names its record after the aggregate."""

    aggregate: str
    record: type[Message]
    messages: dict[str, type[Message]]


_ACCOUNT = _Contract(
    "account",
    pb.Account,
    {
        "created": events.AccountCreated,
        "updated": events.AccountUpdated,
        "deleted": events.AccountDeleted,
        "owner_changed": events.AccountOwnerChanged,
        "merged": events.AccountMerged,
    },
)
_CONTACT = _Contract(
    "contact",
    pb.Contact,
    {
        "created": events.ContactCreated,
        "updated": events.ContactUpdated,
        "deleted": events.ContactDeleted,
        "owner_changed": events.ContactOwnerChanged,
        "merged": events.ContactMerged,
    },
)


def to_outbox_event(event: RecordEvent | LoyaltyEntry) -> OutboxEvent:
    if isinstance(event, LoyaltyEntry):
        return _ledger_event(event)
    record = event.record
    contract = _ACCOUNT if isinstance(record, Account) else _CONTACT
    proto = to_proto(record, contract.record)
    return OutboxEvent(
        subject=f"crm.customer.{contract.aggregate}.{event.kind}.v1",
        message=contract.messages[event.kind](**_fields(event, contract.aggregate, proto)),
        aggregate_id=str(record.id),
        aggregate_version=record.version,
    )


def _fields(event: RecordEvent, aggregate: str, proto: Message) -> dict[str, Any]:
    if event.kind == "merged":
        assert event.duplicate is not None, "a merged event names its duplicate"
        return {
            "survivor_id": str(event.record.id),
            "duplicate_id": str(event.duplicate.id),
            "survivor": proto,
        }
    fields: dict[str, Any] = {aggregate: proto}
    if event.kind == "updated":
        fields["changed_fields"] = [change.field for change in event.changes]
    elif event.kind == "owner_changed":
        fields |= _handed_over(event)
    return fields


def _handed_over(event: RecordEvent) -> dict[str, str]:
    """Old and new owner and team; a field the transfer left alone is the same on both."""
    record = event.record
    old = {"owner_id": record.owner_id, "team_id": record.team_id}
    old |= {change.field: change.old for change in event.changes}
    new = {"owner_id": record.owner_id, "team_id": record.team_id}
    return {
        f"{age}_{name}": str(value) if value else ""
        for age, values in (("old", old), ("new", new))
        for name, value in values.items()
    }


_LEDGER_MESSAGES = {
    EARN: events.LoyaltyPointsEarned,
    REDEEM: events.LoyaltyPointsRedeemed,
    EXPIRE: events.LoyaltyPointsExpired,
}


def _ledger_event(entry: LoyaltyEntry) -> OutboxEvent:
    """One event per entry. Its aggregate is the entry itself (never changed: version 1),
    not the record, whose version it does not change: the gateway's read cache, which
    drops a record on any event naming it, keeps the record."""
    message = _LEDGER_MESSAGES[entry.kind](entry=to_proto(entry, lpb.LoyaltyEntry))
    return OutboxEvent(
        subject=f"crm.customer.loyalty.{PAST_TENSE[entry.kind]}.v1",
        message=message,
        aggregate_id=str(entry.id),
        aggregate_version=1,
    )
