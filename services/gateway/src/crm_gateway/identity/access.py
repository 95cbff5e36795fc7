"""Which users and teams a principal reaches with a scope (DESIGN §7), for the
administration of users, teams and roles. Teams have no owner: below `all`, a caller
reaches the teams of its own subtree, and the users in them (and itself)."""

import uuid

from crm_gateway.identity.domain import User
from crm_platform.auth.principal import Principal, Scope


def teams_within(principal: Principal, scope: Scope) -> frozenset[uuid.UUID] | None:
    """The team ids `scope` reaches; None for every team."""
    if scope is Scope.ALL:
        return None
    if scope is Scope.PARTNER:
        return frozenset()
    return principal.team_ids if scope is Scope.TEAM else frozenset()


def reaches_team(principal: Principal, scope: Scope, team_id: uuid.UUID | None) -> bool:
    within = teams_within(principal, scope)
    return within is None or (team_id is not None and team_id in within)


def reaches_user(principal: Principal, scope: Scope, user: User) -> bool:
    return principal.reaches(scope, owner_id=user.id, team_id=user.team_id)
