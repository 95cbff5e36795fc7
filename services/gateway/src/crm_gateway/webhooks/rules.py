"""What a webhook receives, how it is signed and when a failed delivery is tried again;
no framework code here.

Event types are the public names of the suite's events: `crm.customer.account.created.v1`
is `account.created`. A webhook subscribes to types or patterns (`account.*`, `*`), and
receives an event only when its owner may read the record the event is about.
"""

import datetime as dt
import hashlib
import hmac
import ipaddress
import random
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from crm_platform.auth.principal import Action, Principal
from crm_platform.errors import FieldViolation, InvalidArgument

# object -> the record changes it publishes; a new event type is one line here.
PUBLISHED: Mapping[str, tuple[str, ...]] = {
    "account": ("created", "updated", "deleted"),
    "contact": ("created", "updated", "deleted"),
}
EVENT_TYPES = tuple(f"{obj}.{change}" for obj, changes in PUBLISHED.items() for change in changes)
# What partners never receive, as in every answer the services give them.
INTERNAL_FIELDS = ("internal_notes",)
SIGNATURE_VERSION = "v1"
MAX_URL_LENGTH = 2000


def event_type_of(subject: str) -> str | None:
    """`crm.customer.account.created.v1` -> `account.created`; None for anything else."""
    parts = subject.split(".")
    if len(parts) != 5 or parts[0] != "crm":
        return None
    found = f"{parts[2]}.{parts[3]}"
    return found if found in EVENT_TYPES else None


def check_event_types(patterns: Iterable[str]) -> tuple[str, ...]:
    """Known types, `<object>.*` or `*`; InvalidArgument naming the unknown ones."""
    wanted = tuple(dict.fromkeys(patterns))
    unknown = [p for p in wanted if not any(matches((p,), t) for t in EVENT_TYPES)]
    if not wanted or unknown:
        why = f"unknown event types: {', '.join(unknown)}" if unknown else "name at least one"
        raise InvalidArgument([FieldViolation("event_types", why)])
    return wanted


def matches(patterns: Iterable[str], event_type: str) -> bool:
    obj = event_type.split(".", 1)[0]
    return any(p in ("*", event_type, f"{obj}.*") for p in patterns)


@dataclass(frozen=True)
class Subject:
    """The record an event is about, as far as visibility goes."""

    obj: str
    owner_id: uuid.UUID | None
    team_id: uuid.UUID | None
    partner_id: uuid.UUID | None


def may_read(owner: Principal, subject: Subject) -> bool:
    """Whether the webhook's owner could read the record: the same rule the services apply."""
    scope = owner.scope(subject.obj, Action.READ)
    return scope is not None and owner.reaches(
        scope, owner_id=subject.owner_id, team_id=subject.team_id, partner_id=subject.partner_id
    )


def payload_for(owner: Principal, record: Mapping[str, Any]) -> dict[str, Any]:
    """The record as its owner may see it: partners never see internal fields."""
    if owner.partner_id is None:
        return dict(record)
    return {k: v for k, v in record.items() if k not in INTERNAL_FIELDS}


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`: the timestamp is signed too, so a
    receiver that rejects old timestamps cannot be fed a replay."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def retry_delay(attempt: int, *, base: float, cap: float, jitter: float | None = None) -> float:
    """Seconds before attempt `attempt + 1`: exponential from `base`, at most `cap`, with up
    to a quarter of jitter so a receiver coming back is not hit by every sender at once."""
    exact = min(cap, base * 2 ** (attempt - 1))
    spread = random.random() if jitter is None else jitter  # noqa: S311 - not a secret
    return exact * (0.75 + 0.25 * spread)


def check_url(url: str, *, allow_http: bool, allow_private: bool) -> str:
    """An absolute https (or, when allowed, http) URL without credentials, whose host is
    not one of our own addresses. Names are resolved only when sending (DNS may change
    meanwhile, and subscribing should not wait on it)."""
    parts = urlsplit(url)
    problems = []
    if len(url) > MAX_URL_LENGTH:
        problems.append(f"must be at most {MAX_URL_LENGTH} characters")
    if parts.scheme not in (("https", "http") if allow_http else ("https",)):
        problems.append("must be an https URL" if not allow_http else "must be an http(s) URL")
    if not parts.hostname:
        problems.append("must name a host")
    elif not _is_address(parts.hostname) and not _HOST_NAME.fullmatch(parts.hostname):
        # Not "127.1", "2130706433" or "0x7f000001" either: numbers that are addresses to
        # the resolver, and no name a TLD ends (every TLD begins with a letter).
        problems.append("must name a host: letters, digits, hyphens, a top-level domain")
    try:
        if parts.port == 0:
            problems.append("must have a port from 1 to 65535")
    except ValueError:
        problems.append("must have a port from 1 to 65535")
    if parts.username or parts.password:
        problems.append("must not carry credentials; the signature authenticates us")
    if parts.hostname and not host_allowed(parts.hostname, allow_private=allow_private):
        problems.append("must not name a private, loopback or link-local address")
    if problems:
        raise InvalidArgument([FieldViolation("url", "; ".join(problems))])
    return url


# Labels of letters (any script), digits and inner hyphens; the last one begins with a
# letter, as every top-level domain does.
_HOST_NAME = re.compile(r"(?:[^\W_](?:[\w-]*[^\W_])?\.)*[^\W\d_](?:[\w-]*[^\W_])?\.?")


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def host_allowed(host: str, *, allow_private: bool) -> bool:
    """For a host name, whether it is obviously ours; for an address, address_allowed."""
    try:
        return address_allowed(host, allow_private=allow_private)
    except ValueError:
        name = host.lower().rstrip(".")
        ours = name in ("localhost", "localhost6") or name.endswith(".localhost")
        return allow_private or not ours


def address_allowed(address: str, *, allow_private: bool) -> bool:
    """Whether a webhook may be sent to `address`: never to our own network unless allowed,
    so a subscriber cannot make the gateway call what only it can reach."""
    parsed = ipaddress.ip_address(address)
    if allow_private:
        return True
    return parsed.is_global and not parsed.is_multicast


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
