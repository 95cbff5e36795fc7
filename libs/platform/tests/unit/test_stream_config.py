from nats.js.api import StorageType, StreamConfig

from crm_platform.events.streams import _differs


def config(replicas: int) -> StreamConfig:
    return StreamConfig(
        name="CRM_X",
        subjects=["crm.x.>"],
        storage=StorageType.FILE,
        duplicate_window=120.0,
        num_replicas=replicas,
    )


def test_more_replicas_than_the_stream_has_is_a_change_to_make() -> None:
    assert _differs(config(1), config(3))


def test_fewer_replicas_never_shrink_a_replicated_stream() -> None:
    assert not _differs(config(3), config(1))
    assert not _differs(config(3), config(3))
