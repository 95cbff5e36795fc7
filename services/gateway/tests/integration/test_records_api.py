"""Accounts and contacts over HTTP, served by a fake customer service over real gRPC."""

import uuid

import pytest

from .conftest import (
    Gateway,
    assert_problem,
)

pytestmark = pytest.mark.integration


async def test_create_account_and_read_it_back(gateway: Gateway) -> None:
    auth = await gateway.login()
    created = await gateway.client.post(
        "/api/v1/accounts", json={"name": "Acme GmbH", "tags": ["b2b"]}, headers=auth
    )
    assert created.status_code == 201, created.text
    account = created.json()
    assert account.pop("likely_duplicates") == []
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"] == f"/api/v1/accounts/{account['id']}"
    assert account["version"] == 1
    assert (account["name"], account["tags"], account["industry"]) == ("Acme GmbH", ["b2b"], "")
    assert (account["parent_id"], account["team_id"]) == (None, None)
    assert account["created_at"].endswith("Z")

    fetched = await gateway.client.get(f"/api/v1/accounts/{account['id']}", headers=auth)
    assert fetched.status_code == 200
    assert fetched.json() == account
    assert fetched.headers["etag"] == '"1"'
    again = await gateway.client.get(
        f"/api/v1/accounts/{account['id']}", headers={**auth, "If-None-Match": '"1"'}
    )
    assert again.status_code == 304
    assert again.headers["etag"] == '"1"'


async def test_malformed_and_unknown_ids_are_404(gateway: Gateway) -> None:
    auth = await gateway.login()
    for account_id in ("not-a-uuid", str(uuid.uuid4()), "x" * 500):
        reply = await gateway.client.get(f"/api/v1/accounts/{account_id}", headers=auth)
        assert_problem(reply, 404)


async def test_updates_need_the_current_if_match(gateway: Gateway) -> None:
    auth = await gateway.login()
    account = (
        await gateway.client.post("/api/v1/accounts", json={"name": "V"}, headers=auth)
    ).json()
    url = f"/api/v1/accounts/{account['id']}"
    assert_problem(await gateway.client.patch(url, json={"name": "X"}, headers=auth), 428)
    for tag in ('"two"', 'W/"1"'):
        reply = await gateway.client.patch(
            url, json={"name": "X"}, headers={**auth, "If-Match": tag}
        )
        assert_problem(reply, 412)
    updated = await gateway.client.patch(
        url, json={"industry": "Retail"}, headers={**auth, "If-Match": '"1"'}
    )
    assert updated.status_code == 200, updated.text
    assert (updated.json()["version"], updated.json()["industry"]) == (2, "Retail")
    assert updated.json()["name"] == "V"  # not in the patch, so not in the update mask
    assert updated.headers["etag"] == '"2"'
    stale = await gateway.client.patch(
        url, json={"name": "Lost"}, headers={**auth, "If-Match": '"1"'}
    )
    assert_problem(stale, 412)


async def test_an_if_match_list_matches_when_any_of_its_tags_is_current(
    gateway: Gateway,
) -> None:
    auth = await gateway.login()
    account = (
        await gateway.client.post("/api/v1/accounts", json={"name": "L"}, headers=auth)
    ).json()
    url = f"/api/v1/accounts/{account['id']}"
    for tags in ('"2", "3"', 'W/"1", "3"'):  # a weak tag never matches (strong comparison)
        reply = await gateway.client.patch(
            url, json={"name": "X"}, headers={**auth, "If-Match": tags}
        )
        assert_problem(reply, 412)
    assert gateway.fake.accounts[account["id"]].version == 1
    for version, tags in ((2, '"0", "1"'), (3, '"1", W/"3", "2"')):
        reply = await gateway.client.patch(
            url, json={"name": f"L{version}"}, headers={**auth, "If-Match": tags}
        )
        assert reply.status_code == 200, reply.text
        assert (reply.json()["version"], reply.headers["etag"]) == (version, f'"{version}"')
    padded = await gateway.client.patch(
        url, json={"name": "P"}, headers={**auth, "If-Match": '"03"'}
    )
    assert_problem(padded, 412)  # the ETag is "3", and strong comparison is of the text
    missing = "/api/v1/accounts/01a25396-ed9d-73d6-beca-e907bdc24f52"
    for tags in (",", 'W/"1"'):  # names no version: 412 once found, and a missing one is 404
        gone = await gateway.client.patch(
            missing, json={"name": "M"}, headers={**auth, "If-Match": tags}
        )
        assert_problem(gone, 404)
        stale = await gateway.client.patch(
            url, json={"name": "M"}, headers={**auth, "If-Match": tags}
        )
        assert_problem(stale, 412)
    two_lines = [*auth.items(), ("If-Match", '"9"'), ("If-Match", '"3"')]
    reply = await gateway.client.patch(url, json={"name": "L4"}, headers=two_lines)
    assert reply.status_code == 200, reply.text  # two lines read as one list
    assert reply.json()["version"] == 4


