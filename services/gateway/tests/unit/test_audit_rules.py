"""How write requests become audit events: names, ids, bodies without secrets, client IPs,
and the query's cursor."""

import base64
import datetime as dt
import json
import uuid

import pytest

from crm_gateway.audit.domain import Actor, AuditChange, AuditQuery, RequestFacts
from crm_gateway.audit.queries import checked_query, decode_cursor, encode_cursor
from crm_gateway.audit.rules import (
    MAX_AFTER_BYTES,
    MAX_DEPTH,
    TOO_DEEP,
    client_ip,
    events_for,
    generic_change,
    parse_networks,
    resource_of,
    without_secrets,
)
from crm_platform.errors import InvalidArgument

PROXIES = parse_networks(["10.0.0.0/8", "127.0.0.1"])


@pytest.mark.parametrize(
    ("route", "resource"),
    [
        ("/api/v1/accounts", "account"),
        ("/api/v1/accounts/{account_id}", "account"),
        ("/api/v1/accounts/{account_id}/contacts", "contact"),
        ("/api/v1/opportunities/{id}", "opportunity"),
        ("/api/v1/price-books", "price_book"),
        ("/api/v1/kb/articles/{id}", "article"),
        ("/api/v1/addresses", "address"),
    ],
)
def test_the_resource_is_the_last_literal_segment_singular(route: str, resource: str) -> None:
    assert resource_of(route) == resource


def test_a_created_record_is_named_by_its_location() -> None:
    change = generic_change(
        method="POST",
        route="/api/v1/accounts/{account_id}/contacts",
        path_params={"account_id": "a1"},
        status=201,
        location="/api/v1/contacts/c9",
        body=b'{"first_name": "Ada"}',
        is_json=True,
    )
    assert (change.action, change.object_type, change.object_id) == (
        "contact.create",
        "contact",
        "c9",
    )
    assert change.after == {"first_name": "Ada"}


def test_a_changed_or_deleted_record_is_named_by_its_path() -> None:
    update = generic_change(
        method="PATCH", route="/api/v1/accounts/{account_id}", path_params={"account_id": "a1"},
        status=412, location=None, body=b'{"name": "X"}', is_json=True,
    )  # fmt: skip
    assert (update.action, update.object_id, update.after) == (
        "account.update",
        "a1",
        {"name": "X"},
    )
    gone = generic_change(
        method="DELETE", route="/api/v1/accounts/{account_id}", path_params={"account_id": "a1"},
        status=204, location=None, body=b"", is_json=False,
    )  # fmt: skip
    assert (gone.action, gone.object_id, gone.after) == ("account.delete", "a1", None)


@pytest.mark.parametrize(
    ("route", "params", "named"),
    [
        ("/api/v1/contacts/{record_id}/merge", {"record_id": "c1"}, ("contact.merge", "c1")),
        ("/api/v1/api-keys/{key_id}/rotate", {"key_id": "k1"}, ("api_key.rotate", "k1")),
        (
            "/api/v1/webhooks/{webhook_id}/rotate-secret",
            {"webhook_id": "w1"},
            ("webhook.rotate_secret", "w1"),
        ),
        (
            "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/resend",
            {"webhook_id": "w1", "delivery_id": "d1"},
            ("webhook.resend", "w1"),
        ),
        ("/api/v1/kb/articles/{id}/publish", {"id": "a1"}, ("article.publish", "a1")),
    ],
)
@pytest.mark.parametrize("status", [200, 202, 404, 409, 422])
def test_an_action_on_a_record_is_named_by_its_verb_whatever_its_outcome(
    route: str, params: dict[str, str], named: tuple[str, str], status: int
) -> None:
    change = generic_change(
        method="POST", route=route, path_params=params, status=status,
        location=None, body=b"{}", is_json=True,
    )  # fmt: skip
    assert (change.action, change.object_id) == named
    assert change.object_type == named[0].split(".")[0]


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
def test_a_record_is_named_by_its_canonical_id_whatever_spelling_the_path_used(
    method: str,
) -> None:
    record_id = "01a25396-ed9d-73d6-beca-e907bdc24f52"
    route = (
        "/api/v1/contacts/{record_id}/merge" if method == "POST" else "/api/v1/contacts/{record_id}"
    )
    for spelling in (record_id.upper(), f"urn:uuid:{record_id}", "{" + record_id + "}"):
        change = generic_change(
            method=method, route=route, path_params={"record_id": spelling}, status=404,
            location=None, body=b"{}", is_json=True,
        )  # fmt: skip
        assert change.object_id == record_id
    role = generic_change(
        method="DELETE", route="/api/v1/roles/{name}", path_params={"name": "Sales-Lead"},
        status=204, location=None, body=b"", is_json=False,
    )  # fmt: skip
    assert role.object_id == "Sales-Lead"


def test_a_post_to_a_collection_below_a_record_creates_in_it() -> None:
    change = generic_change(
        method="POST", route="/api/v1/accounts/{record_id}/loyalty-entries",
        path_params={"record_id": "a1"}, status=422, location=None, body=b"{}", is_json=True,
    )  # fmt: skip
    assert (change.action, change.object_id) == ("loyalty_entry.create", "a1")


