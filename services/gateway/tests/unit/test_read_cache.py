import asyncio
import time
from dataclasses import dataclass

import pytest

from crm_gateway.clients.read_cache import ReadCache

ALICE = (("x-crm-principal", "alice"),)
BOB = (("x-crm-principal", "bob"),)


def enabled(**options: float) -> ReadCache[str]:
    cache: ReadCache[str] = ReadCache(
        max_records=int(options.get("max_records", 100)),
        ttl_seconds=options.get("ttl_seconds", 60.0),
    )
    cache.enable()
    return cache


def test_keeps_each_callers_answer_apart() -> None:
    cache = enabled()
    cache.put("r1", ALICE, 1, "alice's view", epoch=cache.epoch)
    assert cache.get("r1", ALICE) == "alice's view"
    assert cache.get("r1", BOB) is None


def test_an_event_drops_every_callers_copy() -> None:
    cache = enabled()
    cache.put("r1", ALICE, 1, "a", epoch=cache.epoch)
    cache.put("r1", BOB, 1, "b", epoch=cache.epoch)
    cache.put("r2", ALICE, 1, "other", epoch=cache.epoch)
    cache.invalidate("r1", 2)
    assert cache.get("r1", ALICE) is None
    assert cache.get("r1", BOB) is None
    assert cache.get("r2", ALICE) == "other"


def test_an_answer_older_than_an_announced_version_is_not_kept() -> None:
    cache = enabled()
    epoch = cache.epoch
    cache.invalidate("r1", 3)  # the event arrived while version 2 was on its way to us
    cache.put("r1", ALICE, 2, "stale", epoch=epoch)
    assert cache.get("r1", ALICE) is None
    cache.put("r1", ALICE, 3, "current", epoch=epoch)
    assert cache.get("r1", ALICE) == "current"


def test_an_answer_read_before_events_were_lost_is_not_kept() -> None:
    cache = enabled()
    epoch = cache.epoch
    cache.disable()
    cache.enable()  # reconnected: whatever happened in between went unseen
    cache.put("r1", ALICE, 1, "maybe stale", epoch=epoch)
    assert cache.get("r1", ALICE) is None


def test_disabled_keeps_and_serves_nothing() -> None:
    cache = enabled()
    cache.put("r1", ALICE, 1, "a", epoch=cache.epoch)
    cache.disable()
    assert cache.get("r1", ALICE) is None
    cache.put("r1", ALICE, 1, "a", epoch=cache.epoch)
    assert len(cache) == 0


def test_entries_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = enabled(ttl_seconds=5)
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now)
    cache.put("r1", ALICE, 1, "a", epoch=cache.epoch)
    monkeypatch.setattr(time, "monotonic", lambda: now + 4)
    assert cache.get("r1", ALICE) == "a"
    monkeypatch.setattr(time, "monotonic", lambda: now + 6)
    assert cache.get("r1", ALICE) is None


def test_fresh_is_a_current_copy_of_the_kind_asked_not_due_for_a_refresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the cached-read middleware may answer alone; anything else reads through."""
    cache = enabled(ttl_seconds=10)
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now)
    cache.put("r1", ALICE, 1, "a", epoch=cache.epoch)
    monkeypatch.setattr(time, "monotonic", lambda: now + 4)
    assert cache.fresh(str, "r1", ALICE) == "a"
    assert cache.fresh(bytes, "r1", ALICE) is None
    assert cache.fresh(str, "r1", BOB) is None
    monkeypatch.setattr(time, "monotonic", lambda: now + 6)
    assert cache.fresh(str, "r1", ALICE) is None
    assert cache.get("r1", ALICE) == "a"  # still served, by read_through, which refreshes it
    cache.disable()
    assert cache.fresh(str, "r1", ALICE) is None


def test_holds_at_most_max_records_least_recently_read_out_first() -> None:
    cache = enabled(max_records=2)
    for record_id in ("r1", "r2"):
        cache.put(record_id, ALICE, 1, record_id, epoch=cache.epoch)
    assert cache.get("r1", ALICE) == "r1"  # r2 is now the least recently read
    cache.put("r3", ALICE, 1, "r3", epoch=cache.epoch)
    assert cache.get("r2", ALICE) is None
    assert cache.get("r1", ALICE) == "r1"
    assert cache.get("r3", ALICE) == "r3"
    assert len(cache) == 2


@dataclass
class Row:
    version: int
    name: str


class SlowService:
    """Answers reads only when told to, counting them."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.answer: Row | Exception = Row(1, "first")

    async def fetch(self) -> Row:
        self.calls += 1
        await self.release.wait()
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


async def test_concurrent_misses_ask_the_service_once() -> None:
    cache: ReadCache[Row] = ReadCache(max_records=10, ttl_seconds=60)
    cache.enable()
    service = SlowService()
    readers = [
        asyncio.create_task(cache.read_through(Row, "r1", ALICE, service.fetch)) for _ in range(20)
    ]
    await asyncio.sleep(0)
    service.release.set()
    assert {(await reader).name for reader in readers} == {"first"}
    assert service.calls == 1
    assert (await cache.read_through(Row, "r1", ALICE, service.fetch)).name == "first"
    assert service.calls == 1