async def test_a_body_that_is_not_json_is_415(gateway: Gateway) -> None:
    auth = await gateway.login()
    body = b'{"name": "T"}'
    for content_type in ("text/plain", "application/xml"):
        reply = await gateway.client.post(
            "/api/v1/accounts", content=body, headers={**auth, "Content-Type": content_type}
        )
        problem = assert_problem(reply, 415)
        assert problem["detail"] == "send the body as application/json"
    assert gateway.fake.accounts == {}

    latin1 = {**auth, "Content-Type": "application/json; charset=latin-1"}
    labelled = await gateway.client.post(
        "/api/v1/accounts", content='{"name": "José"}'.encode("latin-1"), headers=latin1
    )
    assert_problem(labelled, 415)
    assert gateway.fake.accounts == {}
    listed = await gateway.client.get("/api/v1/accounts", headers=latin1)
    assert listed.status_code == 200, listed.text  # a read's Content-Type labels nothing

    utf8 = {**auth, "Content-Type": "application/json; charset=utf-8"}
    created = await gateway.client.post("/api/v1/accounts", content=body, headers=utf8)
    assert created.status_code == 201, created.text
    url = f"/api/v1/accounts/{created.json()['id']}"
    xml = {**auth, "Content-Type": "application/xml", "If-Match": '"1"'}
    refused = await gateway.client.patch(url, content=b"<name>U</name>", headers=xml)
    assert_problem(refused, 415)
    assert refused.headers["accept-patch"] == "application/merge-patch+json, application/json"
    patch = {**auth, "Content-Type": "application/merge-patch+json", "If-Match": '"1"'}
    changed = await gateway.client.patch(url, content=b'{"name": "U"}', headers=patch)
    assert (changed.status_code, changed.json()["name"]) == (200, "U")


async def test_bad_bodies_are_422_with_field_paths(gateway: Gateway) -> None:
    auth = await gateway.login()
    unknown = await gateway.client.post(
        "/api/v1/accounts", json={"name": "X", "owner": "me"}, headers=auth
    )
    body = assert_problem(unknown, 422)
    assert [e["field"] for e in body["errors"]] == ["owner"]  # type: ignore[attr-defined]
    from_service = await gateway.client.post("/api/v1/accounts", json={"name": ""}, headers=auth)
    assert_problem(from_service, 422)
    not_json = await gateway.client.post(
        "/api/v1/accounts", content=b"{", headers={**auth, "Content-Type": "application/json"}
    )
    assert_problem(not_json, 422)
    huge = await gateway.client.post("/api/v1/accounts", json={"name": "x" * 100_000}, headers=auth)
    assert_problem(huge, 413)
    too_long = await gateway.client.get("/api/v1/accounts", params={"limit": 501}, headers=auth)
    assert_problem(too_long, 422)
    assert gateway.fake.accounts == {}


async def test_lists_page_with_an_opaque_cursor(gateway: Gateway) -> None:
    auth = await gateway.login()
    for name in ("A", "B", "C"):
        await gateway.client.post("/api/v1/accounts", json={"name": name}, headers=auth)
    first = (await gateway.client.get("/api/v1/accounts", params={"limit": 2}, headers=auth)).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    rest = await gateway.client.get(
        "/api/v1/accounts", params={"limit": 2, "cursor": first["next_cursor"]}, headers=auth
    )
    assert [a["name"] for a in rest.json()["items"]] == ["C"]
    assert rest.json()["next_cursor"] is None


