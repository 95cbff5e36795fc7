"""Loyalty points: an append-only ledger per account or contact, whose balance never goes
negative. Every entry keeps the balance after it, so the balance is the last entry's.

Redeemed points come out of the oldest earned points first (FIFO). An earn may expire: once
its `expires_at` has passed, whatever of it is still unspent is expired by an `expire`
entry naming the earn (its `reference` is the earn's id), written by the service itself.
Callers write earns and redeems only.
"""

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from crm_customer.domain import fields as rule
from crm_customer.domain.fields import Validator, validate
from crm_platform.errors import FieldViolation, InvalidArgument, PreconditionFailed

EARN, REDEEM, EXPIRE = "earn", "redeem", "expire"
CALLER_KINDS = (EARN, REDEEM)
PAST_TENSE = {EARN: "earned", REDEEM: "redeemed", EXPIRE: "expired"}
MAX_POINTS = 1_000_000_000
MAX_REASON = 500
MAX_REFERENCE = 200


@dataclass(frozen=True)
class LedgerKey:
    record_type: str  # "account" or "contact"
    record_id: uuid.UUID


@dataclass(frozen=True)
class LoyaltyEntry:
    # UUIDv7, and within one ledger strictly increasing (Ledger.append): the ledger's order.
    id: uuid.UUID
    record_type: str
    record_id: uuid.UUID
    kind: str
    points: int  # always positive; the kind says which way they go
    reason: str
    reference: str  # "" when none; unique per record and kind
    expires_at: dt.datetime | None  # earns only
    actor_id: uuid.UUID
    created_at: dt.datetime
    balance_after: int


def _kind(value: Any) -> str:
    if value not in CALLER_KINDS:
        raise ValueError("must be earn or redeem (the service writes expiries itself)")
    return str(value)


