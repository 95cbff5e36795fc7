"""Writing events to the transactional outbox, in the caller's own transaction.

The change and its events commit or roll back together; the relay publishes them later.
"""

import datetime as dt
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from google.protobuf.message import Message
from sqlalchemy import text

from crm_platform.db.engine import Executor
from crm_platform.events.envelope import current_trace_headers
from crm_platform.ids import uuid7

NOTIFY_CHANNEL = "crm_outbox"

# A concrete NATS subject: dot-separated tokens, no wildcards or whitespace. A bad subject
# would sit in the outbox failing forever, so it is refused while the caller can still react.
_SUBJECT = re.compile(r"^[^.*>\s]+(\.[^.*>\s]+)*$")
_CHECKED_SUBJECTS: set[str] = set()

# One statement for any number of events: each column travels as one array parameter, so
# an import of 50,000 rows neither hits the 32,767 bind-parameter limit of a VALUES list
# nor pays a round trip per row. WITH ORDINALITY keeps `seq` in the caller's order.
_INSERT = text(
    """
    INSERT INTO outbox (id, subject, event_type, aggregate_id, aggregate_version,
                        occurred_at, payload, trace_headers)
    SELECT id, subject, event_type, aggregate_id, aggregate_version,
           occurred_at, payload, trace_headers::jsonb
    FROM unnest(
        CAST(:ids AS uuid[]), CAST(:subjects AS text[]), CAST(:event_types AS text[]),
        CAST(:aggregate_ids AS text[]), CAST(:aggregate_versions AS bigint[]),
        CAST(:occurred_ats AS timestamptz[]), CAST(:payloads AS bytea[]),
        CAST(:trace_headers AS text[])
    ) WITH ORDINALITY AS e(id, subject, event_type, aggregate_id, aggregate_version,
                           occurred_at, payload, trace_headers, position)
    ORDER BY position
    """
)
# NOTIFY is delivered at commit (and never on rollback), and repeats within one transaction
# collapse into one, so the relay wakes exactly when there is something to publish.
_NOTIFY = text(f"SELECT pg_notify('{NOTIFY_CHANNEL}', '')")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class OutboxEvent:
    subject: str
    message: Message
    aggregate_id: str
    aggregate_version: int
    event_id: uuid.UUID = field(default_factory=uuid7)
    occurred_at: dt.datetime = field(default_factory=_now)
    # Serialized when the event is made, not when it is written: a caller can do that
    # work ahead, while something else holds the database (an import's batch before).
    payload: bytes = field(init=False, repr=False)

    @property
    def event_type(self) -> str:
        """The message's full proto name, as consumers see it in `Crm-Event-Type`."""
        return str(self.message.DESCRIPTOR.full_name)

    def __post_init__(self) -> None:
        if self.subject not in _CHECKED_SUBJECTS:
            if not _SUBJECT.match(self.subject):
                raise ValueError(f"not a publishable NATS subject: {self.subject!r}")
            if len(_CHECKED_SUBJECTS) < 10_000:  # a service has a few dozen
                _CHECKED_SUBJECTS.add(self.subject)
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")
        object.__setattr__(self, "payload", self.message.SerializeToString())


async def write_events(session: Executor, events: Sequence[OutboxEvent]) -> None:
    """Add `events` to the outbox inside the session's current transaction (no commit)."""
    if not events:
        return
    # Captured now, while the request's span is current; the relay publishes much later.
    trace_headers = json.dumps(current_trace_headers())
    await session.execute(
        _INSERT,
        {
            "ids": [event.event_id for event in events],
            "subjects": [event.subject for event in events],
            "event_types": [event.event_type for event in events],
            "aggregate_ids": [event.aggregate_id for event in events],
            "aggregate_versions": [event.aggregate_version for event in events],
            "occurred_ats": [event.occurred_at for event in events],
            "payloads": [event.payload for event in events],
            "trace_headers": [trace_headers] * len(events),
        },
    )
    await session.execute(_NOTIFY)
