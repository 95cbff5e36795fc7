"""Wires concrete classes together; the only place that does."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from crm_gateway.api.app import create_app
from crm_gateway.api.deps import Services
from crm_gateway.audit.repository import SqlAuditLog
from crm_gateway.audit.rules import parse_networks
from crm_gateway.clients.customer import EVENT_SUBJECTS, CustomerClient, Record
from crm_gateway.clients.health import HealthProbe
from crm_gateway.clients.invalidation import CacheInvalidation
from crm_gateway.clients.read_cache import ReadCache
from crm_gateway.config import GatewaySettings
from crm_gateway.idempotency.repository import SqlIdempotencyStore
from crm_gateway.identity.callers import CallerCache
from crm_gateway.identity.passwords import Argon2Hasher
from crm_gateway.identity.repository import SqlUserRepository
from crm_gateway.identity.tokens import AccessTokens
from crm_gateway.identity.usecases import Identity
from crm_gateway.readiness import Readiness
from crm_platform.db.engine import create_engine
from crm_platform.grpc.client import create_channel

log = logging.getLogger(__name__)


def build_app(settings: GatewaySettings) -> FastAPI:
    """The gateway app; its lifespan opens (and closes) the database and the channels."""
    settings.require_secrets()
    trusted_proxies = parse_networks(p for p in settings.trusted_proxies.split(",") if p.strip())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Channels bind to the running event loop, so they are made here, not earlier.
        engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
        customer = create_channel(
            settings.customer_target, default_timeout=settings.grpc_timeout_seconds
        )
        probes = [
            HealthProbe("customer", settings.customer_target),
            HealthProbe("sales", settings.sales_target),
        ]
        cache: ReadCache[Record] = ReadCache(
            max_records=settings.read_cache_records, ttl_seconds=settings.read_cache_ttl_seconds
        )
        invalidation = (
            CacheInvalidation(cache, settings.nats_url, EVENT_SUBJECTS)
            if settings.nats_url and settings.read_cache_records
            else None
        )
        identity = Identity(SqlUserRepository(engine), Argon2Hasher())
        tokens = AccessTokens(
            settings.jwt_secret.get_secret_value(), settings.access_token_ttl_seconds
        )
        app.state.services = Services(
            identity=identity,
            tokens=tokens,
            callers=CallerCache(tokens, settings.principal_secret.get_secret_value()),
            customer=CustomerClient(customer, cache),
            readiness=Readiness(engine, probes),
            idempotency=SqlIdempotencyStore(engine),
            audit=SqlAuditLog(engine),
            trusted_proxies=trusted_proxies,
        )
        try:
            if invalidation is not None:
                await invalidation.start()
            await _ensure_admin(settings, identity)
            yield
        finally:
            if invalidation is not None:
                await invalidation.stop()
            for probe in probes:
                await probe.close()
            await customer.close()
            await engine.dispose()

    return create_app(lifespan)


async def _ensure_admin(settings: GatewaySettings, identity: Identity) -> None:
    email, password = settings.bootstrap_admin_email, settings.bootstrap_admin_password
    if not (email and password and password.get_secret_value()):
        return
    if await identity.ensure_admin(email, password.get_secret_value()):
        log.info("bootstrap admin created")
