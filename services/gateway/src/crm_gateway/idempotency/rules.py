"""What a key may look like, what makes two requests the same, and what a repeat gets.

No framework and no storage here: the middleware and the store meet through these types.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

HEADER = "idempotency-key"
REPLAYED_HEADER = "idempotent-replayed"
MAX_KEY_LENGTH = 255
TTL_SECONDS = 24 * 3600
# A claim never completed by then belongs to a process that died mid-request; another
# request may take the key over. Handlers are bounded by the gRPC deadline (seconds).
ABANDONED_AFTER_SECONDS = 60
# Replayed with the body; the rest (Date, Server, Content-Length) belongs to each answer.
KEPT_HEADERS = ("content-type", "location", "etag")


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Existing:
    """A key already claimed: by which request, and its answer once it has one."""

    fingerprint: str
    response: StoredResponse | None


@dataclass(frozen=True)
class Replay:
    response: StoredResponse


@dataclass(frozen=True)
class InFlight:
    pass


@dataclass(frozen=True)
class Mismatch:
    pass


Repeat = Replay | InFlight | Mismatch


def key_problem(key: str) -> str | None:
    """Why `key` cannot be an idempotency key, or None when it can."""
    if not key.strip():
        return "must not be empty"
    if len(key) > MAX_KEY_LENGTH:
        return f"must be at most {MAX_KEY_LENGTH} characters"
    if not all(" " <= char <= "~" for char in key):
        return "must be printable ASCII"
    return None


def fingerprint(method: str, target: str, body: bytes) -> str:
    """Method, path with query and body hash: a repeat must match all three."""
    digest = hashlib.sha256()
    for part in (method.encode(), target.encode(), hashlib.sha256(body).digest()):
        digest.update(len(part).to_bytes(4, "big"))
        digest.update(part)
    return digest.hexdigest()


def repeat_of(existing: Existing, request_fingerprint: str) -> Repeat:
    if existing.fingerprint != request_fingerprint:
        return Mismatch()
    if existing.response is None:
        return InFlight()
    return Replay(existing.response)


def worth_keeping(status: int) -> bool:
    """Answers a retry could change are not kept: server errors, 429 (retry later), and
    refusals of a request's form or precondition: nothing was done, and the retry that
    fixes its Content-Type, size or If-Match is the same request to the key's fingerprint
    (method, path and body)."""
    return status < 500 and status not in _NOT_KEPT


_NOT_KEPT = frozenset({400, 412, 413, 415, 428, 429})


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: headers[name] for name in KEPT_HEADERS if name in headers}
