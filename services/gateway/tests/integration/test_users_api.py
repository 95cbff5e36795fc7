"""Users over HTTP: administration by admins only, passwords never shown, deactivation, and
the team subtree reaching the principal services receive."""

import pytest

from .conftest import ADMIN_EMAIL, Gateway, assert_problem

pytestmark = pytest.mark.integration

PASSWORD = "a long enough password"


async def create(
    gateway: Gateway, auth: dict[str, str], path: str, body: dict[str, object]
) -> dict[str, object]:
    reply = await gateway.client.post(path, json=body, headers=auth)
    assert reply.status_code == 201, reply.text
    created: dict[str, object] = reply.json()
    return created


async def test_create_read_change_and_list_users(gateway: Gateway) -> None:
    auth = await gateway.login()
    team = await create(gateway, auth, "/api/v1/teams", {"name": "Sales"})
    rep = await create(
        gateway, auth, "/api/v1/users",
        {"email": "Rep@Example.com", "display_name": "Rep", "password": PASSWORD,
         "roles": ["sales_rep"], "team_id": team["id"]},
    )  # fmt: skip
    assert rep["email"] == "rep@example.com"
    assert (rep["roles"], rep["team_id"], rep["active"], rep["has_password"]) == (
        ["sales_rep"], team["id"], True, True,
    )  # fmt: skip
    assert not {"password", "password_hash"} & set(rep)
    url = f"/api/v1/users/{rep['id']}"
    fetched = await gateway.client.get(url, headers=auth)
    assert (fetched.json(), fetched.headers["etag"]) == (rep, '"1"')

    changed = await gateway.client.patch(
        url, json={"display_name": "Rep One", "team_id": None}, headers={**auth, "If-Match": '"1"'}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["display_name"], changed.json()["team_id"]) == ("Rep One", None)
    assert changed.headers["etag"] == '"2"'

    page = (await gateway.client.get("/api/v1/users?limit=1", headers=auth)).json()
    assert [u["email"] for u in page["items"]] == [ADMIN_EMAIL.lower()]
    rest = await gateway.client.get(f"/api/v1/users?cursor={page['next_cursor']}", headers=auth)
    assert [u["id"] for u in rest.json()["items"]] == [rep["id"]]
    assert rest.json()["next_cursor"] is None
    await gateway.login("REP@example.com", PASSWORD)


async def test_a_user_without_password_cannot_log_in_with_one(gateway: Gateway) -> None:
    auth = await gateway.login()
    sso = await create(gateway, auth, "/api/v1/users", {"email": "sso@example.com"})
    assert (sso["has_password"], sso["roles"]) == (False, [])
    for password in ("", PASSWORD):
        reply = await gateway.client.post(
            "/api/v1/auth/token", data={"username": "sso@example.com", "password": password}
        )
        assert reply.status_code in (401, 422)
    url = f"/api/v1/users/{sso['id']}"
    await gateway.client.patch(url, json={"password": PASSWORD}, headers={**auth, "If-Match": "*"})
    await gateway.login("sso@example.com", PASSWORD)
    removed = await gateway.client.patch(
        url, json={"password": None}, headers={**auth, "If-Match": "*"}
    )
    assert removed.json()["has_password"] is False
    reply = await gateway.client.post(
        "/api/v1/auth/token", data={"username": "sso@example.com", "password": PASSWORD}
    )
    assert_problem(reply, 401)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "x@example.com", "password": "short"}, "password"),
        ({"email": "x@example.com", "roles": ["wizard"]}, "roles"),
        ({"email": "x@example.com", "team_id": "0190f1c2-7b6e-7a3c-9d1e-3f2a1b0c4d5e"}, "team_id"),
        ({"email": "x@example.com", "team_id": "nope"}, "team_id"),
        ({"email": "x@example.com", "password_hash": "$argon2id$"}, "password_hash"),
        ({"email": "x@example.com", "roles": ["x" * 51]}, "roles.0"),
    ],
    ids=["email", "short-password", "unknown-role", "unknown-team", "malformed-team",
         "hash", "long-role"],
)  # fmt: skip
async def test_bad_users_are_422_and_change_nothing(
    gateway: Gateway, body: dict[str, object], field: str
) -> None:
    auth = await gateway.login()
    problem = assert_problem(
        await gateway.client.post("/api/v1/users", json=body, headers=auth), 422
    )
    assert field in [e["field"] for e in problem["errors"]]  # type: ignore[attr-defined]
    listed = (await gateway.client.get("/api/v1/users", headers=auth)).json()["items"]
    assert [u["email"] for u in listed] == [ADMIN_EMAIL.lower()]


