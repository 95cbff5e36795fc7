"""Maps record events and ledger entries to the published contract crm.customer.events.v1."""

from google.protobuf.message import Message

from crm.customer.events.v1 import events_pb2 as events
from crm.customer.v1 import customer_pb2 as pb
from crm.customer.v1 import loyalty_pb2 as lpb
from crm_customer.domain.accounts import Account
from crm_customer.domain.loyalty import EARN, EXPIRE, PAST_TENSE, REDEEM, LoyaltyEntry
from crm_customer.domain.records import RecordEvent
from crm_customer.proto_mapping import to_proto
from crm_platform.events.outbox import OutboxEvent


def to_outbox_event(event: RecordEvent | LoyaltyEntry) -> OutboxEvent:
    if isinstance(event, LoyaltyEntry):
        return _ledger_event(event)
    record = event.record
    changed = [change.field for change in event.changes]
    if isinstance(record, Account):
        account = to_proto(record, pb.Account)
        message: Message = {
            "created": lambda: events.AccountCreated(account=account),
            "updated": lambda: events.AccountUpdated(account=account, changed_fields=changed),
            "deleted": lambda: events.AccountDeleted(account=account),
        }[event.kind]()
        aggregate = "account"
    else:
        contact = to_proto(record, pb.Contact)
        message = {
            "created": lambda: events.ContactCreated(contact=contact),
            "updated": lambda: events.ContactUpdated(contact=contact, changed_fields=changed),
            "deleted": lambda: events.ContactDeleted(contact=contact),
        }[event.kind]()
        aggregate = "contact"
    return OutboxEvent(
        subject=f"crm.customer.{aggregate}.{event.kind}.v1",
        message=message,
        aggregate_id=str(record.id),
        aggregate_version=record.version,
    )


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
