"""Built-in roles (DESIGN §7) and the grants they give, per object and action.

A grant is `{object: {action: scope}}` with scopes partner < own < team < all. The objects
so far are `account` and `contact`; both get the same grants from a role, because a
contact is only as sensitive as the account it belongs to.

| role            | read    | create | edit    | delete | transfer | export  |
|-----------------|---------|--------|---------|--------|----------|---------|
| admin           | all     | all    | all     | all    | all      | all     |
| sales_manager   | team    | own    | team    | team   | team     | team    |
| sales_rep       | own     | own    | own     | -      | -        | own     |
| marketing       | all     | own    | own     | -      | -        | all     |
| service_manager | all     | own    | team    | -      | -        | team    |
| service_agent   | all     | own    | own     | -      | -        | -       |
| analyst         | all     | -      | -       | -      | -        | all     |
| partner         | partner | -      | partner | -      | -        | -       |
| erp_integration | all     | own    | all     | -      | -        | all     |

Why: records are private by default (reps see their own), managers reach their team
subtree, and transfer (changing the owner) is given only to those who assign work. Service
and marketing read the whole base, since anyone may call in or be targeted. Partners reach
only records linked to their partner. A `create` scope only says the action is allowed: new
records are always owned by their creator.

Objects that are no records get their grants per role (`OTHER_GRANTS`): `audit` (read the
audit trail) is held by admin alone.
"""

from collections.abc import Iterable, Mapping

from crm_platform.auth.principal import Action, Scope

Grants = dict[str, dict[str, str]]
RoleGrants = Mapping[Action, Scope]

OBJECTS = ("account", "contact")

ALL, TEAM, OWN, PARTNER = Scope.ALL, Scope.TEAM, Scope.OWN, Scope.PARTNER
READ, CREATE, EDIT = Action.READ, Action.CREATE, Action.EDIT
DELETE, TRANSFER, EXPORT = Action.DELETE, Action.TRANSFER, Action.EXPORT

ROLE_GRANTS: dict[str, RoleGrants] = {
    "admin": dict.fromkeys(Action, ALL),
    "sales_manager": {
        READ: TEAM,
        CREATE: OWN,
        EDIT: TEAM,
        DELETE: TEAM,
        TRANSFER: TEAM,
        EXPORT: TEAM,
    },
    "sales_rep": {READ: OWN, CREATE: OWN, EDIT: OWN, EXPORT: OWN},
    "marketing": {READ: ALL, CREATE: OWN, EDIT: OWN, EXPORT: ALL},
    "service_manager": {READ: ALL, CREATE: OWN, EDIT: TEAM, EXPORT: TEAM},
    "service_agent": {READ: ALL, CREATE: OWN, EDIT: OWN},
    "analyst": {READ: ALL, EXPORT: ALL},
    "partner": {READ: PARTNER, EDIT: PARTNER},
    "erp_integration": {READ: ALL, CREATE: OWN, EDIT: ALL, EXPORT: ALL},
}

BUILT_IN_ROLES = frozenset(ROLE_GRANTS)

OTHER_GRANTS: dict[str, dict[str, RoleGrants]] = {
    "admin": {"audit": {READ: ALL}},
}

# Scope enum order is narrowest first; a wider scope wins when roles overlap.
_WIDTH = {scope: rank for rank, scope in enumerate(Scope)}


def merged_grants(roles: Iterable[str]) -> Grants:
    """The widest scope per object and action across `roles`; unknown roles grant nothing."""
    roles = tuple(roles)
    widest: dict[Action, Scope] = {}
    for role in roles:
        for action, scope in ROLE_GRANTS.get(role, {}).items():
            current = widest.get(action)
            if current is None or _WIDTH[scope] > _WIDTH[current]:
                widest[action] = scope
    per_object = {action.value: scope.value for action, scope in widest.items()}
    grants: Grants = {obj: dict(per_object) for obj in OBJECTS} if per_object else {}
    for role in roles:
        for obj, actions in OTHER_GRANTS.get(role, {}).items():
            _widen(grants.setdefault(obj, {}), actions)
    return grants


def _widen(held: dict[str, str], granted: RoleGrants) -> None:
    for action, scope in granted.items():
        before = held.get(action.value)
        if before is None or _WIDTH[scope] > _WIDTH[Scope(before)]:
            held[action.value] = scope.value
