import time

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