def _points(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number")
    if not 1 <= value <= MAX_POINTS:
        raise ValueError(f"must be between 1 and {MAX_POINTS}")
    return value


def _moment(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValueError("must be a date and time with a time zone")
    return value.astimezone(dt.UTC)


_RULES: Mapping[str, Validator] = {
    "kind": _kind,
    "points": _points,
    "reason": rule.text(MAX_REASON, required=True),
    "reference": rule.text(MAX_REFERENCE),
    "expires_at": _moment,
}


@dataclass(frozen=True)
class NewEntry:
    """What a caller asks to add, checked; the ledger decides whether it may."""

    kind: str
    points: int
    reason: str
    reference: str = ""
    expires_at: dt.datetime | None = None

    @classmethod
    def checked(cls, values: Mapping[str, Any]) -> "NewEntry":
        """From a caller's `values` (kind, points, reason, reference, expires_at); every
        violation reported at once."""
        entry = cls(**validate(_RULES, values))
        if entry.expires_at is not None and entry.kind != EARN:
            raise InvalidArgument([FieldViolation("expires_at", "only earned points expire")])
        return entry


@dataclass(frozen=True)
class Ledger:
    """The end of one record's ledger: what the next entry builds on."""

    key: LedgerKey
    at: dt.datetime  # the ledger's clock, never before its last entry
    balance: int = 0
    last_id: uuid.UUID | None = None

    @classmethod
    def after(cls, key: LedgerKey, last: LoyaltyEntry | None, now: dt.datetime) -> "Ledger":
        """The ledger ending in `last`, at `now` (or at `last`'s time, should another
        replica's clock have been ahead: the ledger's times never go back)."""
        if last is None:
            return cls(key, now)
        return cls(key, max(now, last.created_at), last.balance_after, last.id)

    def append(
        self, new: NewEntry, *, id: uuid.UUID, actor_id: uuid.UUID
    ) -> tuple["Ledger", LoyaltyEntry]:
        """The entry `new` at the end of the ledger; PreconditionFailed when it would take
        the balance below zero."""
        balance = self.balance + (new.points if new.kind == EARN else -new.points)
        if balance < 0:
            raise PreconditionFailed(f"balance is {self.balance}, cannot {new.kind} {new.points}")
        if new.expires_at is not None and new.expires_at <= self.at:
            raise InvalidArgument([FieldViolation("expires_at", "must be in the future")])
        entry = LoyaltyEntry(
            id=_after(self.last_id, id),
            record_type=self.key.record_type,
            record_id=self.key.record_id,
            kind=new.kind,
            points=new.points,
            reason=new.reason,
            reference=new.reference,
            expires_at=new.expires_at,
            actor_id=actor_id,
            created_at=self.at,
            balance_after=balance,
        )
        return replace(self, balance=balance, last_id=entry.id), entry


def _after(last_id: uuid.UUID | None, fresh: uuid.UUID) -> uuid.UUID:
    """`fresh`, unless another replica's clock made `last_id` later: then the id right
    after it, so id order stays ledger order (the last entry holds the balance)."""
    if last_id is None or fresh > last_id:
        return fresh
    return uuid.UUID(int=last_id.int + 1)


@dataclass(frozen=True)
class Unspent:
    earn: LoyaltyEntry
    points: int  # of the earn's points, those neither redeemed nor expired


def unspent_earns(entries: Iterable[LoyaltyEntry]) -> list[Unspent]:
    """The earns with points left, oldest first. Their points add up to the balance."""
    left: dict[uuid.UUID, int] = {}  # in ledger order: the oldest earn comes first
    earns: dict[uuid.UUID, LoyaltyEntry] = {}
    for entry in sorted(entries, key=lambda e: e.id):
        if entry.kind == EARN:
            earns[entry.id] = entry
            left[entry.id] = entry.points
        else:
            _take(left, entry.points, first=_earn_named(entry))
    return [Unspent(earns[earn_id], points) for earn_id, points in left.items()]


def _earn_named(entry: LoyaltyEntry) -> uuid.UUID | None:
    """The earn an expiry settles; None for redeems, which take the oldest points."""
    if entry.kind != EXPIRE:
        return None
    try:
        return uuid.UUID(entry.reference)
    except ValueError:
        return None


def _take(left: dict[uuid.UUID, int], points: int, *, first: uuid.UUID | None) -> None:
    """`points` out of `left`: from the earn `first`, if given, then oldest first. Earns
    left with nothing are dropped."""
    while points and left:
        earn_id = first if first in left else next(iter(left))
        taken = min(points, left[earn_id])
        left[earn_id] -= taken
        points -= taken
        if not left[earn_id]:
            del left[earn_id]


def expiries_due(
    entries: Iterable[LoyaltyEntry],
    ledger: Ledger,
    *,
    actor_id: uuid.UUID,
    new_id: Callable[[], uuid.UUID],
) -> tuple[Ledger, list[LoyaltyEntry]]:
    """An expiry of the unspent rest of every earn whose `expires_at` is not after the
    ledger's clock, soonest due first; and the ledger after them."""
    due = [u for u in unspent_earns(entries) if _expiry(u) <= ledger.at]
    expiries = []
    for unspent in sorted(due, key=_soonest_first):
        earned_on = unspent.earn.created_at.date().isoformat()
        reason = f"expiry of points earned {earned_on}"
        new = NewEntry(EXPIRE, unspent.points, reason, reference=str(unspent.earn.id))
        ledger, expiry = ledger.append(new, id=new_id(), actor_id=actor_id)
        expiries.append(expiry)
    return ledger, expiries


def coming_expiries(entries: Iterable[LoyaltyEntry], at: dt.datetime) -> list[Unspent]:
    """The unspent points that will expire after `at`, soonest first."""
    later = [u for u in unspent_earns(entries) if u.earn.expires_at and _expiry(u) > at]
    return sorted(later, key=_soonest_first)


_NEVER = dt.datetime.max.replace(tzinfo=dt.UTC)  # what an earn without expires_at awaits


def _expiry(unspent: Unspent) -> dt.datetime:
    return unspent.earn.expires_at or _NEVER


def _soonest_first(unspent: Unspent) -> tuple[dt.datetime, uuid.UUID]:
    return _expiry(unspent), unspent.earn.id
