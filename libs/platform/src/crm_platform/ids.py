"""Time-ordered UUIDv7 ids (RFC 9562), so new rows land at the end of their indexes.

Within one millisecond the 12-bit `rand_a` field is a counter (RFC 9562 §6.2, method 1), so
ids made by one process are strictly increasing: keyset pages follow creation order.
"""

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0
# Random bits read from the OS a few thousand ids at a time: one system call per id was a
# twentieth of an import's CPU. Dropped in a forked child, which must not repeat them.
_POOL_BYTES = 8 * 1024
_pool = b""
_taken = 0


def _forget_pool() -> None:
    global _pool, _taken
    _pool, _taken = b"", 0


os.register_at_fork(after_in_child=_forget_pool)


def uuid7() -> uuid.UUID:
    global _last_ms, _counter, _pool, _taken
    with _lock:
        unix_ms = time.time_ns() // 1_000_000
        if unix_ms > _last_ms:
            _last_ms, _counter = unix_ms, int.from_bytes(os.urandom(2), "big") & 0x3FF
        else:
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                _last_ms, _counter = _last_ms + 1, 0
        unix_ms, counter = _last_ms, _counter
        if _taken == len(_pool):
            _pool, _taken = os.urandom(_POOL_BYTES), 0
        random = int.from_bytes(_pool[_taken : _taken + 8], "big")
        _taken += 8
    value = (unix_ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76  # version
    value |= counter << 64
    value |= 0b10 << 62  # RFC 4122 variant
    value |= random & 0x3FFF_FFFF_FFFF_FFFF
    return uuid.UUID(int=value)


def parse_uuid(text: str) -> uuid.UUID | None:
    """The UUID in `text`, or None when it is not one (callers turn that into NOT_FOUND)."""
    try:
        return uuid.UUID(text)
    except (ValueError, AttributeError, TypeError):
        return None
