"""Access tokens, and the cache that turns one into the signed internal principal."""

import time
import uuid

import jwt
import pytest

from crm_gateway.identity.callers import CallerCache
from crm_gateway.identity.domain import User
from crm_gateway.identity.tokens import AccessTokens
from crm_platform.auth.principal import Action, Scope, verify_token
from crm_platform.errors import Unauthenticated

SECRET = "s" * 32
PRINCIPAL_SECRET = "p" * 32


def user(roles: tuple[str, ...] = ("sales_rep",), team: uuid.UUID | None = None) -> User:
    return User(
        id=uuid.uuid4(), email="rep@example.com", display_name="Rep", roles=roles,
        team_id=team, active=True, version=1, password_hash="x",
    )  # fmt: skip


def test_a_token_carries_roles_and_team() -> None:
    team = uuid.uuid4()
    someone = user(team=team)
    issued = AccessTokens(SECRET, 900).issue(someone)
    claims = AccessTokens(SECRET, 900).decode(issued.access_token)
    assert (claims.user_id, claims.roles, claims.team_id) == (someone.id, ("sales_rep",), team)
    raw = jwt.decode(issued.access_token, options={"verify_signature": False})
    assert {"sub", "exp", "iat", "jti"} <= set(raw)
    assert issued.expires_in == 900


@pytest.mark.parametrize(
    "token",
    [
        "not.a.token",
        AccessTokens("other" * 8, 900).issue(user()).access_token,
        jwt.encode({"sub": str(uuid.uuid4()), "exp": int(time.time()) - 5}, SECRET, "HS256"),
    ],
    ids=["garbage", "wrong-secret", "expired-and-incomplete"],
)
def test_bad_tokens_are_refused(token: str) -> None:
    with pytest.raises(Unauthenticated):
        AccessTokens(SECRET, 900).decode(token)


def test_the_principal_carries_merged_grants_and_team() -> None:
    tokens = AccessTokens(SECRET, 900)
    team = uuid.uuid4()
    someone = user(("sales_rep", "analyst"), team)
    caller = CallerCache(tokens, PRINCIPAL_SECRET).resolve(tokens.issue(someone).access_token)
    ((key, signed),) = caller.metadata
    assert key == "x-crm-principal"
    principal = verify_token(signed, PRINCIPAL_SECRET)
    assert principal.subject_id == someone.id
    assert (principal.team_id, principal.team_ids) == (team, frozenset({team}))
    assert principal.scope("account", Action.READ) is Scope.ALL
    assert principal.scope("account", Action.EDIT) is Scope.OWN


def test_callers_are_cached_per_token_and_bounded() -> None:
    tokens = AccessTokens(SECRET, 900)
    cache = CallerCache(tokens, PRINCIPAL_SECRET, max_entries=2)
    first, second, third = (tokens.issue(user()).access_token for _ in range(3))
    assert cache.resolve(first) is cache.resolve(first)
    cache.resolve(second)
    cache.resolve(third)
    assert len(cache._entries) == 2
    assert first not in cache._entries  # least recently used goes first


def test_an_expired_entry_is_decoded_again() -> None:
    tokens = AccessTokens(SECRET, 900)
    cache = CallerCache(tokens, PRINCIPAL_SECRET)
    token = tokens.issue(user()).access_token
    before = cache.resolve(token)
    object.__setattr__(before, "valid_until", time.time() - 1)
    assert cache.resolve(token) is not before
