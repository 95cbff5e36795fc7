"""Teams over HTTP: the tree, its cycles refused, deletion only of empty leaves."""

import pytest

from .conftest import Gateway, assert_problem

pytestmark = pytest.mark.integration


async def create_team(
    gateway: Gateway, auth: dict[str, str], name: str, parent: str | None = None
) -> dict[str, object]:
    reply = await gateway.client.post(
        "/api/v1/teams", json={"name": name, "parent_id": parent}, headers=auth
    )
    assert reply.status_code == 201, reply.text
    team: dict[str, object] = reply.json()
    return team


async def test_create_read_rename_and_list_teams(gateway: Gateway) -> None:
    auth = await gateway.login()
    sales = await create_team(gateway, auth, "Sales")
    north = await create_team(gateway, auth, "North", str(sales["id"]))
    assert (north["parent_id"], north["version"]) == (sales["id"], 1)

    url = f"/api/v1/teams/{north['id']}"
    fetched = await gateway.client.get(url, headers=auth)
    assert (fetched.json(), fetched.headers["etag"]) == (north, '"1"')
    assert (
        await gateway.client.get(url, headers={**auth, "If-None-Match": '"1"'})
    ).status_code == 304

    assert_problem(await gateway.client.patch(url, json={"name": "N"}, headers=auth), 428)
    assert_problem(
        await gateway.client.patch(url, json={"name": "N"}, headers={**auth, "If-Match": '"7"'}),
        412,
    )
    renamed = await gateway.client.patch(
        url, json={"name": "North-East"}, headers={**auth, "If-Match": '"1"'}
    )
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["parent_id"]) == ("North-East", sales["id"])
    assert renamed.headers["etag"] == '"2"'

    first = await gateway.client.get("/api/v1/teams?limit=1", headers=auth)
    assert [t["id"] for t in first.json()["items"]] == [sales["id"]]
    cursor = first.json()["next_cursor"]
    second = await gateway.client.get(f"/api/v1/teams?limit=1&cursor={cursor}", headers=auth)
    assert [t["id"] for t in second.json()["items"]] == [north["id"]]
    assert second.json()["next_cursor"] is None


async def test_a_move_that_would_close_a_cycle_is_refused(gateway: Gateway) -> None:
    auth = await gateway.login()
    top = await create_team(gateway, auth, "Top")
    middle = await create_team(gateway, auth, "Middle", str(top["id"]))
    bottom = await create_team(gateway, auth, "Bottom", str(middle["id"]))
    for moved, below in ((top, bottom), (top, middle), (middle, middle)):
        reply = await gateway.client.patch(
            f"/api/v1/teams/{moved['id']}",
            json={"parent_id": below["id"]},
            headers={**auth, "If-Match": "*"},
        )
        body = assert_problem(reply, 422)
        assert body["errors"] == [
            {"field": "parent_id", "message": "would make the team its own ancestor"}
        ]
    unchanged = await gateway.client.get(f"/api/v1/teams/{top['id']}", headers=auth)
    assert (unchanged.json()["parent_id"], unchanged.json()["version"]) == (None, 1)
    # Moving a leaf up to the root is fine.
    moved = await gateway.client.patch(
        f"/api/v1/teams/{bottom['id']}",
        json={"parent_id": None},
        headers={**auth, "If-Match": '"1"'},
    )
    assert moved.status_code == 200
    assert moved.json()["parent_id"] is None


async def test_only_an_empty_leaf_team_can_be_deleted(gateway: Gateway) -> None:
    auth = await gateway.login()
    parent = await create_team(gateway, auth, "Parent")
    child = await create_team(gateway, auth, "Child", str(parent["id"]))
    parent_url, child_url = f"/api/v1/teams/{parent['id']}", f"/api/v1/teams/{child['id']}"
    assert_problem(await gateway.client.delete(parent_url, headers=auth), 428)
    body = assert_problem(
        await gateway.client.delete(parent_url, headers={**auth, "If-Match": '"1"'}), 409
    )
    assert "child teams" in str(body["detail"])
    assert (
        await gateway.client.delete(child_url, headers={**auth, "If-Match": '"1"'})
    ).status_code == 204
    assert (
        await gateway.client.delete(parent_url, headers={**auth, "If-Match": '"1"'})
    ).status_code == 204
    assert_problem(await gateway.client.get(parent_url, headers=auth), 404)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x" * 201},
        {"name": "T", "parent_id": "not-a-uuid"},
        {"name": "T", "parent_id": "0190f1c2-7b6e-7a3c-9d1e-3f2a1b0c4d5e"},
        {"name": "T", "colour": "red"},
    ],
    ids=[
        "no-name",
        "empty-name",
        "long-name",
        "malformed-parent",
        "unknown-parent",
        "unknown-field",
    ],
)
async def test_bad_teams_are_422_and_change_nothing(
    gateway: Gateway, body: dict[str, object]
) -> None:
    auth = await gateway.login()
    assert_problem(await gateway.client.post("/api/v1/teams", json=body, headers=auth), 422)
    listed = await gateway.client.get("/api/v1/teams", headers=auth)
    assert listed.json() == {"items": [], "next_cursor": None}


async def test_unknown_and_malformed_team_ids_and_cursors(gateway: Gateway) -> None:
    auth = await gateway.login()
    for team_id in ("nope", "0190f1c2-7b6e-7a3c-9d1e-3f2a1b0c4d5e"):
        assert_problem(await gateway.client.get(f"/api/v1/teams/{team_id}", headers=auth), 404)
    reply = await gateway.client.get("/api/v1/teams?cursor=!!", headers=auth)
    assert assert_problem(reply, 422)["errors"] == [
        {"field": "query.cursor", "message": "not a cursor of this list"}
    ]