async def test_emails_are_unique_whatever_their_case(gateway: Gateway) -> None:
    auth = await gateway.login()
    first = await create(gateway, auth, "/api/v1/users", {"email": "one@example.com"})
    await create(gateway, auth, "/api/v1/users", {"email": "two@example.com"})
    reply = await gateway.client.post(
        "/api/v1/users", json={"email": "ONE@example.com"}, headers=auth
    )
    assert_problem(reply, 409)
    reply = await gateway.client.patch(
        f"/api/v1/users/{first['id']}",
        json={"email": "Two@Example.com"},
        headers={**auth, "If-Match": '"1"'},
    )
    assert_problem(reply, 409)
    null_email = await gateway.client.patch(
        f"/api/v1/users/{first['id']}", json={"email": None}, headers={**auth, "If-Match": '"1"'}
    )
    assert_problem(null_email, 422)


async def test_deactivation_ends_logins_and_the_users_tokens(gateway: Gateway) -> None:
    auth = await gateway.login()
    user = await create(
        gateway,
        auth,
        "/api/v1/users",
        {"email": "leaver@example.com", "password": PASSWORD, "roles": ["sales_rep"]},
    )
    leaver = await gateway.login("leaver@example.com", PASSWORD)
    assert (await gateway.client.get("/api/v1/accounts", headers=leaver)).status_code == 200
    url = f"/api/v1/users/{user['id']}"
    assert_problem(await gateway.client.delete(url, headers=auth), 428)
    assert (
        await gateway.client.delete(url, headers={**auth, "If-Match": '"1"'})
    ).status_code == 204
    after = (await gateway.client.get(url, headers=auth)).json()
    assert (after["active"], after["version"]) == (False, 2)
    assert_problem(await gateway.client.get("/api/v1/accounts", headers=leaver), 401)
    reply = await gateway.client.post(
        "/api/v1/auth/token", data={"username": "leaver@example.com", "password": PASSWORD}
    )
    assert_problem(reply, 401)


async def test_the_principal_reaches_the_users_whole_team_subtree(gateway: Gateway) -> None:
    auth = await gateway.login()
    region = await create(gateway, auth, "/api/v1/teams", {"name": "Region"})
    sibling = await create(gateway, auth, "/api/v1/teams", {"name": "Other region"})
    city = await create(gateway, auth, "/api/v1/teams", {"name": "City", "parent_id": region["id"]})
    street = await create(
        gateway, auth, "/api/v1/teams", {"name": "Street", "parent_id": city["id"]}
    )
    await create(
        gateway, auth, "/api/v1/users",
        {"email": "boss@example.com", "password": PASSWORD, "roles": ["sales_manager"],
         "team_id": region["id"]},
    )  # fmt: skip
    boss = await gateway.login("boss@example.com", PASSWORD)
    await gateway.client.get("/api/v1/accounts", headers=boss)
    principal = gateway.fake.callers[-1]
    assert principal.team_id is not None
    assert {str(t) for t in principal.team_ids} == {region["id"], city["id"], street["id"]}
    assert sibling["id"] not in {str(t) for t in principal.team_ids}

    # Moving a team under another region changes the subtree for the token already held.
    moved = await gateway.client.patch(
        f"/api/v1/teams/{street['id']}",
        json={"parent_id": sibling["id"]},
        headers={**auth, "If-Match": "*"},
    )
    assert moved.status_code == 200
    await gateway.client.get("/api/v1/accounts", headers=boss)
    assert {str(t) for t in gateway.fake.callers[-1].team_ids} == {region["id"], city["id"]}


async def test_a_team_with_members_cannot_be_deleted(gateway: Gateway) -> None:
    auth = await gateway.login()
    team = await create(gateway, auth, "/api/v1/teams", {"name": "Busy"})
    await create(gateway, auth, "/api/v1/users", {"email": "m@example.com", "team_id": team["id"]})
    reply = await gateway.client.delete(
        f"/api/v1/teams/{team['id']}", headers={**auth, "If-Match": '"1"'}
    )
    assert "members" in str(assert_problem(reply, 409)["detail"])


async def test_only_admins_manage_users_teams_and_roles(gateway: Gateway) -> None:
    auth = await gateway.login()
    await create(
        gateway, auth, "/api/v1/users",
        {"email": "manager@example.com", "password": PASSWORD, "roles": ["sales_manager"]},
    )  # fmt: skip
    manager = await gateway.login("manager@example.com", PASSWORD)
    for method, path, body in [
        ("GET", "/api/v1/users", None),
        ("POST", "/api/v1/users", {"email": "x@example.com"}),
        ("GET", "/api/v1/teams", None),
        ("POST", "/api/v1/teams", {"name": "Mine"}),
        ("GET", "/api/v1/roles", None),
        ("POST", "/api/v1/roles", {"name": "mine", "permissions": {}}),
    ]:
        reply = await gateway.client.request(method, path, json=body, headers=manager)
        assert_problem(reply, 403)
    users = (await gateway.client.get("/api/v1/users", headers=auth)).json()["items"]
    assert len(users) == 2
    assert (await gateway.client.get("/api/v1/teams", headers=auth)).json()["items"] == []
