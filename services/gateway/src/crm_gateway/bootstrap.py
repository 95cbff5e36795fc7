"""Wires concrete classes together; the only place that does."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypedDict

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_gateway.api import webhook_events
from crm_gateway.api.app import create_app
from crm_gateway.api.deps import Limiter, Services
from crm_gateway.api.edge import EdgeSettings
from crm_gateway.audit.repository import SqlAuditLog
from crm_gateway.audit.rules import parse_networks
from crm_gateway.clients.customer import EVENT_SUBJECTS, CustomerClient, Record
from crm_gateway.clients.health import HealthProbe
from crm_gateway.clients.invalidation import CacheInvalidation
from crm_gateway.clients.read_cache import ReadCache
from crm_gateway.config import GatewaySettings
from crm_gateway.idempotency.repository import SqlIdempotencyStore
from crm_gateway.identity.callers import CallerCache, ExternalTokens, KeyCallers
from crm_gateway.identity.directory import IdentityDirectory
from crm_gateway.identity.key_repository import SqlApiKeyRepository
from crm_gateway.identity.key_usecases import ApiKeys
from crm_gateway.identity.logins import Logins, ThrottleLimits
from crm_gateway.identity.oidc import KeyCache, OidcIssuer, OidcVerifier
from crm_gateway.identity.passwords import Argon2Hasher
from crm_gateway.identity.repository import SqlUserRepository
from crm_gateway.identity.role_admin import RoleAdmin
from crm_gateway.identity.role_store import SqlRoles
from crm_gateway.identity.session_store import SqlSessions, directory_loader
from crm_gateway.identity.sso import SsoLogin, SsoPolicy
from crm_gateway.identity.team_admin import TeamAdmin
from crm_gateway.identity.team_store import SqlTeams
from crm_gateway.identity.throttle import SqlLoginThrottle
from crm_gateway.identity.tokens import AccessTokens
from crm_gateway.identity.usecases import Identity
from crm_gateway.identity.user_admin import UserAdmin
from crm_gateway.identity.user_store import SqlUserAdminStore
from crm_gateway.ratelimit.limiter import RateLimiter
from crm_gateway.ratelimit.store import SqlBudgetStore
from crm_gateway.readiness import Readiness
from crm_gateway.webhooks.deliveries import SqlDeliveries
from crm_gateway.webhooks.repository import SqlWebhooks
from crm_gateway.webhooks.runtime import WebhookRuntime
from crm_gateway.webhooks.sender import SendPolicy
from crm_gateway.webhooks.usecases import Limits as WebhookLimits
from crm_gateway.webhooks.usecases import Webhooks
from crm_platform.db.engine import create_engine
from crm_platform.grpc.client import create_channel

log = logging.getLogger(__name__)

# The SSO issuer's discovery and key documents; a slow issuer must not hold requests long.
_ISSUER_TIMEOUT_SECONDS = 5.0


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
        issuer_http = httpx.AsyncClient(timeout=_ISSUER_TIMEOUT_SECONDS)
        ids = _identity(settings, engine, issuer_http)
        hooks = _webhook_runtime(settings, engine)
        app.state.services = Services(
            customer=CustomerClient(customer, cache),
            readiness=Readiness(engine, probes),
            idempotency=SqlIdempotencyStore(engine),
            audit=SqlAuditLog(engine),
            trusted_proxies=trusted_proxies,
            webhooks=_webhooks(settings, engine),
            **ids.services,
        )
        try:
            ids.directory.start()
            await hooks.start()
            if invalidation is not None:
                await invalidation.start()
            await _ensure_admin(settings, ids.identity)
            yield
        finally:
            await hooks.stop()
            await ids.directory.stop()
            if invalidation is not None:
                await invalidation.stop()
            for probe in probes:
                await probe.close()
            await customer.close()
            await issuer_http.aclose()
            await engine.dispose()

    edge = EdgeSettings(
        cors_origins=settings.cors_origins,
        hsts_seconds=settings.hsts_seconds,
        request_timeout_seconds=settings.request_timeout_seconds,
        upload_max_bytes=settings.upload_max_bytes,
        upload_timeout_seconds=settings.upload_timeout_seconds,
    )
    return create_app(lifespan, edge)


def _sso(
    settings: GatewaySettings, users: SqlUserRepository, http: httpx.AsyncClient
) -> ExternalTokens | None:
    if not (settings.sso_issuer and settings.sso_audience):
        return None
    issuer = OidcIssuer(
        issuer=settings.sso_issuer,
        audience=settings.sso_audience,
        algorithms=frozenset(settings.sso_algorithms),
        jwks_url=settings.sso_jwks_url,
        leeway_seconds=settings.sso_leeway_seconds,
    )
    keys = KeyCache(
        issuer,
        http,
        refetch_seconds=settings.sso_jwks_refetch_seconds,
        max_age_seconds=settings.sso_jwks_max_age_seconds,
    )
    policy = SsoPolicy(
        issuer=settings.sso_issuer,
        roles_claim=settings.sso_roles_claim,
        role_map=settings.sso_role_map,
        auto_provision=settings.sso_auto_provision,
    )
    return SsoLogin(OidcVerifier(issuer, keys), users, policy)


class _IdentityServices(TypedDict):
    identity: Identity
    tokens: AccessTokens
    callers: CallerCache
    limiter: Limiter | None
    api_keys: ApiKeys
    key_callers: KeyCallers
    logins: Logins
    teams: TeamAdmin
    roles: RoleAdmin
    users: UserAdmin


@dataclass(frozen=True)
class _IdentityParts:
    identity: Identity
    directory: IdentityDirectory
    services: _IdentityServices


def _identity(
    settings: GatewaySettings, engine: AsyncEngine, issuer_http: httpx.AsyncClient
) -> _IdentityParts:
    users = SqlUserRepository(engine)
    hasher = Argon2Hasher()
    identity = Identity(users, hasher)
    tokens = AccessTokens(settings.jwt_secret.get_secret_value(), settings.access_token_ttl_seconds)
    load = directory_loader(engine, access_token_ttl_seconds=settings.access_token_ttl_seconds)
    directory = IdentityDirectory(load, settings.identity_refresh_seconds)
    principal_secret = settings.principal_secret.get_secret_value()
    api_keys = ApiKeys(SqlApiKeyRepository(engine))
    services = _IdentityServices(
        identity=identity,
        tokens=tokens,
        callers=CallerCache(
            tokens, principal_secret, directory, external=_sso(settings, users, issuer_http)
        ),
        limiter=(
            Limiter(
                RateLimiter(SqlBudgetStore(engine)),
                default_per_minute=settings.rate_limit_per_minute,
            )
            if settings.rate_limit_per_minute
            else None
        ),
        api_keys=api_keys,
        key_callers=KeyCallers(
            api_keys,
            principal_secret,
            directory,
            cache_seconds=settings.api_key_cache_seconds,
        ),
        logins=_logins(settings, engine, identity, users, tokens, directory),
        teams=TeamAdmin(SqlTeams(engine), directory),
        roles=RoleAdmin(SqlRoles(engine), directory),
        users=UserAdmin(
            store=SqlUserAdminStore(engine), reader=users, hasher=hasher, directory=directory
        ),
    )
    return _IdentityParts(identity, directory, services)


def _logins(
    settings: GatewaySettings,
    engine: AsyncEngine,
    identity: Identity,
    users: SqlUserRepository,
    tokens: AccessTokens,
    directory: IdentityDirectory,
) -> Logins:
    throttle = SqlLoginThrottle(engine, window_seconds=settings.login_failure_window_seconds)
    limits = ThrottleLimits(settings.login_failures_per_email, settings.login_failures_per_ip)
    return Logins(
        identity=identity,
        users=users,
        sessions=SqlSessions(engine),
        throttle=throttle,
        tokens=tokens,
        directory=directory,
        limits=limits,
        refresh_ttl_seconds=settings.refresh_token_ttl_seconds,
    )


def _webhooks(settings: GatewaySettings, engine: AsyncEngine) -> Webhooks:
    limits = WebhookLimits(
        allow_http=settings.webhook_allow_http,
        allow_private_addresses=settings.webhook_allow_private_addresses,
        max_per_owner=settings.webhook_max_per_owner,
    )
    return Webhooks(SqlWebhooks(engine), SqlDeliveries(engine), limits=limits)


def _webhook_runtime(settings: GatewaySettings, engine: AsyncEngine) -> WebhookRuntime:
    policy = SendPolicy(
        timeout_seconds=settings.webhook_timeout_seconds,
        max_attempts=settings.webhook_max_attempts,
        retry_base_seconds=settings.webhook_retry_base_seconds,
        retry_cap_seconds=settings.webhook_retry_cap_seconds,
        disable_after_failures=settings.webhook_disable_after_failures,
        allow_private_addresses=settings.webhook_allow_private_addresses,
    )
    return WebhookRuntime(
        engine,
        nats_url=settings.nats_url,
        events={"customer": webhook_events.EVENT_NAMES},
        render=webhook_events.render,
        policy=policy,
        stream_replicas=settings.nats_stream_replicas,
    )


async def _ensure_admin(settings: GatewaySettings, identity: Identity) -> None:
    email, password = settings.bootstrap_admin_email, settings.bootstrap_admin_password
    if not (email and password and password.get_secret_value()):
        return
    if await identity.ensure_admin(email, password.get_secret_value()):
        log.info("bootstrap admin created")
