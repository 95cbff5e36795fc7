"""Administration of users: create, read, change, deactivate (users are never deleted: the
records they own and the audit trail keep pointing at them)."""

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from crm_gateway.identity.access import reaches_team, reaches_user, teams_within
from crm_gateway.identity.directory import IdentityDirectory
from crm_gateway.identity.domain import User, normalize_email
from crm_gateway.identity.handover import handover
from crm_gateway.identity.roles import exceeding
from crm_gateway.identity.usecases import PasswordHasher
from crm_gateway.preconditions import ExpectedVersion
from crm_platform.auth.principal import Action, Principal, Scope
from crm_platform.errors import NotFound, PermissionDenied
from crm_platform.ids import uuid7


class UserStore(Protocol):
    async def page(
        self,
        *,
        after: uuid.UUID | None,
        limit: int,
        within: frozenset[uuid.UUID] | None,
        self_id: uuid.UUID,
    ) -> list[User]: ...

    async def add(self, user: User) -> User: ...

    async def update(
        self,
        user_id: uuid.UUID,
        expected_version: ExpectedVersion,
        changes: Mapping[str, Any],
        *,
        end_sessions: bool,
    ) -> tuple[User, User]: ...


class UserReader(Protocol):
    async def get(self, user_id: uuid.UUID) -> User | None: ...


class UserAdmin:
    def __init__(
        self,
        *,
        store: UserStore,
        reader: UserReader,
        hasher: PasswordHasher,
        directory: IdentityDirectory,
    ) -> None:
        self._store = store
        self._reader = reader
        self._hasher = hasher
        self._directory = directory

    async def create(
        self,
        principal: Principal,
        *,
        email: str,
        display_name: str,
        password: str | None,
        roles: Sequence[str],
        team_id: uuid.UUID | None,
        active: bool,
    ) -> User:
        scope = principal.require("user", Action.CREATE)
        self._require_team(principal, scope, team_id)
        roles = tuple(dict.fromkeys(roles))
        await self._require_roles_within(principal, roles)
        user = User(
            id=uuid7(),
            email=normalize_email(email),
            display_name=display_name,
            roles=roles,
            team_id=team_id,
            active=active,
            version=1,
            password_hash=await self._hasher.hash(password) if password else None,
        )
        return await self._store.add(user)

    async def page(
        self, principal: Principal, *, after: uuid.UUID | None, limit: int
    ) -> list[User]:
        scope = principal.require("user", Action.READ)
        within = teams_within(principal, scope)
        return await self._store.page(
            after=after, limit=limit, within=within, self_id=principal.subject_id
        )

    async def get(self, principal: Principal, user_id: uuid.UUID) -> User:
        return await self._reachable(principal, user_id, Action.READ)

    async def update(
        self,
        principal: Principal,
        user_id: uuid.UUID,
        *,
        expected_version: ExpectedVersion,
        changes: Mapping[str, Any],
    ) -> tuple[User, User]:
        """Apply a merge patch: `password` None removes the password (SSO only)."""
        scope = principal.require("user", Action.EDIT)
        await self._reachable(principal, user_id, Action.EDIT)
        columns = dict(changes)
        if "team_id" in columns:
            self._require_team(principal, scope, columns["team_id"])
        if "roles" in columns:
            columns["roles"] = tuple(dict.fromkeys(columns["roles"]))
            await self._require_roles_within(principal, columns["roles"])
        if "email" in columns:
            columns["email"] = normalize_email(columns["email"])
        if "password" in columns:
            password = columns.pop("password")
            columns["password_hash"] = await self._hasher.hash(password) if password else None
        # A new password or deactivation ends every session: whoever held one is out.
        end_sessions = "password_hash" in columns or columns.get("active") is False
        return await self._apply(user_id, expected_version, columns, end_sessions)

    async def handover(
        self,
        principal: Principal,
        obj: str,
        values: Mapping[str, Any],
        current: Mapping[str, str],
    ) -> dict[str, Any]:
        """A record change's new owner and team, checked (identity/handover.py)."""
        teams = (await self._directory.current()).data.parents
        return await handover(self._reader.get, teams, principal, obj, values, current)

    async def deactivate(
        self, principal: Principal, user_id: uuid.UUID, *, expected_version: ExpectedVersion
    ) -> tuple[User, User]:
        await self._reachable(principal, user_id, Action.DELETE)
        return await self._apply(user_id, expected_version, {"active": False}, True)

    async def _apply(
        self,
        user_id: uuid.UUID,
        expected_version: ExpectedVersion,
        columns: Mapping[str, Any],
        end_sessions: bool,
    ) -> tuple[User, User]:
        before, after = await self._store.update(
            user_id, expected_version, columns, end_sessions=end_sessions
        )
        if end_sessions:
            await self._directory.changed()
        return before, after

    async def _reachable(self, principal: Principal, user_id: uuid.UUID, action: Action) -> User:
        scope = principal.require("user", action)
        user = await self._reader.get(user_id)
        if user is None or not reaches_user(principal, scope, user):
            raise NotFound(f"user {user_id} not found")
        return user

    @staticmethod
    def _require_team(principal: Principal, scope: Scope, team_id: uuid.UUID | None) -> None:
        if not reaches_team(principal, scope, team_id):
            raise PermissionDenied("you may place users only in teams of your subtree")

    async def _require_roles_within(self, principal: Principal, roles: tuple[str, ...]) -> None:
        snapshot = await self._directory.current()
        wider = exceeding(snapshot.grants(roles), principal.grants)
        if wider:
            raise PermissionDenied(f"these roles grant more than you hold: {', '.join(wider)}")
