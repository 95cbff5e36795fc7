"""Administration of teams: create, read, move and rename, delete."""

import uuid
from collections.abc import Mapping
from typing import Any, Protocol

from crm_gateway.identity.access import reaches_team, teams_within
from crm_gateway.identity.directory import IdentityDirectory
from crm_gateway.identity.domain import Team
from crm_gateway.preconditions import ExpectedVersion
from crm_platform.auth.principal import Action, Principal
from crm_platform.errors import NotFound, PermissionDenied
from crm_platform.ids import uuid7


class TeamStore(Protocol):
    async def get(self, team_id: uuid.UUID) -> Team | None: ...

    async def page(
        self, *, after: uuid.UUID | None, limit: int, within: frozenset[uuid.UUID] | None
    ) -> list[Team]: ...

    async def add(self, *, name: str, parent_id: uuid.UUID | None, team_id: uuid.UUID) -> Team: ...

    async def update(
        self, team_id: uuid.UUID, expected_version: ExpectedVersion, changes: Mapping[str, Any]
    ) -> tuple[Team, Team]: ...

    async def delete(self, team_id: uuid.UUID, expected_version: ExpectedVersion) -> Team: ...


class TeamAdmin:
    def __init__(self, teams: TeamStore, directory: IdentityDirectory) -> None:
        self._teams = teams
        self._directory = directory

    async def create(self, principal: Principal, *, name: str, parent_id: uuid.UUID | None) -> Team:
        scope = principal.require("team", Action.CREATE)
        if not reaches_team(principal, scope, parent_id):
            raise PermissionDenied("you may create teams only below a team of your subtree")
        team = await self._teams.add(name=name, parent_id=parent_id, team_id=uuid7())
        await self._directory.changed()
        return team

    async def page(
        self, principal: Principal, *, after: uuid.UUID | None, limit: int
    ) -> list[Team]:
        scope = principal.require("team", Action.READ)
        return await self._teams.page(
            after=after, limit=limit, within=teams_within(principal, scope)
        )

    async def get(self, principal: Principal, team_id: uuid.UUID) -> Team:
        scope = principal.require("team", Action.READ)
        team = await self._teams.get(team_id)
        if team is None or not reaches_team(principal, scope, team.id):
            raise NotFound(f"team {team_id} not found")
        return team

    async def update(
        self,
        principal: Principal,
        team_id: uuid.UUID,
        *,
        expected_version: ExpectedVersion,
        changes: Mapping[str, Any],
    ) -> tuple[Team, Team]:
        scope = principal.require("team", Action.EDIT)
        await self._reachable(principal, team_id, Action.EDIT)
        if "parent_id" in changes and not reaches_team(principal, scope, changes["parent_id"]):
            raise PermissionDenied("you may move teams only below a team of your subtree")
        before, after = await self._teams.update(team_id, expected_version, changes)
        await self._directory.changed()
        return before, after

    async def delete(
        self, principal: Principal, team_id: uuid.UUID, *, expected_version: ExpectedVersion
    ) -> Team:
        await self._reachable(principal, team_id, Action.DELETE)
        before = await self._teams.delete(team_id, expected_version)
        await self._directory.changed()
        return before

    async def _reachable(self, principal: Principal, team_id: uuid.UUID, action: Action) -> None:
        scope = principal.require("team", action)
        if not reaches_team(principal, scope, team_id):
            raise NotFound(f"team {team_id} not found")
