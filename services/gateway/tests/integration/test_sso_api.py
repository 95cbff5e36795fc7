"""SSO: access tokens of an external OIDC issuer, played by a tiny JWKS server on 127.0.0.1."""

import asyncio
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from crm_platform.testing.ports import free_port

from .conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Gateway,
    assert_problem,
    fake_customer_service,
    running_gateway,
    settings_for,
)

pytestmark = pytest.mark.integration

AUDIENCE = "crm-portal"
ROLE_MAP = {"crm-admins": "admin", "crm-reps": "sales_rep"}
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass
class SigningKey:
    kid: str
    private: PrivateKey
    algorithm: str

    @classmethod
    def rsa(cls, kid: str) -> "SigningKey":
        return cls(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")

    @classmethod
    def ec(cls, kid: str) -> "SigningKey":
        return cls(kid, ec.generate_private_key(ec.SECP256R1()), "ES256")

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        exported = (
            RSAAlgorithm.to_jwk(public)
            if isinstance(public, rsa.RSAPublicKey)
            else ECAlgorithm.to_jwk(public)
        )
        return {**json.loads(exported), "kid": self.kid, "use": "sig"}


@dataclass
class Issuer:
    """An OIDC issuer's discovery document and JWKS, served from a thread."""

    published: list[SigningKey] = field(default_factory=list)
    hits: Counter[str] = field(default_factory=Counter)
    url: str = ""

    def token(self, key: SigningKey, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self.url, "aud": AUDIENCE, "sub": "idp-user-1", "iat": now}
        body |= {"exp": now + 300, "jti": uuid.uuid4().hex, **claims}
        return jwt.encode(body, key.private, algorithm=key.algorithm, headers={"kid": key.kid})

    def document(self, path: str) -> dict[str, Any] | None:
        if path == "/.well-known/openid-configuration":
            return {"issuer": self.url, "jwks_uri": f"{self.url}/keys"}
        if path == "/keys":
            return {"keys": [key.jwk() for key in self.published]}
        return None


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    state = Issuer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits[self.path] += 1
            document = state.document(self.path)
            body = json.dumps(document).encode()
            self.send_response(200 if document is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@asynccontextmanager
async def sso_gateway(database: str, issuer: Issuer, **overrides: Any) -> AsyncIterator[Gateway]:
    async with fake_customer_service() as (target, fake):
        settings = settings_for(
            database,
            target,
            sso_issuer=issuer.url,
            sso_audience=AUDIENCE,
            sso_role_map=ROLE_MAP,
            **overrides,
        )
        async with running_gateway(settings) as (app, client):
            yield Gateway(client, app, fake, settings)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_valid_token_signs_in_the_user_with_that_verified_email(
    migrated_database: str, issuer: Issuer
) -> None:
    key = SigningKey.rsa("rsa-1")
    issuer.published = [key]
    async with sso_gateway(migrated_database, issuer) as gateway:
        own = (await gateway.client.get("/api/v1/me", headers=await gateway.login())).json()
        token = issuer.token(key, email=ADMIN_EMAIL, email_verified=True, roles=["crm-admins"])
        me = await gateway.client.get("/api/v1/me", headers=bearer(token))
        assert me.status_code == 200, me.text
        assert me.json() == own  # the same user, with the same roles
        created = await gateway.client.post(
            "/api/v1/accounts", json={"name": "Via SSO"}, headers=bearer(token)
        )
        assert created.status_code == 201, created.text
        assert str(gateway.fake.callers[-1].subject_id) == own["id"]
        assert gateway.fake.callers[-1].grants["account"]["create"] == "all"
        # The identity is linked now: the email claim is no longer needed.
        again = await gateway.client.get("/api/v1/me", headers=bearer(issuer.token(key)))
        assert again.json()["id"] == own["id"]
    assert issuer.hits["/.well-known/openid-configuration"] == 1
    assert issuer.hits["/keys"] == 1  # cached across tokens


async def test_bad_tokens_are_401(migrated_database: str, issuer: Issuer) -> None:
    key, stranger = SigningKey.rsa("rsa-1"), SigningKey.rsa("rsa-1")
    issuer.published = [key]
    linked = {"email": ADMIN_EMAIL, "email_verified": True}
    now = int(time.time())
    bad = {
        "wrong audience": issuer.token(key, aud="someone-else", **linked),
        "wrong issuer": issuer.token(key, iss="http://127.0.0.1:1/other", **linked),
        "expired": issuer.token(key, exp=now - 120, iat=now - 600, **linked),
        "not yet valid": issuer.token(key, nbf=now + 600, **linked),
        "bad signature": issuer.token(stranger, **linked),
        "unverified email": issuer.token(key, email=ADMIN_EMAIL, email_verified=False),
        "unknown user": issuer.token(key, sub="nobody", email="nobody@example.com"),
        "no subject": issuer.token(key, sub="", **linked),
        "garbage": "not.a.token",
    }
    async with sso_gateway(migrated_database, issuer) as gateway:
        for why, token in bad.items():
            reply = await gateway.client.get("/api/v1/me", headers=bearer(token))
            assert reply.status_code == 401, why
            assert_problem(reply, 401)
            assert reply.headers["www-authenticate"] == "Bearer"
        good = await gateway.client.get("/api/v1/me", headers=bearer(issuer.token(key, **linked)))
        assert good.status_code == 200, good.text


async def test_unknown_users_are_provisioned_with_mapped_roles_and_no_password(
    migrated_database: str, issuer: Issuer
) -> None:
    key = SigningKey.ec("ec-1")
    issuer.published = [key]
    claims = {
        "sub": "idp-42",
        "email": "New.Rep@Example.com",
        "email_verified": True,
        "name": "New Rep",
        "realm_access": {"roles": ["crm-reps", "offline_access"]},
    }
    async with sso_gateway(
        migrated_database,
        issuer,
        sso_auto_provision=True,
        sso_roles_claim="realm_access.roles",
    ) as gateway:
        me = await gateway.client.get("/api/v1/me", headers=bearer(issuer.token(key, **claims)))
        assert me.status_code == 200, me.text
        assert (me.json()["email"], me.json()["display_name"]) == ("new.rep@example.com", "New Rep")
        assert me.json()["roles"] == ["sales_rep"]
        # The issuer's roles win on every new token, and /me shows them.
        claims["realm_access"] = {"roles": ["crm-admins"]}
        promoted = await gateway.client.get(
            "/api/v1/me", headers=bearer(issuer.token(key, **claims))
        )
        assert (promoted.json()["id"], promoted.json()["roles"]) == (me.json()["id"], ["admin"])
        for password in ("", "x", ADMIN_PASSWORD):
            login = await gateway.client.post(
                "/api/v1/auth/token", data={"username": "new.rep@example.com", "password": password}
            )
            assert login.status_code in (401, 422)


async def test_rotated_keys_work_after_a_refetch_and_removed_ones_stop(
    migrated_database: str, issuer: Issuer
) -> None:
    old, new = SigningKey.rsa("2026-01"), SigningKey.ec("2026-02")
    issuer.published = [old]
    linked = {"email": ADMIN_EMAIL, "email_verified": True}
    async with sso_gateway(
        migrated_database, issuer, sso_jwks_url=f"{issuer.url}/keys", sso_jwks_refetch_seconds=0
    ) as gateway:
        before = await gateway.client.get("/api/v1/me", headers=bearer(issuer.token(old, **linked)))
        assert before.status_code == 200, before.text
        issuer.published = [new]  # the issuer rotates: the old key is gone
        rotated = await gateway.client.get(
            "/api/v1/me", headers=bearer(issuer.token(new, **linked))
        )
        assert rotated.status_code == 200, rotated.text
        removed = await gateway.client.get(
            "/api/v1/me", headers=bearer(issuer.token(old, **linked))
        )
        assert_problem(removed, 401)
    assert issuer.hits["/.well-known/openid-configuration"] == 0  # the configured URL is used
    assert issuer.hits["/keys"] == 3


async def test_unknown_kids_refetch_the_keys_at_most_once_per_interval(
    migrated_database: str, issuer: Issuer
) -> None:
    interval = 1.5
    key, late = SigningKey.rsa("rsa-1"), SigningKey.rsa("late")
    issuer.published = [key]
    forger = SigningKey.rsa("forger")

    async def forged() -> int:
        forger.kid = uuid.uuid4().hex
        reply = await gateway.client.get("/api/v1/me", headers=bearer(issuer.token(forger)))
        return reply.status_code

    async with sso_gateway(migrated_database, issuer, sso_jwks_refetch_seconds=interval) as gateway:
        first = issuer.token(key, email=ADMIN_EMAIL, email_verified=True)
        assert (await gateway.client.get("/api/v1/me", headers=bearer(first))).status_code == 200
        issuer.published = [key, late]
        # Within the interval, unknown kids fetch nothing, even a kid just published.
        assert [await forged() for _ in range(20)] == [401] * 20
        too_soon = await gateway.client.get("/api/v1/me", headers=bearer(issuer.token(late)))
        assert_problem(too_soon, 401)
        assert issuer.hits["/keys"] == 1
        await asyncio.sleep(interval)
        # After it, concurrent unknown kids share one refetch, which finds the new key.
        late_reply, *forged_replies = await asyncio.gather(
            gateway.client.get("/api/v1/me", headers=bearer(issuer.token(late))),
            *(forged() for _ in range(10)),
        )
        assert late_reply.status_code == 200, late_reply.text
        assert forged_replies == [401] * 10
        assert issuer.hits["/keys"] == 2
        assert [await forged() for _ in range(20)] == [401] * 20
    assert issuer.hits["/keys"] == 2


async def test_an_unreachable_issuer_is_503_and_own_tokens_still_work(
    migrated_database: str, issuer: Issuer
) -> None:
    key = SigningKey.rsa("rsa-1")
    async with sso_gateway(
        migrated_database, issuer, sso_jwks_url=f"http://127.0.0.1:{free_port()}/keys"
    ) as gateway:
        reply = await gateway.client.get("/api/v1/me", headers=bearer(issuer.token(key)))
        assert_problem(reply, 503)
        assert reply.headers["retry-after"]
        own = await gateway.client.get("/api/v1/me", headers=await gateway.login())
        assert own.status_code == 200


async def test_without_sso_settings_foreign_tokens_are_401(
    gateway: Gateway, issuer: Issuer
) -> None:
    key = SigningKey.rsa("rsa-1")
    issuer.published = [key]
    token = issuer.token(key, email=ADMIN_EMAIL, email_verified=True)
    assert_problem(await gateway.client.get("/api/v1/me", headers=bearer(token)), 401)
    assert sum(issuer.hits.values()) == 0


def test_sso_settings_refuse_symmetric_algorithms() -> None:
    with pytest.raises(ValueError, match="HS256"):
        settings_for("postgresql+asyncpg://unused", "unused:1", sso_algorithms=["HS256"])
    with pytest.raises(ValueError, match="AUDIENCE"):
        settings_for("postgresql+asyncpg://unused", "unused:1", sso_issuer="https://idp")
