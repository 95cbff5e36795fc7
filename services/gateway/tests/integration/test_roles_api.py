"""Roles over HTTP: built-in ones listed read-only, custom ones validated, their grants
merged into the principal of the users holding them."""

import pytest

from crm_platform.auth.principal import Action, Scope

from .conftest import Gateway, assert_problem

pytestmark = pytest.mark.integration

PASSWORD = "a long enough password"


async def post(
    gateway: Gateway, auth: dict[str, str], path: str, body: dict[str, object]
) -> dict[str, object]:
    reply = await gateway.client.post(path, json=body, headers=auth)
    assert reply.status_code == 201, reply.text
    created: dict[str, object] = reply.json()
    return created


async def test_built_in_roles_are_listed_with_their_permissions_and_read_only(
    gateway: Gateway,
) -> None:
    auth = await gateway.login()
    listed = (await gateway.client.get("/api/v1/roles?limit=500", headers=auth)).json()
    by_name = {role["name"]: role for role in listed["items"]}
    assert {"admin", "sales_manager", "sales_rep", "partner", "erp_integration"} <= set(by_name)
    assert all(role["built_in"] for role in by_name.values())
    assert set(by_name["admin"]["permissions"]) == {
        *("account", "contact"),
        *("user", "team", "role", "api_key", "audit", "webhook", "custom_field"),
    }
    assert set(by_name["sales_manager"]["permissions"]) == {"account", "contact"}
    assert by_name["sales_manager"]["permissions"]["account"]["transfer"] == "team"

    one = await gateway.client.get("/api/v1/roles/sales_rep", headers=auth)
    assert one.json() == by_name["sales_rep"]
    for reply in (
        await gateway.client.patch(
            "/api/v1/roles/admin", json={"permissions": {}}, headers={**auth, "If-Match": "*"}
        ),
        await gateway.client.delete("/api/v1/roles/admin", headers={**auth, "If-Match": "*"}),
    ):
        assert_problem(reply, 409)
    assert_problem(await gateway.client.get("/api/v1/roles/nobody", headers=auth), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "permissions": {}}, "name"),
        ({"name": "Auditor", "permissions": {}}, "name"),
        ({"name": "admin", "permissions": {}}, "name"),
        ({"name": "audit", "permissions": {"invoice": {"read": "all"}}}, "permissions.invoice"),
        ({"name": "audit", "permissions": {"account": {"go": "all"}}}, "permissions.account.go"),
        ({"name": "audit", "permissions": {"team": {"read": "big"}}}, "permissions.team.read"),
        ({"name": "audit", "permissions": {"account": "all"}}, "permissions.account"),
        ({"name": "audit"}, "permissions"),
    ],
    ids=["short-name", "upper-case", "built-in-name", "object", "action", "scope", "shape",
         "missing"],
)  # fmt: skip
async def test_bad_custom_roles_are_422_and_change_nothing(
    gateway: Gateway, body: dict[str, object], field: str
) -> None:
    auth = await gateway.login()
    problem = assert_problem(
        await gateway.client.post("/api/v1/roles", json=body, headers=auth), 422
    )
    assert field in [e["field"] for e in problem["errors"]]  # type: ignore[attr-defined]
    listed = (await gateway.client.get("/api/v1/roles?limit=500", headers=auth)).json()["items"]
    assert all(role["built_in"] for role in listed)


