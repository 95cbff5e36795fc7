import uuid

from crm_platform.ids import parse_uuid, uuid7


def test_uuid7_is_version_7_and_strictly_increasing() -> None:
    ids = [uuid7() for _ in range(20_000)]
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_parse_uuid_rejects_garbage() -> None:
    some = uuid.uuid4()
    assert parse_uuid(str(some)) == some
    assert parse_uuid("not-a-uuid") is None
    assert parse_uuid("") is None
