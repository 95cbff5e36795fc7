"""Loyalty points through the gateway and the real customer service: earn, redeem, the
balance, the ledger's pages, a retried earn, and refusals as problem+json that change
nothing."""

import uuid
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e


def new_record(client: httpx.Client, auth: dict[str, str], plural: str) -> str:
    body = {"name": "Loyal Ltd"} if plural == "accounts" else {"first_name": "Mei"}
    reply = client.post(f"/api/v1/{plural}", json=body, headers=auth)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def post_entry(
    client: httpx.Client, auth: dict[str, str], path: str, **body: Any
) -> httpx.Response:
    return client.post(f"{path}/loyalty-entries", json={"reason": "e2e", **body}, headers=auth)


@pytest.mark.parametrize("plural", ["contacts", "accounts"])
def test_earn_redeem_balance_and_pages(
    client: httpx.Client, auth: dict[str, str], plural: str
) -> None:
    path = f"/api/v1/{plural}/{new_record(client, auth, plural)}"
    order = f"order-{uuid.uuid4().hex[:8]}"
    earned = post_entry(
        client, auth, path, kind="earn", points=120, reference=order,
        expires_at="2999-01-01T00:00:00Z",
    )  # fmt: skip
    assert earned.status_code == 201, earned.text
    entry = earned.json()["entry"]
    assert earned.json()["balance"] == 120
    assert (entry["kind"], entry["points"], entry["reference"], entry["balance_after"]) == (
        "earn",
        120,
        order,
        120,
    )
    assert entry["record_type"] == plural.removesuffix("s")
    assert entry["expires_at"] == "2999-01-01T00:00:00Z"

    retried = post_entry(client, auth, path, kind="earn", points=120, reference=order)
    assert retried.status_code == 200, retried.text
    assert retried.json() == earned.json()

    redeemed = post_entry(client, auth, path, kind="redeem", points=20)
    assert redeemed.status_code == 201, redeemed.text
    assert (redeemed.json()["balance"], redeemed.json()["entry"]["reference"]) == (100, None)

    balance = client.get(f"{path}/loyalty", headers=auth)
    assert balance.status_code == 200, balance.text
    assert balance.json() == {
        "balance": 100,
        "expiring": [
            {"entry_id": entry["id"], "points": 100, "expires_at": "2999-01-01T00:00:00Z"}
        ],
    }

    first = client.get(f"{path}/loyalty-entries", params={"limit": 1}, headers=auth).json()
    assert [e["kind"] for e in first["items"]] == ["redeem"]
    rest = client.get(
        f"{path}/loyalty-entries", params={"limit": 1, "cursor": first["next_cursor"]}, headers=auth
    ).json()
    assert rest == {"items": [entry], "next_cursor": None}


def test_an_over_redeem_is_a_409_problem_and_writes_nothing(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    path = f"/api/v1/contacts/{new_record(client, auth, 'contacts')}"
    assert post_entry(client, auth, path, kind="earn", points=10).status_code == 201
    refused = post_entry(client, auth, path, kind="redeem", points=11)
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["detail"] == "balance is 10, cannot redeem 11"
    assert client.get(f"{path}/loyalty", headers=auth).json() == {"balance": 10, "expiring": []}
    listed = client.get(f"{path}/loyalty-entries", headers=auth).json()["items"]
    assert [e["kind"] for e in listed] == ["earn"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "expire", "points": 1}, "kind"),
        ({"kind": "earn", "points": 0}, "points"),
        ({"kind": "earn", "points": "5"}, "points"),
        ({"kind": "earn", "points": 1_000_000_001}, "points"),
        ({"kind": "earn", "points": 1, "reason": "x" * 501}, "reason"),
        ({"kind": "earn", "points": 1, "reason": "   "}, "reason"),
        ({"kind": "earn", "points": 1, "expires_at": "2999-01-01T00:00:00"}, "expires_at"),
        ({"kind": "earn", "points": 1, "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"kind": "redeem", "points": 1, "expires_at": "2999-01-01T00:00:00Z"}, "expires_at"),
        ({"kind": "earn", "points": 1, "bonus": True}, "bonus"),
    ],
)
def test_bad_bodies_are_422_naming_the_field(
    client: httpx.Client, auth: dict[str, str], body: dict[str, Any], field: str
) -> None:
    path = f"/api/v1/contacts/{new_record(client, auth, 'contacts')}"
    reply = post_entry(client, auth, path, **body)
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert any(field in str(e.get("field", "")) for e in reply.json()["errors"]), reply.json()
    assert client.get(f"{path}/loyalty-entries", headers=auth).json()["items"] == []


def test_an_unknown_record_is_a_404(client: httpx.Client, auth: dict[str, str]) -> None:
    path = f"/api/v1/accounts/{uuid.uuid4()}"
    for reply in (
        post_entry(client, auth, path, kind="earn", points=1),
        client.get(f"{path}/loyalty", headers=auth),
        client.get(f"{path}/loyalty-entries", headers=auth),
    ):
        assert reply.status_code == 404, reply.text
        assert reply.headers["content-type"].startswith("application/problem+json")
