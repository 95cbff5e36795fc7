"""Users and teams of the portal and the errors identity raises; no framework code here."""

import datetime as dt
import uuid
from dataclasses import dataclass, field

from crm_platform.errors import Unauthenticated


class InvalidCredentials(Unauthenticated):
    """Unknown user, wrong password or a deactivated user: deliberately one answer."""

    def __init__(self) -> None:
        super().__init__("invalid username or password")


class InvalidRefreshToken(Unauthenticated):
    def __init__(self) -> None:
        super().__init__("invalid, expired or revoked refresh token; log in again")


class ReusedRefreshToken(Exception):
    """A rotated refresh token came back, so it leaked: its whole session is revoked."""


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    email: str
    display_name: str
    roles: tuple[str, ...]
    team_id: uuid.UUID | None
    active: bool
    version: int
    # None: the user signs in through SSO only, never with a password.
    password_hash: str | None = field(repr=False)
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


@dataclass(frozen=True)
class Team:
    """Teams form a tree through `parent_id`; a manager's team reaches its whole subtree."""

    id: uuid.UUID
    name: str
    parent_id: uuid.UUID | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


def normalize_email(email: str) -> str:
    """Emails are unique case-insensitively; we store and look them up lower-cased."""
    return email.strip().lower()


# NIST SP 800-63B asks for at least 8; 12 keeps argon2 worth its cost against guessing.
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024


@dataclass(frozen=True)
class Role:
    """A built-in role (read-only, no id) or a custom one; either grants `permissions`,
    `{object: {action: scope}}`."""

    name: str
    permissions: dict[str, dict[str, str]]
    built_in: bool
    version: int = 1
    id: uuid.UUID | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
