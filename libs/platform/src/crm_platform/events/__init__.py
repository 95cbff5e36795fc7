"""Events between services: transactional outbox -> relay -> JetStream -> idempotent consumers.

One module per concern, imported directly (this package imports none of them, so that
`python -m crm_platform.events.relay` / `.deadletter` run their modules cleanly):

- `envelope`: the headers around a protobuf payload (`Envelope`, `EnvelopeError`);
- `schema`: the outbox and inbox tables and their migration helpers;
- `outbox`: `OutboxEvent`, `write_events` (in the caller's transaction);
- `streams`: stream names and idempotent provisioning, the dead-letter stream;
- `connection`: `connect_nats`, a connection that never gives up;
- `relay`: `OutboxRelay` (and `relay_cli`, its process entry point);
- `consumer`: `EventConsumer`, `Handler`;
- `deadletter`: dead-lettering, `redrive` and its CLI;
- `metrics`, `listener`, `failures`: their supporting parts.
"""
