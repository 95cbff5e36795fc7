"""Access tokens of an external OIDC issuer, verified against its published keys (JWKS).

The keys are fetched once and cached. A token naming an unknown `kid` refetches them, since
the issuer may have rotated, but at most once per `refetch_seconds`: a stream of garbage
tokens costs the issuer one request a minute, not one per token. A refetch replaces the
whole set, so a key the issuer removed stops verifying new tokens.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from jwt import PyJWK

from crm_gateway.errors import ServiceUnavailable
from crm_platform.errors import Unauthenticated

log = logging.getLogger(__name__)

_REQUIRED = ["exp", "iss", "aud", "sub"]
DISCOVERY_PATH = "/.well-known/openid-configuration"


@dataclass(frozen=True)
class OidcIssuer:
    issuer: str
    audience: str
    algorithms: frozenset[str]
    jwks_url: str | None = None  # None: from the issuer's discovery document
    leeway_seconds: int = 30


class KeyCache:
    """The issuer's signing keys by `kid`, refetched on unknown kids (rate-limited) and
    when older than `max_age_seconds`. Concurrent misses share one fetch."""

    def __init__(
        self,
        issuer: OidcIssuer,
        http: httpx.AsyncClient,
        *,
        refetch_seconds: float,
        max_age_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._issuer = issuer
        self._http = http
        self._refetch = refetch_seconds
        self._max_age = max_age_seconds
        self._clock = clock
        self._keys: dict[str | None, PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._jwks_url = issuer.jwks_url
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> PyJWK | None:
        found = self._keys.get(kid)
        if found is not None and not self._expired():
            return found
        attempt = self._attempted_at
        async with self._lock:
            if self._attempted_at == attempt and self._may_fetch():
                await self._fetch()
        if not self._keys:
            raise ServiceUnavailable("the SSO issuer's keys cannot be fetched")
        return self._keys.get(kid)

    def _expired(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at > self._max_age

    def _may_fetch(self) -> bool:
        return self._attempted_at is None or self._clock() - self._attempted_at >= self._refetch

    async def _fetch(self) -> None:
        self._attempted_at = self._clock()
        try:
            document = await self._get(await self._keys_url())
            self._keys = _signing_keys(document, self._issuer.algorithms)
            self._fetched_at = self._clock()
        except (httpx.HTTPError, ValueError, TypeError, KeyError) as exc:
            # The keys we have keep working until the issuer answers again.
            log.warning("cannot fetch the SSO issuer's keys", extra={"error": repr(exc)})

    async def _keys_url(self) -> str:
        if self._jwks_url is None:
            issuer = self._issuer.issuer
            discovery = await self._get(issuer.rstrip("/") + DISCOVERY_PATH)
            # OIDC Discovery §4.3: the document must name exactly the issuer we trust.
            if discovery.get("issuer") != issuer:
                raise ValueError(f"discovery names issuer {discovery.get('issuer')!r}")
            self._jwks_url = str(discovery["jwks_uri"])
        return self._jwks_url

    async def _get(self, url: str) -> dict[str, Any]:
        reply = await self._http.get(url)
        reply.raise_for_status()
        document = reply.json()
        if not isinstance(document, dict):
            raise ValueError(f"{url} did not answer a JSON object")
        return document


def _signing_keys(jwks: Mapping[str, Any], algorithms: Collection[str]) -> dict[str | None, PyJWK]:
    keys: dict[str | None, PyJWK] = {}
    for entry in jwks["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            key = PyJWK(entry)
        except jwt.PyJWTError:
            continue  # a key type we cannot use (or do not allow) must not hide the others
        if key.algorithm_name in algorithms:
            keys[entry.get("kid")] = key
    if len(keys) == 1:
        # One key: tokens without a `kid` mean it.
        keys[None] = next(iter(keys.values()))
    return keys


class OidcVerifier:
    def __init__(self, issuer: OidcIssuer, keys: KeyCache) -> None:
        self._issuer = issuer
        self._keys = keys

    def accepts(self, token: str) -> bool:
        """Whether `token` is signed the way this issuer signs (our own tokens are HS256)."""
        try:
            return jwt.get_unverified_header(token).get("alg") in self._issuer.algorithms
        except jwt.PyJWTError:
            return False

    async def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid token of this issuer; raises Unauthenticated otherwise."""
        try:
            header = jwt.get_unverified_header(token)
            algorithm = header.get("alg")
            kid = header.get("kid")
            key = await self._keys.key(kid if isinstance(kid, str) else None)
            if key is None or key.algorithm_name != algorithm:
                raise Unauthenticated("the SSO token is signed by an unknown key")
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm_name],
                audience=self._issuer.audience,
                issuer=self._issuer.issuer,
                leeway=self._issuer.leeway_seconds,
                options={"require": _REQUIRED},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated("invalid or expired SSO token") from exc
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise Unauthenticated("the SSO token names no subject")
        return claims
