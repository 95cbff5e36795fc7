import os
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


RANDOM_BITS = 0x3FFF_FFFF_FFFF_FFFF


def test_the_random_bits_differ_from_id_to_id() -> None:
    randoms = [uuid7().int & RANDOM_BITS for _ in range(5_000)]  # across pool refills
    assert len(set(randoms)) == len(randoms)


def test_a_forked_child_does_not_repeat_its_parents_random_bits() -> None:
    uuid7()  # the parent holds random bits read ahead
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(write, (uuid7().int & RANDOM_BITS).to_bytes(8, "big"))
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    childs = int.from_bytes(os.read(read, 8), "big")
    os.close(read)
    assert childs != uuid7().int & RANDOM_BITS
