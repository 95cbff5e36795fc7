"""Merging duplicates, field history and ownership changes through the gateway and the real
customer service."""

import uuid
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"


def created(client: httpx.Client, auth: dict[str, str], path: str, body: Any) -> httpx.Response:
    reply = client.post(path, json=body, headers=auth)
    assert reply.status_code == 201, reply.text
    return reply


@pytest.fixture(scope="module")
def rep(client: httpx.Client, auth: dict[str, str]) -> dict[str, str]:
    """A sales rep: edits its own records, may neither transfer nor delete them."""
    email = f"rep.{uuid.uuid4().hex[:8]}@example.com"
    user = {"email": email, "password": PASSWORD, "roles": ["sales_rep"]}
    created(client, auth, "/api/v1/users", user)
    token = client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def history(client: httpx.Client, headers: dict[str, str], path: str) -> list[dict[str, Any]]:
    reply = client.get(f"{path}/history", headers=headers)
    assert reply.status_code == 200, reply.text
    return list(reply.json()["items"])


def test_merging_two_contacts_keeps_both_and_the_duplicate_is_gone(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    anna = {"first_name": "Anna", "email": "anna.m@example.com", "tags": ["vip"]}
    survivor = created(client, auth, "/api/v1/contacts", anna)
    duplicate = created(client, auth, "/api/v1/contacts", {
        "first_name": "Ana", "last_name": "Müller", "email": "ana.mueller@example.org",
        "phone": "+49 30 1234567", "tags": ["b2b"],
    })  # fmt: skip
    path = f"/api/v1/contacts/{survivor.json()['id']}"
    duplicate_path = f"/api/v1/contacts/{duplicate.json()['id']}"
    assert client.get(duplicate_path, headers=auth).status_code == 200  # now in the read cache
    body = {"duplicate_id": duplicate.json()["id"], "fields": {"first_name": "duplicate"}}
    assert client.post(f"{path}/merge", json=body, headers=auth).status_code == 428
    stale = client.post(f"{path}/merge", json=body, headers={**auth, "If-Match": '"9"'})
    assert stale.status_code == 412, stale.text
    itself = {"duplicate_id": survivor.json()["id"]}
    refused = client.post(f"{path}/merge", json=itself, headers={**auth, "If-Match": '"1"'})
    assert refused.status_code == 422, refused.text

    merged = client.post(f"{path}/merge", json=body, headers={**auth, "If-Match": '"1"'})
    assert merged.status_code == 200, merged.text
    assert merged.headers["ETag"] == '"2"'
    read = client.get(path, headers=auth).json()
    assert read == merged.json()
    assert (read["first_name"], read["last_name"], read["email"]) == (
        "Ana",
        "Müller",
        "anna.m@example.com",
    )
    assert (read["other_emails"], read["phone"], read["tags"]) == (
        ["ana.mueller@example.org"],
        "+49301234567",
        ["vip", "b2b"],
    )
    gone = client.get(duplicate_path, headers=auth)
    assert gone.status_code == 404
    assert gone.headers["content-type"].startswith("application/problem+json")
    assert gone.json()["merged_into"] == survivor.json()["id"]
    again = client.post(f"{path}/merge", json=body, headers={**auth, "If-Match": '"2"'})
    assert again.status_code == 404, again.text

    changes = history(client, auth, path)
    both = {"survivor_id": survivor.json()["id"], "duplicate_id": duplicate.json()["id"]}
    assert [(c["field"], c["old"], c["new"]) for c in changes] == [
        ("merged", None, both),
        ("first_name", "Anna", "Ana"),
        ("last_name", "", "Müller"),
        ("other_emails", [], ["ana.mueller@example.org"]),
        ("phone", "", "+49301234567"),
        ("tags", ["vip"], ["vip", "b2b"]),
        ("created", None, None),
    ]
    me = client.get("/api/v1/me", headers=auth).json()["id"]
    assert {c["actor_id"] for c in changes} == {me}


def test_merging_accounts_moves_their_contacts(client: httpx.Client, auth: dict[str, str]) -> None:
    survivor = created(client, auth, "/api/v1/accounts", {"name": "Initech"}).json()
    duplicate = created(client, auth, "/api/v1/accounts",
                        {"name": "Initech Inc", "website": "initech.example"}).json()  # fmt: skip
    peter = created(client, auth, "/api/v1/contacts",
                    {"first_name": "Peter", "account_id": duplicate["id"]}).json()  # fmt: skip
    merged = client.post(
        f"/api/v1/accounts/{survivor['id']}/merge",
        json={"duplicate_id": duplicate["id"]},
        headers={**auth, "If-Match": "*"},
    )
    assert merged.status_code == 200, merged.text
    assert (merged.json()["name"], merged.json()["website"]) == ("Initech", "initech.example")
    moved = client.get(f"/api/v1/contacts/{peter['id']}", headers=auth).json()
    assert (moved["account_id"], moved["version"]) == (survivor["id"], 2)
    assert client.get(f"/api/v1/accounts/{duplicate['id']}", headers=auth).status_code == 404


def test_a_rep_may_not_merge_nor_transfer_and_a_transfer_is_in_the_history(
    client: httpx.Client, auth: dict[str, str], rep: dict[str, str]
) -> None:
    mine = created(client, rep, "/api/v1/contacts", {"first_name": "Mine"})
    twin = created(client, rep, "/api/v1/contacts", {"first_name": "Mine too"})
    path = f"/api/v1/contacts/{mine.json()['id']}"
    merge = {"duplicate_id": twin.json()["id"]}
    denied = client.post(f"{path}/merge", json=merge, headers={**rep, "If-Match": '"1"'})
    assert denied.status_code == 403, denied.text

    successor = client.get("/api/v1/me", headers=auth).json()["id"]
    transfer = {"owner_id": successor}
    refused = client.patch(path, json=transfer, headers={**rep, "If-Match": '"1"'})
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["owner_id"]

    moved = client.patch(path, json=transfer, headers={**auth, "If-Match": '"1"'})
    assert moved.status_code == 200, moved.text
    owner = mine.json()["owner_id"]
    assert [(c["field"], c["old"], c["new"]) for c in history(client, auth, path)] == [
        ("owner_id", owner, successor),
        ("created", None, None),
    ]
    assert client.get(f"{path}/history", headers=rep).status_code == 404  # no longer the rep's


def test_a_record_goes_only_to_a_real_user_and_their_team_goes_with_it(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    team = created(client, auth, "/api/v1/teams", {"name": f"East {uuid.uuid4().hex[:6]}"}).json()
    email = f"east.{uuid.uuid4().hex[:8]}@example.com"
    user = {"email": email, "password": PASSWORD, "roles": ["sales_rep"], "team_id": team["id"]}
    east = created(client, auth, "/api/v1/users", user).json()
    path = created(client, auth, "/api/v1/contacts", {"first_name": "Handed"}).headers["location"]

    for nobody in ({"owner_id": str(uuid.uuid4())}, {"team_id": str(uuid.uuid4())}):
        refused = client.patch(path, json=nobody, headers={**auth, "If-Match": '"1"'})
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == list(nobody)
    moved = client.patch(path, json={"owner_id": east["id"]}, headers={**auth, "If-Match": '"1"'})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["owner_id"], moved.json()["team_id"]) == (east["id"], team["id"])