async def test_contacts_of_an_account(gateway: Gateway) -> None:
    auth = await gateway.login()
    account = (
        await gateway.client.post("/api/v1/accounts", json={"name": "Acme"}, headers=auth)
    ).json()
    created = await gateway.client.post(
        "/api/v1/contacts",
        json={"first_name": "Li", "last_name": "Wei", "account_id": account["id"]},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    contact = created.json()
    assert (contact["account_id"], contact["email"], contact["version"]) == (account["id"], "", 1)
    assert created.headers["location"] == f"/api/v1/contacts/{contact['id']}"
    await gateway.client.post("/api/v1/contacts", json={"first_name": "Solo"}, headers=auth)
    listed = await gateway.client.get(f"/api/v1/accounts/{account['id']}/contacts", headers=auth)
    assert [c["id"] for c in listed.json()["items"]] == [contact["id"]]
    assert listed.json()["next_cursor"] is None
    filtered = await gateway.client.get(
        "/api/v1/contacts", params={"account_id": account["id"]}, headers=auth
    )
    assert [c["id"] for c in filtered.json()["items"]] == [contact["id"]]
    unknown = await gateway.client.get(f"/api/v1/accounts/{uuid.uuid4()}/contacts", headers=auth)
    assert_problem(unknown, 404)
    orphan = await gateway.client.post(
        "/api/v1/contacts", json={"first_name": "X", "account_id": "nope"}, headers=auth
    )
    assert [e["field"] for e in assert_problem(orphan, 422)["errors"]] == ["account_id"]  # type: ignore[attr-defined]


async def test_a_query_parameter_the_operation_does_not_take_is_422(gateway: Gateway) -> None:
    """A misspelt filter is refused, not answered as if there were none."""
    auth = await gateway.login()
    for name in ("Tagged", "Other"):
        await gateway.client.post("/api/v1/accounts", json={"name": name}, headers=auth)
    misspelt = await gateway.client.get(
        "/api/v1/accounts", params={"tags": "vip", "sort": "name", "limit": 5}, headers=auth
    )
    body = assert_problem(misspelt, 422)
    errors = body["errors"]  # type: ignore[index]
    assert [e["field"] for e in errors] == ["query.sort", "query.tags"]
    assert errors[1]["message"] == (
        "is not a parameter here; it takes cursor, custom_field, email, lifecycle, limit,"
        " not_contacted_days, order_by, owner_id, phone, q, region, tag"
    )
    known = await gateway.client.get(
        "/api/v1/accounts",
        params=[("tag", "vip"), ("tag", "key"), ("order_by", "name"), ("limit", "5")],
        headers=auth,
    )
    assert known.status_code == 200, known.text
    twice = await gateway.client.get("/api/v1/accounts?q=Tag&q=Oth&limit=5", headers=auth)
    assert assert_problem(twice, 422)["errors"] == [  # type: ignore[index]
        {"field": "query.q", "message": "is given 2 times; it takes one value"}
    ]
    account_id = next(iter(gateway.fake.accounts))
    read = await gateway.client.get(f"/api/v1/accounts/{account_id}?fields=name", headers=auth)
    assert assert_problem(read, 422)["errors"] == [  # type: ignore[index]
        {"field": "query.fields", "message": "is not a parameter here; it takes none"}
    ]


async def test_null_clears_a_number_and_is_as_good_as_absent_on_a_create(
    gateway: Gateway,
) -> None:
    auth = await gateway.login()
    created = await gateway.client.post(
        "/api/v1/accounts",
        json={"name": "N", "employees": None, "credit_limit": None, "custom_fields": None},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    assert (created.json()["employees"], created.json()["credit_limit"]) == (0, None)
    url = f"/api/v1/accounts/{created.json()['id']}"
    grown = await gateway.client.patch(
        url, json={"employees": 250}, headers={**auth, "If-Match": '"1"'}
    )
    assert grown.json()["employees"] == 250
    cleared = await gateway.client.patch(
        url, json={"employees": None}, headers={**auth, "If-Match": '"2"'}
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["employees"] == 0


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"first_name": "x", "custom_fields": {"a": NaN}}', "custom_fields.a"),
        (b'{"first_name": NaN}', "first_name"),
        (b'{"first_name": "x", "custom_fields": {"a": 1e999}}', "custom_fields.a"),
        (b'{"first_name": "x", "addresses": [{"street": -Infinity}]}', "addresses.0.street"),
        (b"Infinity", "body"),
    ],
)
async def test_numbers_json_has_not_are_422_naming_the_field(
    gateway: Gateway, body: bytes, field: str
) -> None:
    """Python reads NaN, Infinity and 1e999; no service can keep them (it would fail)."""
    auth = await gateway.login()
    reply = await gateway.client.post("/api/v1/contacts", content=body, headers={**auth, **JSON})
    assert assert_problem(reply, 422)["errors"] == [
        {"field": field, "message": "must be a finite number"}
    ]


async def test_a_patch_with_an_infinite_number_is_422(gateway: Gateway) -> None:
    auth = await gateway.login()
    created = await gateway.client.post("/api/v1/accounts", json={"name": "I"}, headers=auth)
    reply = await gateway.client.patch(
        f"/api/v1/accounts/{created.json()['id']}",
        content=b'{"employees": Infinity}',
        headers={**auth, **JSON, "If-Match": '"1"'},
    )
    assert assert_problem(reply, 422)["errors"] == [
        {"field": "employees", "message": "must be a finite number"}
    ]


def nested(opening: bytes, closing: bytes, levels: int) -> bytes:
    return opening * levels + b"1" + closing * levels


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"custom_fields": {"a": ' + nested(b'{"a": ', b"}", 40) + b"}}", "custom_fields"),
        (b'{"custom_fields": {"a": ' + nested(b'{"a": ', b"}", 2000) + b"}}", "body"),
        (b'{"addresses": ' + nested(b"[", b"]", 5000) + b"}", "body"),
    ],
)
async def test_bodies_nested_too_deep_are_422(gateway: Gateway, body: bytes, field: str) -> None:
    """Deeper than anything the API takes; the deepest are past what Python parses."""
    auth = await gateway.login()
    reply = await gateway.client.post("/api/v1/contacts", content=body, headers={**auth, **JSON})
    (error,) = assert_problem(reply, 422)["errors"]  # type: ignore[misc]
    assert error["message"] == "nests more than 32 levels deep"
    assert error["field"].split(".")[0] == field
