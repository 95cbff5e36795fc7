"""The local stack behind `make run/up/down/status`: PostgreSQL, NATS and every service."""
