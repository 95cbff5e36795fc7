"""How a write request becomes audit events; no framework code here.

Routes that note their changes get one event per change. Any other write gets one generic
event derived from the request: `<resource>.<create|update|delete>`, the object id from the
path or from the `Location` of a 201, and the JSON body (bounded, secrets removed) as
`after`; an action on a record (`POST /contacts/{id}/merge`) is `<record>.<action>`.
"""

import datetime as dt
import ipaddress
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from crm_gateway.audit.domain import AuditChange, AuditEvent, RequestFacts
from crm_platform.ids import parse_uuid, uuid7

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_VERBS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}
API_PREFIX = "/api/v1/"
# A stored body past this is replaced by a note of its size: the trail is no file store.
MAX_AFTER_BYTES = 8 * 1024
# Any field whose name contains one of these never reaches the trail, at any depth.
_SECRET_MARKERS = ("password", "secret", "token", "api_key")
MAX_OBJECT_ID = 100
MAX_USER_AGENT = 512
MAX_CLIENT_IP = 64
# How deep a request body may nest: deeper is refused before any route runs (422,
# api/json_body.py), and the trail keeps such a refused body cut here, rather than
# recurse as deep as a client likes.
MAX_DEPTH = 32
TOO_DEEP = "(nested too deep)"

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def audited(method: str, path: str) -> bool:
    return method in WRITE_METHODS and path.startswith(API_PREFIX)


def events_for(
    facts: RequestFacts, changes: Sequence[AuditChange], generic: AuditChange
) -> list[AuditEvent]:
    """One event per noted change, or the generic one when the route noted nothing."""
    occurred_at = dt.datetime.now(dt.UTC)
    return [
        AuditEvent(
            id=uuid7(),
            occurred_at=occurred_at,
            actor=facts.actor,
            action=_bounded(change.action, 100) or "",
            object_type=_bounded(change.object_type, 50) or "",
            object_id=_bounded(change.object_id, MAX_OBJECT_ID),
            method=facts.method,
            route=_bounded(facts.route, 200) or "",
            status=facts.status,
            client_ip=_bounded(facts.client_ip, MAX_CLIENT_IP),
            user_agent=_bounded(facts.user_agent, MAX_USER_AGENT),
            trace_id=facts.trace_id,
            before=storable(change.before),
            after=storable(change.after),
        )
        for change in (changes or [generic])
    ]


def generic_change(
    *,
    method: str,
    route: str,
    path_params: Mapping[str, str],
    status: int,
    location: str | None,
    body: bytes,
    is_json: bool,
) -> AuditChange:
    after = bounded_json(body) if is_json and method != "DELETE" else None
    if method == "POST" and (action := _action(route, path_params)) is not None:
        verb, record_type, record_id = action
        return AuditChange(f"{record_type}.{verb}", record_type, record_id, after=after)
    object_type = resource_of(route)
    object_id: str | None = None
    if status == 201 and location:
        object_id = location.rstrip("/").rsplit("/", 1)[-1]
    elif path_params:
        object_id = _canonical(str(list(path_params.values())[-1]))
    return AuditChange(f"{object_type}.{_VERBS[method]}", object_type, object_id, after=after)


def _canonical(path_id: str) -> str:
    """A record's id as the trail keeps it whatever spelling the path used (upper case,
    `urn:uuid:`, braces: the API takes them all), so a search by id finds every request
    about the record; other path values (a role's name) as they are."""
    parsed = parse_uuid(path_id)
    return path_id if parsed is None else str(parsed)


def resource_of(route: str) -> str:
    """`/api/v1/price-books/{id}` -> `price_book`: the last literal segment, singular."""
    literal = [s for s in _segments(route) if "{" not in s]
    return _singular(literal[-1] if literal else "api")


def _action(route: str, path_params: Mapping[str, str]) -> tuple[str, str, str | None] | None:
    """An action on a record, `POST /contacts/{id}/merge`: its verb, and the record's type
    and id (the collection before the first path parameter, and that parameter); None
    for a POST to a collection, whose name is plural (`/accounts/{id}/loyalty-entries`).
    Named so whether it succeeded or was refused, as routes that note their own change
    name it (`api_key.rotate`, `webhook.resend`)."""
    segments = _segments(route)
    if len(segments) < 3 or "{" in segments[-1] or "{" not in segments[-2]:
        return None
    if segments[-1].endswith("s"):
        return None
    first = next(i for i, segment in enumerate(segments) if "{" in segment)
    if first == 0:
        return None
    record_id = path_params.get(segments[first].strip("{}"))
    if record_id is not None:
        record_id = _canonical(record_id)
    return segments[-1].replace("-", "_"), _singular(segments[first - 1]), record_id


def _segments(route: str) -> list[str]:
    return [s for s in route.removeprefix(API_PREFIX).split("/") if s]


def _singular(name: str) -> str:
    name = name.replace("-", "_").replace(".", "_")
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("sses"):
        return name[:-2]
    return name.removesuffix("s")


def bounded_json(body: bytes) -> dict[str, Any] | None:
    """The JSON body with secrets removed, or a note of its size when it is too large."""
    if not body:
        return None
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):  # nested past what Python parses, too
        return {"unparsable_bytes": len(body)}
    cleaned = without_secrets(parsed)
    size = len(json.dumps(cleaned, separators=(",", ":")).encode())
    if size > MAX_AFTER_BYTES:
        return {"truncated_bytes": size}
    return cleaned if isinstance(cleaned, dict) else {"body": cleaned}


def without_secrets(value: Any) -> Any:
    """`value` without secret fields, and storable: a refused body (422) is on record too."""
    return storable(value, keep_secrets=False)


def storable(value: Any, *, keep_secrets: bool = True, depth: int = 0) -> Any:
    """`value` as PostgreSQL can store it: JSONB refuses NUL and the numbers JSON has not
    (NaN, Infinity), UTF-8 has no lone surrogates, and nesting is cut at MAX_DEPTH."""
    if isinstance(value, dict | list | tuple) and depth >= MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        return {
            _storable(str(key)): storable(item, keep_secrets=keep_secrets, depth=depth + 1)
            for key, item in value.items()
            if keep_secrets or not any(m in str(key).lower() for m in _SECRET_MARKERS)
        }
    if isinstance(value, list | tuple):
        return [storable(item, keep_secrets=keep_secrets, depth=depth + 1) for item in value]
    if isinstance(value, str):
        return _storable(value)
    if isinstance(value, float) and not math.isfinite(value):
        return json.dumps(value)  # as the client wrote it: "NaN", "Infinity" or "-Infinity"
    return value


def _storable(text: str) -> str:
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def parse_networks(entries: Iterable[str]) -> tuple[IpNetwork, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def client_ip(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[IpNetwork]
) -> str | None:
    """The socket peer, unless it is a trusted proxy: then the nearest untrusted address
    in X-Forwarded-For, read from the right (anything left of it may be forged)."""
    if peer is None or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop if _is_address(hop) else peer
    return hops[0] if hops else peer


def _is_trusted(address: str, trusted: Sequence[IpNetwork]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in trusted)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _bounded(text: str | None, limit: int) -> str | None:
    """Text fit for its column: any of it may come from the request's path or headers."""
    return _storable(text[:limit]) if text is not None else None