async def test_custom_role_grants_reach_the_principal_and_follow_changes(gateway: Gateway) -> None:
    auth = await gateway.login()
    role = await post(
        gateway, auth, "/api/v1/roles",
        {"name": "auditor", "permissions": {"account": {"read": "all", "export": "team"},
                                            "user": {"read": "team"}}},
    )  # fmt: skip
    assert (role["built_in"], role["version"]) == (False, 1)
    assert_problem(
        await gateway.client.post(
            "/api/v1/roles", json={"name": "auditor", "permissions": {}}, headers=auth
        ),
        409,
    )
    user = await post(
        gateway, auth, "/api/v1/users",
        {"email": "audit@example.com", "password": PASSWORD, "roles": ["sales_rep", "auditor"]},
    )  # fmt: skip
    holder = await gateway.login("audit@example.com", PASSWORD)
    await gateway.client.get("/api/v1/accounts", headers=holder)
    principal = gateway.fake.callers[-1]
    assert principal.scope("account", Action.READ) is Scope.ALL  # auditor's, wider than own
    assert principal.scope("account", Action.EDIT) is Scope.OWN  # sales_rep's
    assert principal.scope("account", Action.EXPORT) is Scope.TEAM
    assert principal.scope("user", Action.READ) is Scope.TEAM
    assert principal.scope("contact", Action.READ) is Scope.OWN

    changed = await gateway.client.patch(
        "/api/v1/roles/auditor", json={"permissions": {"contact": {"read": "all"}}},
        headers={**auth, "If-Match": '"1"'},
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    await gateway.client.get("/api/v1/accounts", headers=holder)
    principal = gateway.fake.callers[-1]
    assert principal.scope("account", Action.READ) is Scope.OWN
    assert principal.scope("contact", Action.READ) is Scope.ALL
    assert principal.scope("user", Action.READ) is None

    held = await gateway.client.delete("/api/v1/roles/auditor", headers={**auth, "If-Match": '"2"'})
    assert_problem(held, 409)
    await gateway.client.patch(
        f"/api/v1/users/{user['id']}",
        json={"roles": ["sales_rep"]},
        headers={**auth, "If-Match": "*"},
    )
    deleted = await gateway.client.delete(
        "/api/v1/roles/auditor", headers={**auth, "If-Match": '"2"'}
    )
    assert deleted.status_code == 204
    assert_problem(await gateway.client.get("/api/v1/roles/auditor", headers=auth), 404)


async def test_a_custom_role_scoped_to_the_team_administers_only_the_subtree(
    gateway: Gateway,
) -> None:
    auth = await gateway.login()
    await post(
        gateway, auth, "/api/v1/roles",
        {"name": "team_lead", "permissions": {"user": {"read": "team", "create": "team"},
                                              "team": {"read": "team"}}},
    )  # fmt: skip
    mine = await post(gateway, auth, "/api/v1/teams", {"name": "Mine"})
    below = await post(gateway, auth, "/api/v1/teams", {"name": "Below", "parent_id": mine["id"]})
    other = await post(gateway, auth, "/api/v1/teams", {"name": "Other"})
    await post(gateway, auth, "/api/v1/users", {"email": "out@example.com", "team_id": other["id"]})
    await post(
        gateway, auth, "/api/v1/users",
        {"email": "lead@example.com", "password": PASSWORD, "roles": ["team_lead"],
         "team_id": mine["id"]},
    )  # fmt: skip
    lead = await gateway.login("lead@example.com", PASSWORD)

    created = await gateway.client.post(
        "/api/v1/users", json={"email": "new@example.com", "team_id": below["id"]}, headers=lead
    )
    assert created.status_code == 201, created.text
    elsewhere = await gateway.client.post(
        "/api/v1/users", json={"email": "no@example.com", "team_id": other["id"]}, headers=lead
    )
    assert_problem(elsewhere, 403)
    # Handing out a role that grants more than the lead holds is refused.
    escalation = await gateway.client.post(
        "/api/v1/users",
        json={"email": "no@example.com", "roles": ["admin"], "team_id": below["id"]},
        headers=lead,
    )
    assert_problem(escalation, 403)
    seen = (await gateway.client.get("/api/v1/users", headers=lead)).json()["items"]
    assert sorted(u["email"] for u in seen) == ["lead@example.com", "new@example.com"]
    teams = (await gateway.client.get("/api/v1/teams", headers=lead)).json()["items"]
    assert sorted(t["name"] for t in teams) == ["Below", "Mine"]
    assert_problem(await gateway.client.get(f"/api/v1/teams/{other['id']}", headers=lead), 404)


async def test_a_role_only_a_revoked_key_held_can_be_deleted(gateway: Gateway) -> None:
    auth = await gateway.login()
    await post(gateway, auth, "/api/v1/roles", {"name": "feeder", "permissions": {}})
    held = await post(gateway, auth, "/api/v1/api-keys", {"name": "Old", "roles": ["feeder"]})
    await post(gateway, auth, "/api/v1/api-keys", {"name": "Live", "roles": ["analyst"]})
    refused = await gateway.client.delete("/api/v1/roles/feeder", headers={**auth, "If-Match": "*"})
    assert_problem(refused, 409)  # the old key holds it still
    revoked = await gateway.client.delete(
        f"/api/v1/api-keys/{held['id']}", headers={**auth, "If-Match": "*"}
    )
    assert revoked.status_code == 204, revoked.text

    deleted = await gateway.client.delete("/api/v1/roles/feeder", headers={**auth, "If-Match": "*"})
    assert deleted.status_code == 204, deleted.text  # the live key holds another role
