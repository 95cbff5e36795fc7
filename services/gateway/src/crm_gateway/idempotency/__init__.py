"""Idempotency-Key (DESIGN §8): a POST retried with the same key has its effect once."""
