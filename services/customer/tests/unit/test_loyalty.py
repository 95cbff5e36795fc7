"""The ledger's rules without a database: balance, refusals, FIFO redemption and expiry."""

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from crm_customer.domain.loyalty import (
    EXPIRE,
    Ledger,
    LedgerKey,
    LoyaltyEntry,
    NewEntry,
    coming_expiries,
    expiries_due,
    unspent_earns,
)
from crm_platform.errors import InvalidArgument, PreconditionFailed
from crm_platform.ids import uuid7

KEY = LedgerKey("contact", uuid.uuid4())
ACTOR = uuid.uuid4()
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def day(n: int) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


class Book:
    """A ledger written day by day, as the use cases write it (expiries first)."""

    def __init__(self) -> None:
        self.entries: list[LoyaltyEntry] = []

    def ledger(self, at: dt.datetime) -> Ledger:
        return Ledger.after(KEY, self.entries[-1] if self.entries else None, at)

    def add(self, at: int, kind: str, points: int, expires: int | None = None) -> LoyaltyEntry:
        ledger = self.expire(at)
        values: dict[str, Any] = {"kind": kind, "points": points, "reason": "r"}
        if expires is not None:
            values["expires_at"] = day(expires)
        _, entry = ledger.append(NewEntry.checked(values), id=uuid7(), actor_id=ACTOR)
        self.entries.append(entry)
        return entry

    def expire(self, at: int) -> Ledger:
        ledger, expiries = expiries_due(
            self.entries, self.ledger(day(at)), actor_id=ACTOR, new_id=uuid7
        )
        self.entries += expiries
        return ledger


def test_balance_is_earned_minus_redeemed_and_kept_on_every_entry() -> None:
    book = Book()
    book.add(0, "earn", 100)
    book.add(1, "redeem", 30)
    book.add(2, "earn", 5)
    assert [e.balance_after for e in book.entries] == [100, 70, 75]
    assert book.ledger(day(3)).balance == 75


def test_a_redeem_beyond_the_balance_is_refused_with_the_numbers() -> None:
    book = Book()
    book.add(0, "earn", 50)
    with pytest.raises(PreconditionFailed) as refused:
        book.add(1, "redeem", 51)
    assert refused.value.message == "balance is 50, cannot redeem 51"
    assert len(book.entries) == 1


@pytest.mark.parametrize(
    ("values", "fields"),
    [
        ({"kind": "expire", "points": 1, "reason": "r"}, ["kind"]),
        ({"kind": "earn", "points": 0, "reason": "r"}, ["points"]),
        ({"kind": "earn", "points": 1_000_000_001, "reason": "r"}, ["points"]),
        ({"kind": "earn", "points": True, "reason": "r"}, ["points"]),
        ({"kind": "earn", "points": 1, "reason": " "}, ["reason"]),
        ({"kind": "earn", "points": 1, "reason": "x" * 501}, ["reason"]),
        ({"kind": "earn", "points": 1, "reason": "r", "reference": "x" * 201}, ["reference"]),
        ({"kind": "redeem", "points": 1, "reason": "r", "expires_at": day(9)}, ["expires_at"]),
        (
            {"kind": "earn", "points": 1, "reason": "r", "expires_at": dt.datetime(2026, 9, 1)},
            ["expires_at"],
        ),
        ({"kind": "bonus", "points": -1, "reason": ""}, ["kind", "points", "reason"]),
    ],
)
def test_bad_entries_are_invalid_arguments(values: dict[str, Any], fields: list[str]) -> None:
    with pytest.raises(InvalidArgument) as raised:
        NewEntry.checked(values)
    assert sorted(v.field for v in raised.value.violations) == fields


def test_an_expiry_date_must_be_after_the_ledgers_clock() -> None:
    new = NewEntry.checked({"kind": "earn", "points": 1, "reason": "r", "expires_at": day(1)})
    with pytest.raises(InvalidArgument) as raised:
        Ledger(KEY, day(1)).append(new, id=uuid7(), actor_id=ACTOR)
    assert [v.field for v in raised.value.violations] == ["expires_at"]


def test_redeems_take_the_oldest_earned_points_first() -> None:
    book = Book()
    book.add(0, "earn", 100, expires=10)
    second = book.add(1, "earn", 50, expires=5)
    book.add(2, "redeem", 120)
    assert [(u.earn.id, u.points) for u in unspent_earns(book.entries)] == [(second.id, 30)]


def test_only_the_unspent_rest_of_a_due_earn_expires() -> None:
    book = Book()
    old = book.add(0, "earn", 100, expires=10)
    book.add(1, "earn", 40)  # never expires
    book.add(2, "redeem", 70)
    ledger = book.expire(10)
    expiries = [e for e in book.entries if e.kind == EXPIRE]
    assert [(e.points, e.reference, e.balance_after) for e in expiries] == [(30, str(old.id), 40)]
    assert ledger.balance == 40
    # Settled once: a later pass finds nothing more to expire.
    assert book.expire(20).balance == 40
    assert len(book.entries) == 4


def test_nothing_expires_before_its_time_and_a_spent_earn_expires_nothing() -> None:
    book = Book()
    book.add(0, "earn", 10, expires=3)
    book.add(1, "earn", 20, expires=8)
    book.add(2, "redeem", 10)  # the whole first earn
    assert book.expire(7).balance == 20
    assert [e.kind for e in book.entries] == ["earn", "earn", "redeem"]
    assert book.expire(8).balance == 0
    assert [(e.kind, e.points) for e in book.entries[3:]] == [("expire", 20)]


def test_due_earns_expire_soonest_first_and_coming_ones_are_listed() -> None:
    book = Book()
    late = book.add(0, "earn", 5, expires=6)
    early = book.add(1, "earn", 7, expires=4)
    coming = book.add(2, "earn", 9, expires=30)
    book.expire(10)
    assert [e.reference for e in book.entries if e.kind == EXPIRE] == [str(early.id), str(late.id)]
    assert [e.balance_after for e in book.entries[3:]] == [14, 9]
    assert [(u.earn.id, u.points) for u in coming_expiries(book.entries, day(10))] == [
        (coming.id, 9)
    ]


def test_ledger_ids_and_times_never_go_back_even_when_a_clock_does() -> None:
    book = Book()
    ahead = book.add(5, "earn", 1)
    behind_id = uuid.UUID(int=ahead.id.int - 1)  # as a replica with a slower clock makes
    ledger = book.ledger(day(4))
    new = NewEntry.checked({"kind": "earn", "points": 2, "reason": "r"})
    _, entry = ledger.append(new, id=behind_id, actor_id=ACTOR)
    assert entry.id == uuid.UUID(int=ahead.id.int + 1)
    assert entry.created_at == day(5)


def _ids(entries: list[LoyaltyEntry]) -> Iterator[uuid.UUID]:
    return (e.id for e in entries)


def test_unspent_points_add_up_to_the_balance() -> None:
    book = Book()
    for n, (kind, points) in enumerate([("earn", 9), ("earn", 4), ("redeem", 11), ("earn", 3)]):
        book.add(n, kind, points, expires=n + 5 if kind == "earn" else None)
    book.expire(6)  # the 2 points left of the second earn
    balance = book.ledger(day(6)).balance
    assert sum(u.points for u in unspent_earns(book.entries)) == balance == 3
    assert sorted(_ids(book.entries)) == list(_ids(book.entries))