def test_secrets_are_removed_at_any_depth() -> None:
    body = {
        "name": "n",
        "Password": "p",
        "nested": [{"client_secret": "s", "refresh_token": "t", "keep": True}],
        "api_key_hash": "h",
    }
    assert without_secrets(body) == {"name": "n", "nested": [{"keep": True}]}


def test_large_or_odd_bodies_are_not_stored_as_they_came() -> None:
    def after_of(body: bytes, is_json: bool = True) -> object:
        return generic_change(
            method="POST", route="/api/v1/accounts", path_params={}, status=422,
            location=None, body=body, is_json=is_json,
        ).after  # fmt: skip

    huge = b'{"notes": "' + b"x" * MAX_AFTER_BYTES + b'"}'
    assert after_of(huge) == {"truncated_bytes": MAX_AFTER_BYTES + 12}
    assert after_of(b"{not json") == {"unparsable_bytes": 9}
    assert after_of(b"[1, 2]") == {"body": [1, 2]}
    assert after_of(b"username=a&password=b", is_json=False) is None


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.5", ["198.51.100.1"], "203.0.113.5"),  # untrusted peer: XFF ignored
        ("127.0.0.1", ["198.51.100.1"], "198.51.100.1"),
        ("10.1.1.1", ["6.6.6.6, 198.51.100.1, 10.2.2.2"], "198.51.100.1"),  # nearest untrusted
        ("10.1.1.1", ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),  # several headers
        ("10.1.1.1", [], "10.1.1.1"),
        ("10.1.1.1", ["not-an-ip"], "10.1.1.1"),
        ("10.1.1.1", ["10.3.3.3"], "10.3.3.3"),  # all trusted: the farthest one
        (None, ["198.51.100.1"], None),
    ],
)
def test_client_ip_believes_only_trusted_proxies(
    peer: str | None, forwarded: list[str], expected: str | None
) -> None:
    assert client_ip(peer, forwarded, PROXIES) == expected


def test_cursors_round_trip_and_strangers_are_refused() -> None:
    position = (dt.datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=dt.UTC), uuid.uuid4())
    cursor = encode_cursor(position)
    assert decode_cursor(cursor) == position
    assert encode_cursor(None) is None
    assert decode_cursor(None) is None
    for stranger in (
        "%%%",
        "bm90IGEgY3Vyc29y",
        base64.urlsafe_b64encode(f"2026-01-02T03:04:05|{position[1]}".encode()).decode(),
    ):
        with pytest.raises(InvalidArgument):
            decode_cursor(stranger)


def test_time_windows_need_zones_and_order() -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert checked_query(AuditQuery(since=start, until=start)).since == start
    with pytest.raises(InvalidArgument):
        checked_query(AuditQuery(since=start.replace(tzinfo=None)))
    with pytest.raises(InvalidArgument):
        checked_query(AuditQuery(since=start, until=start - dt.timedelta(seconds=1)))


def test_text_the_database_cannot_store_is_replaced() -> None:
    body = {"name": "a\x00b", "note\x00": ["\udfd3x"], "ok": "é"}
    assert without_secrets(body) == {"name": "a\ufffdb", "note\ufffd": ["?x"], "ok": "é"}


def refused_body(body: bytes) -> object:
    return generic_change(
        method="POST", route="/api/v1/contacts", path_params={}, status=422,
        location=None, body=body, is_json=True,
    ).after  # fmt: skip


def test_numbers_json_has_not_are_kept_as_text() -> None:
    """PostgreSQL's JSONB refuses NaN and Infinity, which Python's parser reads."""
    after = refused_body(b'{"a": NaN, "b": [Infinity, -Infinity, 1e999], "c": 1.5}')
    assert after == {"a": "NaN", "b": ["Infinity", "-Infinity", "Infinity"], "c": 1.5}
    json.dumps(after, allow_nan=False)


def test_deep_bodies_are_cut_rather_than_followed() -> None:
    parsable = b'{"a":' * 100 + b"1" + b"}" * 100
    after = refused_body(parsable)
    for _ in range(MAX_DEPTH):
        assert isinstance(after, dict)
        after = after["a"]
    assert after == TOO_DEEP
    beyond_python = b"[" * 5000 + b"]" * 5000
    assert refused_body(beyond_python) == {"unparsable_bytes": 10_000}


def test_every_field_of_an_event_is_storable() -> None:
    """A path id with NUL (`DELETE /api/v1/users/%00`) or a noted value with NaN must not
    make the insert fail: the request would then be answered 503."""
    facts = RequestFacts(
        actor=Actor(None, "anonymous"), method="DELETE", route="/api/v1/users/{user_id}",
        status=404, client_ip="127.0.0.1", user_agent="agent\x00", trace_id=None,
    )  # fmt: skip
    generic = generic_change(
        method="DELETE", route=facts.route, path_params={"user_id": "\x00"}, status=404,
        location=None, body=b"", is_json=False,
    )  # fmt: skip
    (event,) = events_for(facts, [], generic)
    assert (event.object_id, event.user_agent) == ("\ufffd", "agent\ufffd")
    noted = AuditChange("role.update", "role", "r\x00", {"n": float("nan")}, {"x": ["\x00"]})
    (event,) = events_for(facts, [noted], generic)
    assert (event.object_id, event.before, event.after) == (
        "r\ufffd",
        {"n": "NaN"},
        {"x": ["\ufffd"]},
    )
