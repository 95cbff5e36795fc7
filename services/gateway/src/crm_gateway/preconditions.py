"""Which versions of a record a conditional write may change: those its If-Match names
(RFC 9110 §13.1.1), or any for `*`. Framework-free, so the stores check it where they hold
the row, and the HTTP layer parses it once (crm_gateway.api.routes.common)."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from crm_platform.errors import StaleVersion


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


@dataclass(frozen=True)
class ExpectedVersion:
    """`versions` None means any version (`If-Match: *`)."""

    versions: frozenset[int] | None = None

    def check(self, current: int, what: str) -> None:
        """StaleVersion unless `what`, now at version `current`, is at an expected one."""
        if self.versions is not None and current not in self.versions:
            raise StaleVersion(f"{what} is at version {current}")

    async def one(self, read: Callable[[], Awaitable[Versioned]]) -> int:
        """The single version to hand to a write that checks one (the services' RPCs).

        A single named version goes as it is, unread. For `*` or a list the record is
        read: its current version goes on if it is expected, so the write still fails
        should the record change in between."""
        if self.versions is not None and len(self.versions) == 1:
            (version,) = self.versions
            return version
        current = (await read()).version
        self.check(current, "the record")
        return current


ANY_VERSION = ExpectedVersion()
