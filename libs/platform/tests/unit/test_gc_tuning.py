import gc
from collections.abc import Iterator

import pytest

from crm_platform.gc_tuning import YOUNG_COLLECTION_AFTER, collect_less


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_collector")
def test_what_the_process_holds_is_frozen_and_young_collections_come_less_often() -> None:
    held = [[index] for index in range(1_000)]
    collect_less()
    assert gc.get_freeze_count() >= len(held)
    assert gc.get_threshold()[0] == YOUNG_COLLECTION_AFTER
    collections = gc.get_stats()[0]["collections"]
    made = [[index] for index in range(YOUNG_COLLECTION_AFTER // 2)]  # alive: counted
    assert gc.get_stats()[0]["collections"] == collections  # half the threshold: none yet
    del made
