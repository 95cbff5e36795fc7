"""Outbound events: domain record events -> protobuf payloads -> outbox rows."""
