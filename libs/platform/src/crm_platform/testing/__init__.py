"""Real PostgreSQL and NATS servers, started from their pip packages, for tests and the devstack."""
