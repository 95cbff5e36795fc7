"""Roles: the built-in ones of DESIGN §7 (read-only) and custom ones, whose grants reach the
principal of every user holding them within seconds (crm_gateway.identity.directory)."""

import uuid
from collections.abc import Mapping
from typing import Any, Protocol

from crm_gateway.identity.directory import IdentityDirectory
from crm_gateway.identity.domain import Role
from crm_gateway.identity.roles import (
    BUILT_IN_ROLES,
    built_in_grants,
    exceeding,
    permission_violations,
    role_name_violations,
)
from crm_gateway.preconditions import ExpectedVersion
from crm_platform.auth.principal import Action, Principal
from crm_platform.errors import InvalidArgument, NotFound, PermissionDenied, PreconditionFailed
from crm_platform.ids import uuid7

_BUILT_IN = sorted(
    (Role(name=name, permissions=built_in_grants(name), built_in=True) for name in BUILT_IN_ROLES),
    key=lambda role: role.name,
)


class RoleStore(Protocol):
    async def page(self, *, after: str | None, limit: int) -> list[Role]: ...

    async def get(self, name: str) -> Role | None: ...

    async def add(self, role_id: uuid.UUID, name: str, permissions: Mapping[str, Any]) -> Role: ...

    async def update(
        self, name: str, expected_version: ExpectedVersion, permissions: Mapping[str, Any]
    ) -> tuple[Role, Role]: ...

    async def delete(self, name: str, expected_version: ExpectedVersion) -> Role: ...


class RoleAdmin:
    def __init__(self, store: RoleStore, directory: IdentityDirectory) -> None:
        self._store = store
        self._directory = directory

    async def page(self, principal: Principal, *, after: str | None, limit: int) -> list[Role]:
        """Built-in and custom roles together, by name."""
        principal.require("role", Action.READ)
        custom = await self._store.page(after=after, limit=limit)
        built_in = [role for role in _BUILT_IN if after is None or role.name > after]
        return sorted(built_in + custom, key=lambda role: role.name)[:limit]

    async def get(self, principal: Principal, name: str) -> Role:
        principal.require("role", Action.READ)
        for role in _BUILT_IN:
            if role.name == name:
                return role
        found = await self._store.get(name)
        if found is None:
            raise NotFound(f"role {name[:50]} not found")
        return found

    async def create(
        self, principal: Principal, *, name: str, permissions: dict[str, dict[str, str]]
    ) -> Role:
        principal.require("role", Action.CREATE)
        violations = role_name_violations(name) + permission_violations(permissions)
        if violations:
            raise InvalidArgument(violations)
        _require_within(principal, permissions)
        role = await self._store.add(uuid7(), name, permissions)
        await self._directory.changed()
        return role

    async def update(
        self,
        principal: Principal,
        name: str,
        *,
        expected_version: ExpectedVersion,
        permissions: dict[str, dict[str, str]],
    ) -> tuple[Role, Role]:
        principal.require("role", Action.EDIT)
        _refuse_built_in(name)
        violations = permission_violations(permissions)
        if violations:
            raise InvalidArgument(violations)
        _require_within(principal, permissions)
        before, after = await self._store.update(name, expected_version, permissions)
        await self._directory.changed()
        return before, after

    async def delete(
        self, principal: Principal, name: str, *, expected_version: ExpectedVersion
    ) -> Role:
        principal.require("role", Action.DELETE)
        _refuse_built_in(name)
        before = await self._store.delete(name, expected_version)
        await self._directory.changed()
        return before


def _refuse_built_in(name: str) -> None:
    if name in BUILT_IN_ROLES:
        raise PreconditionFailed(f"{name} is a built-in role; built-in roles are read-only")


def _require_within(principal: Principal, permissions: Mapping[str, Mapping[str, str]]) -> None:
    wider = exceeding(permissions, principal.grants)
    if wider:
        raise PermissionDenied(f"a role may not grant more than you hold: {', '.join(wider)}")
