"""Stream provisioning is idempotent and repairs drift, against a real JetStream."""

import pytest
from nats.js.api import StorageType, StreamConfig

from crm_platform.events.streams import (
    DEADLETTER_STREAM,
    DUPLICATE_WINDOW_SECONDS,
    ensure_deadletter_stream,
    ensure_service_stream,
    stream_name,
)

from .events_support import nats_connection, unique_service

pytestmark = pytest.mark.integration


async def test_service_streams_are_created_once_and_drift_is_repaired(nats_url: str) -> None:
    service = unique_service()
    name = stream_name(service)
    async with nats_connection(nats_url) as nc:
        js = nc.jetstream()
        created = await ensure_service_stream(js, service)
        assert created.config.subjects == [f"crm.{service}.>"]
        assert created.config.storage == StorageType.FILE
        assert created.config.duplicate_window == DUPLICATE_WINDOW_SECONDS

        await js.publish(f"crm.{service}.account.created.v1", b"kept")
        again = await ensure_service_stream(js, service)  # a second start changes nothing
        assert again.state.messages == 1

        # Someone narrowed the subjects and shortened the dedupe window by hand.
        await js.update_stream(
            StreamConfig(
                name=name,
                subjects=[f"crm.{service}.account.>"],
                storage=StorageType.FILE,
                duplicate_window=5,
            )
        )
        repaired = await ensure_service_stream(js, service)
        assert repaired.config.subjects == [f"crm.{service}.>"]
        assert repaired.config.duplicate_window == DUPLICATE_WINDOW_SECONDS
        assert repaired.state.messages == 1  # an update, not a re-creation


async def test_the_dead_letter_stream_takes_every_consumers_dead_letters(nats_url: str) -> None:
    async with nats_connection(nats_url) as nc:
        js = nc.jetstream()
        await ensure_deadletter_stream(js)
        info = await ensure_deadletter_stream(js)
    assert info.config.name == DEADLETTER_STREAM
    assert info.config.subjects == ["crm_deadletter.>"]
    assert info.config.storage == StorageType.FILE
