"""A partner system, through its API key, against the real customer service."""

import uuid

import httpx
import pytest

pytestmark = pytest.mark.e2e


def partner_key(client: httpx.Client, auth: dict[str, str], partner_id: str) -> dict[str, str]:
    issued = client.post(
        "/api/v1/api-keys",
        json={"name": "Partner portal", "roles": ["partner"], "partner_id": partner_id},
        headers=auth,
    )
    assert issued.status_code == 201, issued.text
    return {"X-API-Key": issued.json()["secret"]}


def test_a_partner_sees_only_its_records_and_no_internal_fields(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    ours, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    key = partner_key(client, auth, ours)
    linked = client.post(
        "/api/v1/accounts",
        json={"name": "Linked", "partner_id": ours, "internal_notes": "discount 30%"},
        headers=auth,
    ).json()
    other = client.post(
        "/api/v1/accounts", json={"name": "Other", "partner_id": theirs}, headers=auth
    ).json()

    seen = client.get(f"/api/v1/accounts/{linked['id']}", headers=key)
    assert seen.status_code == 200, seen.text
    assert seen.json()["name"] == "Linked"
    assert "internal_notes" not in seen.json()
    assert client.get(f"/api/v1/accounts/{other['id']}", headers=key).status_code == 404
    listed = client.get("/api/v1/accounts", params={"limit": 500}, headers=key).json()
    assert [a["id"] for a in listed["items"]] == [linked["id"]]


def test_a_partner_may_not_write_internal_fields_or_relink(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    ours = str(uuid.uuid4())
    key = partner_key(client, auth, ours)
    account = client.post(
        "/api/v1/accounts", json={"name": "Linked", "partner_id": ours}, headers=auth
    )
    path = f"/api/v1/accounts/{account.json()['id']}"
    for body in ({"internal_notes": "mine now"}, {"partner_id": str(uuid.uuid4())}):
        refused = client.patch(
            path, json=body, headers={**key, "If-Match": account.headers["ETag"]}
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] in body
    renamed = client.patch(
        path, json={"name": "Renamed"}, headers={**key, "If-Match": account.headers["ETag"]}
    )
    assert renamed.status_code == 200, renamed.text
    after = client.get(path, headers=auth).json()
    assert (after["name"], after["partner_id"], after["version"]) == ("Renamed", ours, 2)