async def test_a_failed_read_reaches_every_waiting_reader_and_is_not_kept() -> None:
    cache: ReadCache[Row] = ReadCache(max_records=10, ttl_seconds=60)
    cache.enable()
    service = SlowService()
    service.answer = LookupError("no such record")
    readers = [
        asyncio.create_task(cache.read_through(Row, "r1", ALICE, service.fetch)) for _ in range(3)
    ]
    await asyncio.sleep(0)
    service.release.set()
    for reader in readers:
        with pytest.raises(LookupError):
            await reader
    assert len(cache) == 0
    assert service.calls == 1


async def test_a_reader_after_a_change_does_not_join_a_fetch_from_before_it() -> None:
    cache: ReadCache[Row] = ReadCache(max_records=10, ttl_seconds=60)
    cache.enable()
    service = SlowService()
    before = asyncio.create_task(cache.read_through(Row, "r1", ALICE, service.fetch))
    await asyncio.sleep(0)
    cache.invalidate("r1", 2)  # version 2 was written while version 1 is on its way
    service.answer = Row(2, "second")
    after = asyncio.create_task(cache.read_through(Row, "r1", ALICE, service.fetch))
    await asyncio.sleep(0)
    service.release.set()
    assert (await after).name == "second"
    await before
    assert service.calls == 2
    assert (await cache.read_through(Row, "r1", ALICE, service.fetch)).version == 2


async def test_a_copy_past_half_its_ttl_is_served_and_refreshed_behind_the_reader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache: ReadCache[Row] = ReadCache(max_records=10, ttl_seconds=10)
    cache.enable()
    service = SlowService()
    service.release.set()
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now)
    await cache.read_through(Row, "r1", ALICE, service.fetch)
    monkeypatch.setattr(time, "monotonic", lambda: now + 6)
    service.answer = Row(2, "refreshed")
    assert (await cache.read_through(Row, "r1", ALICE, service.fetch)).name == "first"
    await asyncio.sleep(0)  # the refresh runs
    assert service.calls == 2
    monkeypatch.setattr(time, "monotonic", lambda: now + 12)  # past the first copy's TTL
    assert (await cache.read_through(Row, "r1", ALICE, service.fetch)).name == "refreshed"
    assert service.calls == 2


async def test_a_refresh_that_fails_drops_the_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    cache: ReadCache[Row] = ReadCache(max_records=10, ttl_seconds=10)
    cache.enable()
    service = SlowService()
    service.release.set()
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now)
    await cache.read_through(Row, "r1", ALICE, service.fetch)
    monkeypatch.setattr(time, "monotonic", lambda: now + 6)
    service.answer = LookupError("gone")
    await cache.read_through(Row, "r1", ALICE, service.fetch)
    await asyncio.sleep(0)
    assert cache.get("r1", ALICE) is None


SPELLINGS = (
    "0190F1C2-7B6E-7A3C-9D1E-3F2A1B0C4D5E",
    "0190f1c27b6e7a3c9d1e3f2a1b0c4d5e",
    "{0190f1c2-7b6e-7a3c-9d1e-3f2a1b0c4d5e}",
    "urn:uuid:0190f1c2-7b6e-7a3c-9d1e-3f2a1b0c4d5e",
)
CANONICAL = "0190f1c2-7b6e-7a3c-9d1e-3f2a1b0c4d5e"


@pytest.mark.parametrize("spelling", SPELLINGS)
async def test_every_spelling_of_an_id_is_one_record_that_its_event_drops(spelling: str) -> None:
    """The services read any spelling uuid.UUID reads; events name the canonical one."""
    cache: ReadCache[Row] = ReadCache(max_records=10, ttl_seconds=60)
    cache.enable()
    service = SlowService()
    service.release.set()
    await cache.read_through(Row, spelling, ALICE, service.fetch)
    assert cache.fresh(Row, CANONICAL, ALICE) == Row(1, "first")
    assert all(cache.fresh(Row, other, ALICE) for other in SPELLINGS)
    cache.invalidate(CANONICAL, 2)
    assert cache.fresh(Row, spelling, ALICE) is None
    assert cache.get(spelling, ALICE) is None


@pytest.mark.parametrize("spelling", SPELLINGS)
async def test_a_change_made_here_under_any_spelling_drops_every_copy(spelling: str) -> None:
    cache: ReadCache[Row] = ReadCache(max_records=10, ttl_seconds=60)
    cache.enable()
    told: list[str] = []

    async def tell_peers(record_id: str, version: int) -> None:
        told.append(record_id)

    cache.tell_peers = tell_peers
    cache.put(CANONICAL, ALICE, 1, Row(1, "first"), epoch=cache.epoch)
    cache.put(SPELLINGS[0], BOB, 1, Row(1, "first"), epoch=cache.epoch)
    await cache.changed_here(spelling, 2)  # e.g. a DELETE of /contacts/<that spelling>
    assert cache.get(CANONICAL, ALICE) is None
    assert cache.get(CANONICAL, BOB) is None
    assert told == [CANONICAL]
