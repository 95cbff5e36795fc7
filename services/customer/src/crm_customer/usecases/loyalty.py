"""The loyalty ledger of accounts and contacts: add an entry, read the balance, list.

Reading the ledger needs read access to its record; earning and redeeming need edit reach.
Expiry is lazy: every use case first expires, in its own transaction and under the
record's lock, the unspent points whose time has come (`expire_due_points`), so what it
answers is never stale. Reads take the lock only when something is due.
"""

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from crm_customer.domain.loyalty import (
    EARN,
    MAX_REASON,
    REDEEM,
    Ledger,
    LedgerKey,
    LoyaltyEntry,
    NewEntry,
    Unspent,
    coming_expiries,
    expiries_due,
    unspent_earns,
)
from crm_customer.usecases.accounts import ACCOUNTS
from crm_customer.usecases.contacts import CONTACTS
from crm_customer.usecases.pages import decode_id_token, id_page, page_limit
from crm_customer.usecases.ports import UnitOfWork
from crm_customer.usecases.records import RecordKind, require_reach, visible
from crm_platform.auth.principal import Action, Principal
from crm_platform.errors import AlreadyExists, FieldViolation, InvalidArgument, NotFound
from crm_platform.ids import uuid7

LEDGER_KINDS: Mapping[str, RecordKind[Any]] = {"account": ACCOUNTS, "contact": CONTACTS}
# How many of the coming expiries a balance read reports.
MAX_EXPIRING = 10
# The author of the service's own entries (the sweep's expiries), in history and events.
SYSTEM_ACTOR = uuid.UUID(int=0)
SWEEP_LEDGERS = 500  # per sweep query; the sweep goes on at once while ledgers are due


@dataclass(frozen=True)
class Added:
    entry: LoyaltyEntry
    balance: int
    # False when an entry of this kind and reference was there already: it is returned.
    created: bool


@dataclass(frozen=True)
class Balance:
    balance: int
    expiring: list[Unspent]  # the soonest first, at most MAX_EXPIRING


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def add_loyalty_entry(
    *,
    uow: UnitOfWork,
    principal: Principal,
    record_type: str,
    record_id: str,
    values: Mapping[str, Any],
    now: dt.datetime | None = None,
) -> Added:
    """Earn or redeem points (`values`: kind, points, reason, reference, expires_at). A
    redeem the balance does not cover is refused (PreconditionFailed) and writes nothing."""
    kind = ledger_kind(record_type)
    new = NewEntry.checked(values)
    async with uow:
        record = await visible(kind, kind.repo(uow), principal, record_id)
        require_reach(kind, principal, Action.EDIT, record)
        key = LedgerKey(kind.obj, record.id)
        await _lock(uow, key)
        ledger = await expire_due_points(uow, key, now=now or _now(), actor_id=principal.subject_id)
        found = await uow.loyalty.find(key, new.kind, new.reference) if new.reference else None
        if found is not None:  # a retry: counted once
            _require_same(found, new)
            await uow.commit()  # the expiries, if any
            return Added(found, ledger.balance, created=False)
        ledger, added = ledger.append(new, id=uuid7(), actor_id=principal.subject_id)
        await uow.loyalty.add([added])
        uow.record(added, actor_id=principal.subject_id)
        await uow.commit()
    return Added(added, ledger.balance, created=True)


async def get_loyalty_balance(
    *,
    uow: UnitOfWork,
    principal: Principal,
    record_type: str,
    record_id: str,
    now: dt.datetime | None = None,
) -> Balance:
    """The balance, once due points are expired, and the points that expire next."""
    kind = ledger_kind(record_type)
    async with uow:
        key = await _readable(kind, uow, principal, record_id)
        ledger = await _settled(uow, key, now=now or _now(), actor_id=principal.subject_id)
        expiring: list[Unspent] = []
        if await uow.loyalty.has_earns_expiring(key, after=ledger.at, until=None):
            expiring = coming_expiries(await uow.loyalty.entries(key), ledger.at)
        await uow.commit()
    return Balance(ledger.balance, expiring[:MAX_EXPIRING])


async def list_loyalty_entries(
    *,
    uow: UnitOfWork,
    principal: Principal,
    record_type: str,
    record_id: str,
    page_size: int,
    page_token: str,
    now: dt.datetime | None = None,
) -> tuple[list[LoyaltyEntry], str]:
    """One page of the ledger, newest first, and the next page's token ("" at the end)."""
    kind = ledger_kind(record_type)
    limit = page_limit(page_size)
    before = decode_id_token(page_token)
    async with uow:
        key = await _readable(kind, uow, principal, record_id)
        await _settled(uow, key, now=now or _now(), actor_id=principal.subject_id)
        found = await uow.loyalty.page(key, before=before, limit=limit + 1)
        await uow.commit()
    return id_page(found, limit)


