"""The 360° timeline through the gateway: what the customer service and another service
publish about an account shows in GET /api/v1/accounts/{id}/timeline, newest first."""

import asyncio
import time
import uuid
from typing import Any

import httpx
import nats
import pytest

from crm.customer.v1 import customer_pb2 as pb
from crm_platform.events.envelope import Envelope
from crm_platform.events.streams import ensure_service_stream

pytestmark = pytest.mark.e2e


async def publish_to_sales_stream(nats_url: str, subject: str, message: Any) -> Envelope:
    """An event as the sales service would publish it: on its stream, in the envelope."""
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        await ensure_service_stream(js, "sales")
        event = Envelope.for_message(
            subject=subject, message=message, aggregate_id="opp-e2e", aggregate_version=1
        )
        await js.publish(subject, event.payload, headers=event.to_headers())
        return event
    finally:
        await connection.close()


def timeline_when(
    client: httpx.Client, auth: dict[str, str], account_id: str, count: int
) -> list[dict[str, Any]]:
    """The timeline once it has `count` entries (it is fed by events, a moment later)."""
    deadline = time.monotonic() + 30
    while True:
        reply = client.get(f"/api/v1/accounts/{account_id}/timeline", headers=auth)
        assert reply.status_code == 200, reply.text
        items: list[dict[str, Any]] = reply.json()["items"]
        if len(items) >= count or time.monotonic() > deadline:
            return items
        time.sleep(0.2)


def test_an_accounts_timeline_shows_its_own_and_other_services_events(
    client: httpx.Client, auth: dict[str, str], stack: Any
) -> None:
    account = client.post("/api/v1/accounts", json={"name": "Timeline Co"}, headers=auth)
    assert account.status_code == 201, account.text
    account_id = account.json()["id"]
    contact = client.post(
        "/api/v1/contacts",
        json={"first_name": "Grace", "last_name": "Hopper", "account_id": account_id},
        headers=auth,
    )
    assert contact.status_code == 201, contact.text
    # Shown only once the customer's own events are in, so the sales event is the newest.
    assert [e["title"] for e in timeline_when(client, auth, account_id, 2)] == [
        "Contact added: Grace Hopper",
        "Account created: Timeline Co",
    ]
    # A contract message the customer service has no code for, on a sales subject.
    role = pb.AccountRole(account_id=account_id, role="champion")
    sent = asyncio.run(
        publish_to_sales_stream(stack.info.nats_url, "crm.sales.opportunity.created.v1", role)
    )

    items = timeline_when(client, auth, account_id, 3)
    assert [e["kind"] for e in items] == ["opportunity", "contact", "account"]
    assert items[0] == {
        "id": str(sent.event_id),
        "occurred_at": items[0]["occurred_at"],
        "kind": "opportunity",
        "source": "sales",
        "event_type": "crm.customer.v1.AccountRole",
        "subject_id": "opp-e2e",
        "title": "Opportunity created",
        "data": {"account_id": account_id, "role": "champion"},
    }
    assert items[1]["subject_id"] == contact.json()["id"]
    assert items[1]["data"]["contact"]["first_name"] == "Grace"
    assert "email" not in items[1]["data"]["contact"]

    first = client.get(
        f"/api/v1/accounts/{account_id}/timeline", params={"limit": 2}, headers=auth
    ).json()
    assert [e["kind"] for e in first["items"]] == ["opportunity", "contact"]
    rest = client.get(
        f"/api/v1/accounts/{account_id}/timeline",
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=auth,
    ).json()
    assert ([e["kind"] for e in rest["items"]], rest["next_cursor"]) == (["account"], None)
    only = client.get(
        f"/api/v1/accounts/{account_id}/timeline",
        params={"kind": "contact,account"},
        headers=auth,
    ).json()
    assert [e["kind"] for e in only["items"]] == ["contact", "account"]


def test_an_unknown_account_is_404_and_bad_parameters_are_422(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    missing = client.get(f"/api/v1/accounts/{uuid.uuid4()}/timeline", headers=auth)
    assert missing.status_code == 404, missing.text
    assert missing.headers["content-type"].startswith("application/problem+json")

    account = client.post("/api/v1/accounts", json={"name": "Paged Co"}, headers=auth).json()
    path = f"/api/v1/accounts/{account['id']}/timeline"
    bad_cursor = client.get(path, params={"cursor": "not-a-cursor"}, headers=auth)
    assert bad_cursor.status_code == 422, bad_cursor.text
    assert [e["field"] for e in bad_cursor.json()["errors"]] == ["cursor"]
    bad_kind = client.get(path, params={"kind": "no such kind!"}, headers=auth)
    assert bad_kind.status_code == 422, bad_kind.text
    assert [e["field"] for e in bad_kind.json()["errors"]] == ["kind"]
    assert client.get(path, params={"limit": 501}, headers=auth).status_code == 422
