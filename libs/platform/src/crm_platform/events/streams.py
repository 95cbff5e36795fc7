"""JetStream streams: one per publishing service, plus the shared dead-letter stream.

Provisioning is idempotent and runs at every start (and reconnect): it creates a missing
stream and brings a drifted one back to the configuration below.
"""

import logging
from collections.abc import Sequence

from nats.js.api import StorageType, StreamConfig, StreamInfo
from nats.js.client import JetStreamContext
from nats.js.errors import BadRequestError, NotFoundError

log = logging.getLogger(__name__)

# Long enough to cover a relay retrying a batch after a crash or a timed-out ack (its rows
# are republished with the same Nats-Msg-Id within seconds); anything later is the inbox's job.
DUPLICATE_WINDOW_SECONDS = 120.0

DEADLETTER_STREAM = "CRM_DEADLETTER"
DEADLETTER_PREFIX = "crm_deadletter"


def _token(service: str) -> str:
    return service.strip().lower().replace("-", "_")


def stream_name(service: str) -> str:
    """`service-desk` -> `CRM_SERVICE_DESK`."""
    return f"CRM_{_token(service).upper()}"


def stream_subjects(service: str) -> list[str]:
    """`service-desk` -> `["crm.service_desk.>"]`."""
    return [f"crm.{_token(service)}.>"]


def deadletter_subject(consumer: str) -> str:
    return f"{DEADLETTER_PREFIX}.{consumer}"


async def ensure_stream(
    js: JetStreamContext,
    name: str,
    subjects: Sequence[str],
    *,
    replicas: int = 1,
    max_age_seconds: float | None = None,
) -> StreamInfo:
    """Create the stream, or update it when its subjects or limits differ; safe to repeat.

    File storage always: events are the only record of what consumers have yet to apply.
    """
    wanted = StreamConfig(
        name=name,
        subjects=list(subjects),
        storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        num_replicas=replicas,
        max_age=max_age_seconds,
    )
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        try:
            return await js.add_stream(wanted)
        except BadRequestError:
            # Another replica created it between our look and our add; compare with theirs.
            info = await js.stream_info(name)
    current = info.config
    if current.storage != StorageType.FILE:
        raise RuntimeError(f"stream {name} uses {current.storage} storage; recreate it as file")
    if _differs(current, wanted):
        log.info("updating stream configuration", extra={"stream": name})
        return await js.update_stream(
            current.evolve(
                subjects=wanted.subjects,
                duplicate_window=wanted.duplicate_window,
                num_replicas=max(current.num_replicas or 1, wanted.num_replicas or 1),
                max_age=wanted.max_age,
            )
        )
    return info


def _differs(current: StreamConfig, wanted: StreamConfig) -> bool:
    return (
        sorted(current.subjects or []) != sorted(wanted.subjects or [])
        or abs((current.duplicate_window or 0) - (wanted.duplicate_window or 0)) > 1e-3
        # Replicas only ever grow here: a tool started with the default must not shrink a
        # stream that operators (or a service's settings) replicated.
        or (current.num_replicas or 1) < (wanted.num_replicas or 1)
        or abs((current.max_age or 0) - (wanted.max_age or 0)) > 1e-3
    )


async def ensure_service_stream(
    js: JetStreamContext, service: str, *, replicas: int = 1
) -> StreamInfo:
    return await ensure_stream(
        js, stream_name(service), stream_subjects(service), replicas=replicas
    )


async def ensure_deadletter_stream(js: JetStreamContext, *, replicas: int = 1) -> StreamInfo:
    # No age limit: a dead letter leaves only by re-drive or a deliberate purge.
    return await ensure_stream(js, DEADLETTER_STREAM, [f"{DEADLETTER_PREFIX}.>"], replicas=replicas)
