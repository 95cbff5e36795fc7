"""Built-in roles and how grants merge across a user's roles."""

import uuid

from crm_gateway.identity.roles import BUILT_IN_ROLES, OBJECTS, merged_grants
from crm_platform.auth.principal import Action, Principal, Scope


def scope_of(roles: list[str], obj: str, action: Action) -> Scope | None:
    principal = Principal(subject_id=uuid.uuid4(), kind="user", grants=merged_grants(roles))
    return principal.scope(obj, action)


def test_every_built_in_role_of_the_design_exists() -> None:
    assert {
        "admin", "sales_manager", "sales_rep", "marketing", "service_manager",
        "service_agent", "analyst", "partner", "erp_integration",
    } == BUILT_IN_ROLES  # fmt: skip


def test_admin_may_do_everything_to_every_record() -> None:
    grants = merged_grants(["admin"])
    assert set(grants) == {*OBJECTS, "audit"}
    assert all(grants[obj] == {a.value: "all" for a in Action} for obj in OBJECTS)


def test_only_admin_reads_the_audit_trail() -> None:
    assert scope_of(["admin"], "audit", Action.READ) is Scope.ALL
    assert scope_of(["sales_rep", "admin"], "audit", Action.READ) is Scope.ALL
    assert scope_of(["admin"], "audit", Action.EDIT) is None
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
