"""What a principal needs beyond its access token, kept in memory per gateway process: the
team tree (a user reaches its team's whole subtree), the grants of custom roles, and the
sessions revoked lately (logout, deactivation, refresh token reuse).

Several gateway processes serve at once, so each reloads all three every few seconds in
the background; a change made by this process reloads at once. Requests never wait for the
database, except for the very first load.
"""

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from crm_gateway.identity.roles import Grants, merged_grants

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DirectoryData:
    parents: Mapping[uuid.UUID, uuid.UUID | None] = field(default_factory=dict)
    custom_grants: Mapping[str, Grants] = field(default_factory=dict)
    revoked_sessions: frozenset[uuid.UUID] = frozenset()


DirectoryLoader = Callable[[], Awaitable[DirectoryData]]


class Snapshot:
    """One load of the directory; `generation` changes only when the data did."""

    def __init__(self, data: DirectoryData, generation: int) -> None:
        self.data = data
        self.generation = generation
        self._children: dict[uuid.UUID, list[uuid.UUID]] = {}
        for team, parent in data.parents.items():
            if parent is not None:
                self._children.setdefault(parent, []).append(team)
        self._subtrees: dict[uuid.UUID, frozenset[uuid.UUID]] = {}
        self._grants: dict[tuple[str, ...], Grants] = {}

    def team_ids(self, team_id: uuid.UUID | None) -> frozenset[uuid.UUID]:
        """`team_id` and all its descendants; an unknown team reaches only itself."""
        if team_id is None:
            return frozenset()
        found = self._subtrees.get(team_id)
        if found is None:
            reached, pending = {team_id}, [team_id]
            while pending:  # the writers refuse cycles; `reached` would stop one anyway
                for child in self._children.get(pending.pop(), ()):
                    if child not in reached:
                        reached.add(child)
                        pending.append(child)
            found = self._subtrees[team_id] = frozenset(reached)
        return found

    def grants(self, roles: tuple[str, ...]) -> Grants:
        found = self._grants.get(roles)
        if found is None:
            found = self._grants[roles] = merged_grants(roles, self.data.custom_grants)
        return found

    def is_revoked(self, session_id: uuid.UUID) -> bool:
        return session_id in self.data.revoked_sessions


class IdentityDirectory:
    def __init__(self, load: DirectoryLoader, refresh_seconds: float) -> None:
        self._load = load
        self._refresh_seconds = refresh_seconds
        self._snapshot: Snapshot | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def current(self) -> Snapshot:
        if self._snapshot is not None:
            return self._snapshot
        async with self._lock:
            if self._snapshot is None:
                await self._reload_locked()
        assert self._snapshot is not None
        return self._snapshot

    async def reload(self) -> Snapshot:
        """Load now: after this process changed teams, roles or sessions."""
        async with self._lock:
            return await self._reload_locked()

    async def changed(self) -> None:
        """This process changed what the directory holds: reload, and leave a failure to the
        background refresh (the change itself is committed)."""
        try:
            await self.reload()
        except Exception:
            log.warning("identity directory reload after a change failed", exc_info=True)

    async def _reload_locked(self) -> Snapshot:
        data = await self._load()
        previous = self._snapshot
        if previous is None or previous.data != data:
            generation = previous.generation + 1 if previous else 1
            self._snapshot = Snapshot(data, generation)
        assert self._snapshot is not None
        return self._snapshot

    def start(self) -> None:
        self._task = asyncio.create_task(self._refresh_forever(), name="identity-directory")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _refresh_forever(self) -> None:
        while True:
            try:
                await self.reload()
            except Exception:
                # The last snapshot keeps serving: the database being away must not stop
                # requests whose tokens are already known.
                log.warning("identity directory refresh failed", exc_info=True)
            await asyncio.sleep(self._refresh_seconds)
