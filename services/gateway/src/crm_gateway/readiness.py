"""Readiness: our own database answers `SELECT 1` and every downstream reports SERVING."""

import asyncio
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_gateway.clients.health import HealthProbe

DATABASE = "database"


class Readiness:
    def __init__(
        self, engine: AsyncEngine, probes: Sequence[HealthProbe], timeout: float = 1.0
    ) -> None:
        self._engine = engine
        self._probes = probes
        self._timeout = timeout

    async def __call__(self) -> dict[str, str | None]:
        """Each check's name -> None when it passed, else why not; all run at once."""
        names = [DATABASE, *(probe.name for probe in self._probes)]
        results = await asyncio.gather(
            self._database(), *(probe.check(self._timeout) for probe in self._probes)
        )
        return dict(zip(names, results, strict=True))

    async def _database(self) -> str | None:
        try:
            async with asyncio.timeout(self._timeout):
                async with self._engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        except TimeoutError:
            return f"no answer within {self._timeout} s"
        except Exception as exc:  # any failure means not ready; the reason is reported
            return f"{type(exc).__name__}: {exc}"
        return None
