"""Access tokens, and the cache that turns one into the signed internal principal."""

import time
import uuid

import jwt
import pytest

from crm_gateway.identity.callers import CallerCache
from crm_gateway.identity.directory import DirectoryData, IdentityDirectory
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


class Directory:
    """The identity directory over data a test sets, as the database would hold it."""

    def __init__(self) -> None:
        self.data = DirectoryData()
        self.directory = IdentityDirectory(self._load, refresh_seconds=60)

    async def _load(self) -> DirectoryData:
        return self.data


def cache_of(tokens: AccessTokens, directory: Directory, max_entries: int = 10) -> CallerCache:
    return CallerCache(tokens, PRINCIPAL_SECRET, directory.directory, max_entries=max_entries)


def test_a_token_carries_roles_team_and_session() -> None:
    team, session = uuid.uuid4(), uuid.uuid4()
    someone = user(team=team)
    issued = AccessTokens(SECRET, 900).issue(someone, session)
    claims = AccessTokens(SECRET, 900).decode(issued.access_token)
    assert (claims.user_id, claims.roles, claims.team_id) == (someone.id, ("sales_rep",), team)
    assert claims.session_id == session
    raw = jwt.decode(issued.access_token, options={"verify_signature": False})
    assert {"sub", "exp", "iat", "jti", "sid"} <= set(raw)
    assert issued.expires_in == 900


@pytest.mark.parametrize(
    "token",
    [
        "not.a.token",
        AccessTokens("other" * 8, 900).issue(user(), uuid.uuid4()).access_token,
        jwt.encode({"sub": str(uuid.uuid4()), "exp": int(time.time()) - 5}, SECRET, "HS256"),
    ],
    ids=["garbage", "wrong-secret", "expired-and-incomplete"],
)
def test_bad_tokens_are_refused(token: str) -> None:
    with pytest.raises(Unauthenticated):
        AccessTokens(SECRET, 900).decode(token)


async def test_the_principal_carries_merged_grants_and_the_team_subtree() -> None:
    tokens = AccessTokens(SECRET, 900)
    team, child, grandchild, sibling = (uuid.uuid4() for _ in range(4))
    directory = Directory()
    directory.data = DirectoryData(
        parents={team: None, child: team, grandchild: child, sibling: None}
    )
    someone = user(("sales_rep", "analyst"), team)
    caller = await cache_of(tokens, directory).resolve(
        tokens.issue(someone, uuid.uuid4()).access_token
    )
    ((key, signed),) = caller.metadata
    assert key == "x-crm-principal"
    principal = verify_token(signed, PRINCIPAL_SECRET)
    assert principal.subject_id == someone.id
    assert (principal.team_id, principal.team_ids) == (team, frozenset({team, child, grandchild}))
    assert principal.scope("account", Action.READ) is Scope.ALL
    assert principal.scope("account", Action.EDIT) is Scope.OWN
    assert principal.scope("user", Action.READ) is None


async def test_a_changed_directory_reaches_cached_callers() -> None:
    tokens = AccessTokens(SECRET, 900)
    team, child = uuid.uuid4(), uuid.uuid4()
    directory = Directory()
    directory.data = DirectoryData(parents={team: None})
    cache = cache_of(tokens, directory)
    session = uuid.uuid4()
    token = tokens.issue(user(("auditor",), team), session).access_token
    first = await cache.resolve(token)
    assert first.principal.team_ids == {team}
    assert first.principal.grants == {}

    directory.data = DirectoryData(
        parents={team: None, child: team}, custom_grants={"auditor": {"user": {"read": "all"}}}
    )
    await directory.directory.reload()
    second = await cache.resolve(token)
    assert second.principal.team_ids == {team, child}
    assert second.principal.scope("user", Action.READ) is Scope.ALL

    directory.data = DirectoryData(
        parents={team: None, child: team}, revoked_sessions=frozenset({session})
    )
    await directory.directory.reload()
    with pytest.raises(Unauthenticated):
        await cache.resolve(token)


async def test_an_unchanged_reload_keeps_the_signed_principal() -> None:
    tokens = AccessTokens(SECRET, 900)
    directory = Directory()
    cache = cache_of(tokens, directory)
    token = tokens.issue(user(), uuid.uuid4()).access_token
    before = await cache.resolve(token)
    await directory.directory.reload()
    assert await cache.resolve(token) is before


async def test_callers_are_cached_per_token_and_bounded() -> None:
    tokens = AccessTokens(SECRET, 900)
    cache = cache_of(tokens, Directory(), max_entries=2)
    first, second, third = (tokens.issue(user(), uuid.uuid4()).access_token for _ in range(3))
    assert await cache.resolve(first) is await cache.resolve(first)
    await cache.resolve(second)
    await cache.resolve(third)
    assert len(cache._entries) == 2
    assert first not in cache._entries  # least recently used goes first


async def test_an_expired_entry_is_decoded_again() -> None:
    tokens = AccessTokens(SECRET, 900)
    cache = cache_of(tokens, Directory())
    token = tokens.issue(user(), uuid.uuid4()).access_token
    before = await cache.resolve(token)
    object.__setattr__(before, "valid_until", time.time() - 1)
    assert await cache.resolve(token) is not before