async def expire_due_points(
    uow: UnitOfWork, key: LedgerKey, *, now: dt.datetime, actor_id: uuid.UUID
) -> Ledger:
    """Expire the unspent points of earns whose `expires_at` has come; the ledger after.

    Needs the record locked in the transaction. Every transaction that appends runs this
    first, at its own time, so earns due by the last entry's time are settled already:
    only those due since are looked for, through an index, and the ledger is read whole
    only when there are some."""
    last = await uow.loyalty.last(key)
    ledger = Ledger.after(key, last, now)
    if not await _anything_due(uow, last, ledger):
        return ledger
    entries = await uow.loyalty.entries(key)
    ledger, expiries = expiries_due(entries, ledger, actor_id=actor_id, new_id=uuid7)
    await uow.loyalty.add(expiries)
    for expiry in expiries:
        uow.record(expiry, actor_id=actor_id)
    return ledger


async def move_points(
    uow: UnitOfWork,
    *,
    record_type: str,
    from_id: uuid.UUID,
    to_id: uuid.UUID,
    actor_id: uuid.UUID,
    now: dt.datetime | None = None,
) -> None:
    """A merge's: the unspent points of `from_id`'s ledger go to `to_id`'s, each earn's
    rest as an earn of its own with the same expiry, and `from_id`'s ledger ends at zero
    (a redeem saying where they went). Both records must be locked by the caller."""
    now = now or _now()
    giving = await expire_due_points(
        uow, LedgerKey(record_type, from_id), now=now, actor_id=actor_id
    )
    if not giving.balance:
        return
    receiving = await expire_due_points(
        uow, LedgerKey(record_type, to_id), now=now, actor_id=actor_id
    )
    moved = []
    for lot in unspent_earns(await uow.loyalty.entries(giving.key)):
        earned_on = lot.earn.created_at.date().isoformat()
        why = f"from {record_type} {from_id} by a merge (earned {earned_on}: {lot.earn.reason})"
        earn = NewEntry(
            EARN, lot.points, why[:MAX_REASON], f"merge:{lot.earn.id}", lot.earn.expires_at
        )
        receiving, entry = receiving.append(earn, id=uuid7(), actor_id=actor_id)
        moved.append(entry)
    out = NewEntry(REDEEM, giving.balance, f"to {record_type} {to_id} by a merge", f"merge:{to_id}")
    giving, entry = giving.append(out, id=uuid7(), actor_id=actor_id)
    await uow.loyalty.add([*moved, entry])
    for each in (*moved, entry):
        uow.record(each, actor_id=actor_id)


async def sweep_expiries(
    *, uow: Callable[[], UnitOfWork], lookback: dt.timedelta, limit: int = SWEEP_LEDGERS
) -> int:
    """Expire what is due in up to `limit` ledgers nobody has used since their points'
    time came, each in its own transaction under its record's lock (another sweep or a
    caller that got there first leaves nothing due); how many ledgers had points due.
    Earns that expired more than `lookback` ago are left to the ledger's next use."""
    now = _now()
    async with uow() as work:
        due = await work.loyalty.due(since=now - lookback, until=now, limit=limit)
    for key in due:
        async with uow() as work:
            if await work.loyalty.lock(key):  # else deleted meanwhile: nothing to expire
                await expire_due_points(work, key, now=_now(), actor_id=SYSTEM_ACTOR)
                await work.commit()
    return len(due)


def _require_same(found: LoyaltyEntry, new: NewEntry) -> None:
    """A retry asks for the points the entry of its reference holds; other points are
    another entry under a reference already used, which is refused rather than answered
    with the first one as if it were what the caller asked for. (Its reason and expiry are
    the first request's: a retry may leave them out.)"""
    if found.points != new.points:
        why = f"{found.kind} {found.reference!r} exists already, for {found.points} points"
        raise AlreadyExists(why)


def ledger_kind(record_type: str) -> RecordKind[Any]:
    kind = LEDGER_KINDS.get(record_type)
    if kind is None:
        raise InvalidArgument([FieldViolation("record_type", "must be account or contact")])
    return kind


async def _anything_due(uow: UnitOfWork, last: LoyaltyEntry | None, ledger: Ledger) -> bool:
    if last is None:
        return False
    return await uow.loyalty.has_earns_expiring(ledger.key, after=last.created_at, until=ledger.at)


async def _settled(
    uow: UnitOfWork, key: LedgerKey, *, now: dt.datetime, actor_id: uuid.UUID
) -> Ledger:
    """The ledger with its due points expired; the record is locked only when some are."""
    last = await uow.loyalty.last(key)
    ledger = Ledger.after(key, last, now)
    if not await _anything_due(uow, last, ledger):
        return ledger
    await _lock(uow, key)
    return await expire_due_points(uow, key, now=now, actor_id=actor_id)


async def _readable(
    kind: RecordKind[Any], uow: UnitOfWork, principal: Principal, record_id: str
) -> LedgerKey:
    record = await visible(kind, kind.repo(uow), principal, record_id)
    return LedgerKey(kind.obj, record.id)


async def _lock(uow: UnitOfWork, key: LedgerKey) -> None:
    if not await uow.loyalty.lock(key):  # deleted since it was read
        raise NotFound(f"{key.record_type} {key.record_id} not found")
