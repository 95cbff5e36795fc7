"""Transfer, internal fields and delete, through the gateway and the real customer service."""

import uuid

import httpx
import pytest

pytestmark = pytest.mark.e2e


def test_internal_fields_and_partner_link_round_trip(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    partner = str(uuid.uuid4())
    created = client.post(
        "/api/v1/accounts",
        json={"name": "Linked", "partner_id": partner, "internal_notes": "margin 38%"},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    read = client.get(f"/api/v1/accounts/{created.json()['id']}", headers=auth).json()
    assert (read["partner_id"], read["internal_notes"]) == (partner, "margin 38%")


def test_transfer_moves_the_owner_and_an_unknown_owner_id_is_refused(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    account = client.post("/api/v1/accounts", json={"name": "To hand over"}, headers=auth)
    path = f"/api/v1/accounts/{account.json()['id']}"
    for nobody in (str(uuid.uuid4()), "not-an-id"):  # no user has that id
        bad = client.patch(
            path, json={"owner_id": nobody}, headers={**auth, "If-Match": account.headers["ETag"]}
        )
        assert bad.status_code == 422, bad.text
    user = {"email": f"heir.{uuid.uuid4().hex[:8]}@example.com", "roles": ["sales_rep"]}
    successor = client.post("/api/v1/users", json=user, headers=auth).json()["id"]
    moved = client.patch(
        path, json={"owner_id": successor}, headers={**auth, "If-Match": account.headers["ETag"]}
    )
    assert moved.status_code == 200, moved.text
    assert client.get(path, headers=auth).json()["owner_id"] == successor


def test_delete_needs_if_match_and_then_the_record_is_gone(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    contact = client.post("/api/v1/contacts", json={"first_name": "Brief"}, headers=auth)
    path = f"/api/v1/contacts/{contact.json()['id']}"
    assert client.get(path, headers=auth).status_code == 200  # now in the read cache
    assert client.delete(path, headers=auth).status_code == 428
    assert client.delete(path, headers={**auth, "If-Match": '"9"'}).status_code == 412
    deleted = client.delete(path, headers={**auth, "If-Match": contact.headers["ETag"]})
    assert deleted.status_code == 204, deleted.text
    gone = client.get(path, headers=auth)
    assert gone.status_code == 404
    assert gone.headers["content-type"].startswith("application/problem+json")
    listed = client.get("/api/v1/contacts", params={"limit": 500}, headers=auth).json()
    assert contact.json()["id"] not in [c["id"] for c in listed["items"]]
