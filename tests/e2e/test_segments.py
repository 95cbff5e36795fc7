"""Segments through the gateway: save a filter, read its members page by page with their
count, change it under If-Match, delete it; bad ones are problem+json and keep nothing."""

import uuid
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

SEGMENTS = "/api/v1/segments"


def members(client: httpx.Client, auth: dict[str, str], segment_id: str) -> tuple[list[str], int]:
    names: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, "order_by": "name"}
        if cursor:
            params["cursor"] = cursor
        reply = client.get(f"{SEGMENTS}/{segment_id}/members", params=params, headers=auth)
        assert reply.status_code == 200, reply.text
        page = reply.json()
        names += [member["first_name"] for member in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return names, page["total_count"]


def test_a_segment_lives_through_its_api(client: httpx.Client, auth: dict[str, str]) -> None:
    tag = f"seg-{uuid.uuid4().hex[:8]}"
    for first, tags in (("Ada", [tag]), ("Bo", [tag, "vip"]), ("Cy", [tag]), ("Di", [])):
        body = {"first_name": first, "last_name": tag, "tags": tags}
        assert client.post("/api/v1/contacts", json=body, headers=auth).status_code == 201

    body = {"name": "Campaign list", "entity": "contacts", "filter": {"tag": [tag]}}
    created = client.post(SEGMENTS, json=body, headers=auth)
    assert created.status_code == 201, created.text
    segment = created.json()
    assert created.headers["Location"] == f"{SEGMENTS}/{segment['id']}"
    assert (segment["name"], segment["filter"], segment["version"]) == (
        "Campaign list", {"tag": [tag]}, 1,
    )  # fmt: skip
    assert members(client, auth, segment["id"]) == (["Ada", "Bo", "Cy"], 3)

    path = f"{SEGMENTS}/{segment['id']}"
    narrower = {"filter": {"tag": [tag, "vip"], "q": tag}}
    assert client.patch(path, json=narrower, headers=auth).status_code == 428
    stale = client.patch(path, json=narrower, headers={**auth, "If-Match": '"9"'})
    assert stale.status_code == 412
    changed = client.patch(path, json=narrower, headers={**auth, "If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["filter"], changed.headers["ETag"]) == (
        {"q": tag, **narrower["filter"]},
        '"2"',
    )
    assert members(client, auth, segment["id"]) == (["Bo"], 1)

    listed = client.get(SEGMENTS, params={"limit": 500}, headers=auth).json()["items"]
    assert segment["id"] in [s["id"] for s in listed]
    assert client.delete(path, headers={**auth, "If-Match": '"2"'}).status_code == 204
    assert client.get(path, headers=auth).status_code == 404
    assert client.get(f"{path}/members", headers=auth).status_code == 404


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"name": "x", "entity": "people"}, "entity"),
        ({"name": "", "entity": "contacts"}, "name"),
        ({"name": "x", "entity": "contacts", "filter": {"shoe_size": 42}}, "shoe_size"),
        ({"name": "x", "entity": "contacts", "filter": {"lifecycle": "customer"}}, "lifecycle"),
        ({"name": "x", "entity": "accounts", "filter": {"email": "a@b.example"}}, "email"),
        ({"name": "x", "entity": "contacts", "filter": {"phone": "12"}}, "phone"),
        ({"name": "x", "entity": "contacts", "filter": {"custom_field": ["tier"]}}, "custom"),
    ],
)
def test_bad_segments_are_422_and_keep_nothing(
    client: httpx.Client, auth: dict[str, str], body: dict[str, Any], where: str
) -> None:
    before = client.get(SEGMENTS, params={"limit": 500}, headers=auth).json()["items"]
    reply = client.post(SEGMENTS, json=body, headers=auth)
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert where in reply.text
    assert client.get(SEGMENTS, params={"limit": 500}, headers=auth).json()["items"] == before


def test_unknown_segments_are_404(client: httpx.Client, auth: dict[str, str]) -> None:
    unknown = str(uuid.uuid4())
    assert client.get(f"{SEGMENTS}/{unknown}", headers=auth).status_code == 404
    assert client.get(f"{SEGMENTS}/{unknown}/members", headers=auth).status_code == 404
    assert client.get(f"{SEGMENTS}/not-an-id/members", headers=auth).status_code == 404
