"""Built-in roles (DESIGN §7) and the grants they give, per object and action.

A grant is `{object: {action: scope}}` with scopes partner < own < team < all. The record
objects `account` and `contact` get the same grants from a role, because a contact is only
as sensitive as the account it belongs to. The administration objects `user`, `team`,
`role`, `api_key`, `audit` (the audit trail), `webhook` and `custom_field` (defining
custom fields) are granted by admin alone among the built-in roles (custom roles may grant
them; any API key manages its own webhooks).

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
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any

from crm_platform.auth.principal import Action, Scope
from crm_platform.errors import FieldViolation

Grants = dict[str, dict[str, str]]
RoleGrants = Mapping[Action, Scope]

# Every object a grant may name: the one list the API, validation and merging share.
RECORD_OBJECTS = ("account", "contact")
# The gateway's own administration: only admins reach it among the built-in roles.
ADMIN_OBJECTS = ("user", "team", "role", "api_key", "audit", "webhook", "custom_field")
OBJECTS = RECORD_OBJECTS + ADMIN_OBJECTS
ACTIONS = tuple(action.value for action in Action)
SCOPES = tuple(scope.value for scope in Scope)

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

# Scope enum order is narrowest first; a wider scope wins when roles overlap.
_WIDTH = {scope: rank for rank, scope in enumerate(Scope)}


_ROLE_NAME = re.compile(r"^[a-z][a-z0-9_]{1,49}$")


def built_in_grants(role: str) -> Grants:
    """What a built-in role grants, per object; {} for any other name."""
    per_action = {action.value: scope.value for action, scope in ROLE_GRANTS.get(role, {}).items()}
    if not per_action:
        return {}
    objects = OBJECTS if role == "admin" else RECORD_OBJECTS
    return {obj: dict(per_action) for obj in objects}


def merged_grants(
    roles: Iterable[str], custom: Mapping[str, Mapping[str, Mapping[str, str]]] | None = None
) -> Grants:
    """The widest scope per object and action across `roles`, built-in or custom (`custom`
    maps a custom role's name to its grants); unknown roles grant nothing."""
    widest: Grants = {}
    for role in roles:
        grants = built_in_grants(role) if role in BUILT_IN_ROLES else (custom or {}).get(role, {})
        for obj, actions in grants.items():
            held = widest.setdefault(obj, {})
            for action, scope in actions.items():
                current = held.get(action)
                if current is None or _WIDTH[Scope(scope)] > _WIDTH[Scope(current)]:
                    held[action] = scope
    return widest


def role_name_violations(name: str) -> list[FieldViolation]:
    if not _ROLE_NAME.match(name):
        why = "2-50 characters: lower-case letters, digits and _, starting with a letter"
        return [FieldViolation("name", why)]
    if name in BUILT_IN_ROLES:
        return [FieldViolation("name", f"{name!r} is a built-in role")]
    return []


def permission_violations(permissions: Mapping[str, Any]) -> list[FieldViolation]:
    """What is wrong with a custom role's `{object: {action: scope}}`; [] when valid."""
    found: list[FieldViolation] = []
    for obj, actions in permissions.items():
        path = f"permissions.{obj}"
        if obj not in OBJECTS:
            found.append(FieldViolation(path, f"unknown object; one of {', '.join(OBJECTS)}"))
            continue
        if not isinstance(actions, Mapping):
            found.append(FieldViolation(path, "must map actions to scopes"))
            continue
        for action, scope in actions.items():
            if action not in ACTIONS:
                why = f"unknown action; one of {', '.join(ACTIONS)}"
                found.append(FieldViolation(f"{path}.{action}", why))
            elif scope not in SCOPES:
                why = f"unknown scope; one of {', '.join(SCOPES)}"
                found.append(FieldViolation(f"{path}.{action}", why))
    return found


def exceeding(wanted: Mapping[str, Mapping[str, str]], held: Grants) -> list[str]:
    """The `object.action` grants of `wanted` wider than what `held` gives: nobody may hand
    out (through a role or a custom role) more than they hold themselves."""
    return [
        f"{obj}.{action}"
        for obj, actions in wanted.items()
        for action, scope in actions.items()
        if (mine := held.get(obj, {}).get(action)) is None
        or _WIDTH[Scope(scope)] > _WIDTH[Scope(mine)]
    ]
