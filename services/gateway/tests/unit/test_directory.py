"""The identity directory: team subtrees, generations, loading once for many waiters."""

import asyncio
import uuid

from crm_gateway.identity.directory import DirectoryData, IdentityDirectory, Snapshot


def test_a_subtree_holds_the_team_and_all_its_descendants_but_no_siblings() -> None:
    root, left, right, leaf = (uuid.uuid4() for _ in range(4))
    snapshot = Snapshot(DirectoryData(parents={root: None, left: root, right: root, leaf: left}), 1)
    assert snapshot.team_ids(root) == {root, left, right, leaf}
    assert snapshot.team_ids(left) == {left, leaf}
    assert snapshot.team_ids(right) == {right}
    assert snapshot.team_ids(None) == frozenset()
    unknown = uuid.uuid4()
    assert snapshot.team_ids(unknown) == {unknown}


def test_a_cycle_in_the_data_does_not_hang() -> None:
    one, two = uuid.uuid4(), uuid.uuid4()
    snapshot = Snapshot(DirectoryData(parents={one: two, two: one}), 1)
    assert snapshot.team_ids(one) == {one, two}


async def test_the_generation_changes_only_with_the_data() -> None:
    data = DirectoryData()
    loads = 0

    async def load() -> DirectoryData:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.01)
        return data

    directory = IdentityDirectory(load, refresh_seconds=60)
    first = await asyncio.gather(*(directory.current() for _ in range(5)))
    assert loads == 1  # concurrent first requests share one load
    assert {snapshot.generation for snapshot in first} == {1}
    assert (await directory.reload()).generation == 1
    data = DirectoryData(revoked_sessions=frozenset({uuid.uuid4()}))
    assert (await directory.reload()).generation == 2
