"""Prometheus metrics of the outbox relay and event consumers (default registry)."""

from prometheus_client import Counter, Gauge, Histogram

OUTBOX_PUBLISHED = Counter("crm_outbox_published_total", "Outbox events acknowledged by JetStream.")
OUTBOX_PUBLISH_FAILURES = Counter(
    "crm_outbox_publish_failures_total",
    "Outbox publishes that failed or timed out (the rows are retried).",
)
OUTBOX_BACKLOG = Gauge("crm_outbox_backlog", "Outbox rows not yet published.")
OUTBOX_OLDEST_AGE = Gauge(
    "crm_outbox_oldest_unpublished_age_seconds",
    "Age of the oldest unpublished outbox row (0 when there is none).",
)

_CONSUMER = ["consumer"]
CONSUMER_PROCESSED = Counter(
    "crm_consumer_processed_total", "Events whose handler ran and committed.", _CONSUMER
)
CONSUMER_UNHANDLED = Counter(
    "crm_consumer_unhandled_total",
    "Events of a type the consumer has no handler for (recorded and acked).",
    _CONSUMER,
)
CONSUMER_DUPLICATES = Counter(
    "crm_consumer_duplicates_skipped_total",
    "Deliveries skipped because the inbox had already recorded the event.",
    _CONSUMER,
)
CONSUMER_REDELIVERIES = Counter(
    "crm_consumer_redeliveries_total", "Deliveries with num_delivered > 1.", _CONSUMER
)
CONSUMER_FAILURES = Counter(
    "crm_consumer_handler_failures_total",
    "Handler (or its transaction) failures; the message is retried or dead-lettered.",
    _CONSUMER,
)
CONSUMER_DEAD_LETTERS = Counter(
    "crm_consumer_dead_letters_total", "Messages moved to the dead-letter stream.", _CONSUMER
)
CONSUMER_LAG = Gauge(
    "crm_consumer_lag", "Messages in the stream not yet delivered to the consumer.", _CONSUMER
)
CONSUMER_HANDLER_SECONDS = Histogram(
    "crm_consumer_handler_duration_seconds",
    "Time to apply one event: inbox check, handler and commit.",
    _CONSUMER,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
