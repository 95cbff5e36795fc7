"""Connection-pool gauges for every engine made by crm_platform.db.engine.create_engine,
read when Prometheus scrapes (no polling, nothing to keep in sync)."""

import weakref
from collections.abc import Iterator

from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool


class _PoolCollector(Collector):
    def __init__(self) -> None:
        self._engines: weakref.WeakSet[AsyncEngine] = weakref.WeakSet()

    def watch(self, engine: AsyncEngine) -> None:
        self._engines.add(engine)

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # names are fixed; skip the registry's trial collect

    def collect(self) -> Iterator[GaugeMetricFamily]:
        connections = GaugeMetricFamily(
            "crm_db_pool_connections",
            "Database connections held by the pool, by state.",
            labels=["database", "state"],
        )
        limit = GaugeMetricFamily(
            "crm_db_pool_max_connections",
            "The most connections the pool may open (size + overflow).",
            labels=["database"],
        )
        for engine in list(self._engines):
            pool = engine.sync_engine.pool
            if not isinstance(pool, QueuePool):
                continue
            database = engine.url.database or ""
            connections.add_metric([database, "in_use"], pool.checkedout())
            connections.add_metric([database, "idle"], pool.checkedin())
            limit.add_metric([database], pool.size() + pool._max_overflow)
        yield connections
        yield limit


POOLS = _PoolCollector()
REGISTRY.register(POOLS)
