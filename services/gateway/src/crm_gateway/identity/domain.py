"""Users of the portal and the errors identity raises; no framework code here."""

import uuid
from dataclasses import dataclass, field

from crm_platform.errors import Unauthenticated


class InvalidCredentials(Unauthenticated):
    """Unknown user, wrong password or a deactivated user: deliberately one answer."""

    def __init__(self) -> None:
        super().__init__("invalid username or password")


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    email: str
    display_name: str
    roles: tuple[str, ...]
    team_id: uuid.UUID | None
    active: bool
    version: int
    # None for users who sign in only through SSO.
    password_hash: str | None = field(repr=False)


def normalize_email(email: str) -> str:
    """Emails are unique case-insensitively; we store and look them up lower-cased."""
    return email.strip().lower()
