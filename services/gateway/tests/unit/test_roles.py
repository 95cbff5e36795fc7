"""Built-in roles and how grants merge across a user's roles."""

import uuid

from crm_gateway.identity.roles import (
    ADMIN_OBJECTS,
    BUILT_IN_ROLES,
    OBJECTS,
    exceeding,
    merged_grants,
    permission_violations,
    role_name_violations,
)
from crm_platform.auth.principal import Action, Principal, Scope


def scope_of(roles: list[str], obj: str, action: Action) -> Scope | None:
    principal = Principal(subject_id=uuid.uuid4(), kind="user", grants=merged_grants(roles))
    return principal.scope(obj, action)


def test_every_built_in_role_of_the_design_exists() -> None:
    assert {
        "admin", "sales_manager", "sales_rep", "marketing", "service_manager",
        "service_agent", "analyst", "partner", "erp_integration",
    } == BUILT_IN_ROLES  # fmt: skip


def test_admin_may_do_everything_to_every_record_and_administer_the_gateway() -> None:
    grants = merged_grants(["admin"])
    assert set(grants) == set(OBJECTS)
    assert all(grants[obj] == {a.value: "all" for a in Action} for obj in grants)


def test_only_admin_reads_the_audit_trail() -> None:
    assert scope_of(["admin"], "audit", Action.READ) is Scope.ALL
    assert scope_of(["sales_rep", "admin"], "audit", Action.READ) is Scope.ALL
    for role in BUILT_IN_ROLES - {"admin"}:
        assert scope_of([role], "audit", Action.READ) is None, role


def test_the_widest_scope_wins_across_roles() -> None:
    roles = ["sales_rep", "marketing"]
    assert scope_of(roles, "account", Action.READ) is Scope.ALL  # marketing
    assert scope_of(roles, "account", Action.EDIT) is Scope.OWN
    assert scope_of(roles, "contact", Action.EXPORT) is Scope.ALL


def test_a_manager_reaches_the_team_and_may_transfer_but_a_rep_may_not() -> None:
    assert scope_of(["sales_manager"], "account", Action.TRANSFER) is Scope.TEAM
    assert scope_of(["sales_rep"], "account", Action.TRANSFER) is None
    assert scope_of(["sales_rep"], "account", Action.READ) is Scope.OWN


def test_analysts_read_but_never_write() -> None:
    assert scope_of(["analyst"], "account", Action.READ) is Scope.ALL
    assert scope_of(["analyst"], "account", Action.CREATE) is None
    assert scope_of(["analyst"], "contact", Action.EDIT) is None


def test_unknown_roles_grant_nothing() -> None:
    assert merged_grants(["no_such_role"]) == {}
    assert merged_grants([]) == {}


def test_only_admin_among_the_built_in_roles_administers_users_teams_and_roles() -> None:
    for role in BUILT_IN_ROLES:
        holds = set(merged_grants([role])) & set(ADMIN_OBJECTS)
        assert holds == (set(ADMIN_OBJECTS) if role == "admin" else set())


def test_custom_grants_merge_with_built_in_ones_widest_first() -> None:
    custom = {"auditor": {"account": {"read": "all"}, "team": {"read": "team"}}}
    grants = merged_grants(["sales_rep", "auditor", "gone"], custom)
    assert grants["account"]["read"] == "all"
    assert grants["account"]["edit"] == "own"
    assert grants["team"] == {"read": "team"}
    assert "user" not in grants


def test_custom_permissions_name_known_objects_actions_and_scopes() -> None:
    assert permission_violations({"account": {"read": "team"}, "role": {"delete": "all"}}) == []
    found = permission_violations(
        {"invoice": {"read": "all"}, "user": {"fly": "all", "read": "galaxy"}, "team": "all"}
    )
    assert [v.field for v in found] == [
        "permissions.invoice", "permissions.user.fly", "permissions.user.read", "permissions.team",
    ]  # fmt: skip


def test_role_names_are_plain_and_not_built_in() -> None:
    assert role_name_violations("team_lead") == []
    for name in ("admin", "Lead", "x", "9lives", "a-b", "x" * 51):
        assert role_name_violations(name), name


def test_nobody_grants_wider_than_they_hold() -> None:
    held = merged_grants(["sales_manager"])
    assert exceeding({"account": {"read": "team", "edit": "own"}}, held) == []
    assert exceeding({"account": {"read": "all"}, "user": {"read": "own"}}, held) == [
        "account.read",
        "user.read",
    ]
