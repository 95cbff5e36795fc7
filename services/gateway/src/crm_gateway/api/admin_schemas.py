"""Request and response bodies of users, teams and roles administration.

Requests forbid unknown fields and bound every string and list. Passwords are write-only:
no response carries a password or its hash, only whether the user has one.
"""

import datetime as dt
import uuid
from typing import Annotated

from pydantic import BaseModel, EmailStr, Field

from crm_gateway.api.schemas import NEXT_CURSOR, Strict
from crm_gateway.identity.domain import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from crm_gateway.identity.roles import ACTIONS, OBJECTS, SCOPES

TeamName = Annotated[str, Field(min_length=1, max_length=200)]
RoleName = Annotated[str, Field(min_length=1, max_length=50)]
Password = Annotated[
    str,
    Field(
        min_length=MIN_PASSWORD_LENGTH,
        max_length=MAX_PASSWORD_LENGTH,
        description=f"At least {MIN_PASSWORD_LENGTH} characters. Never returned.",
    ),
]
# {object: {action: scope}}; names are checked against crm_gateway.identity.roles.
Permissions = Annotated[
    dict[Annotated[str, Field(max_length=50)], dict[Annotated[str, Field(max_length=50)], str]],
    Field(
        max_length=20,
        description=f"`{{object: {{action: scope}}}}`: objects {', '.join(OBJECTS)}; "
        f"actions {', '.join(ACTIONS)}; scopes {', '.join(SCOPES)}.",
        examples=[{"account": {"read": "team", "edit": "own"}}],
    ),
]


class TeamCreate(Strict):
    name: TeamName
    parent_id: uuid.UUID | None = Field(default=None, description="The parent team, or null.")


class TeamPatch(Strict):
    """JSON merge patch: only the fields present change."""

    name: TeamName | None = None
    parent_id: uuid.UUID | None = Field(
        default=None, description="Moving a team below its own subtree is a 422."
    )


class Team(BaseModel):
    id: uuid.UUID
    version: int
    name: str
    parent_id: uuid.UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime


class TeamPage(BaseModel):
    items: list[Team]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


class UserCreate(Strict):
    email: EmailStr = Field(max_length=254, description="Unique, case-insensitively.")
    display_name: str = Field(default="", max_length=200)
    password: Password | None = Field(
        default=None, description="Omit for a user who signs in through SSO only."
    )
    roles: list[RoleName] = Field(default_factory=list, max_length=20)
    team_id: uuid.UUID | None = None
    active: bool = True


class UserPatch(Strict):
    """JSON merge patch: only the fields present change; `password: null` removes the
    password (SSO only). A new password or deactivation ends the user's sessions."""

    email: EmailStr | None = Field(default=None, max_length=254)
    display_name: str | None = Field(default=None, max_length=200)
    password: Password | None = None
    roles: list[RoleName] | None = Field(default=None, max_length=20)
    team_id: uuid.UUID | None = None
    active: bool | None = None


class User(BaseModel):
    id: uuid.UUID
    version: int
    email: str
    display_name: str
    roles: list[str]
    team_id: uuid.UUID | None
    active: bool
    has_password: bool = Field(description="False for users who sign in through SSO only.")
    created_at: dt.datetime
    updated_at: dt.datetime


class UserPage(BaseModel):
    items: list[User]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


class RoleCreate(Strict):
    name: RoleName = Field(description="Lower-case letters, digits and _; not a built-in name.")
    permissions: Permissions


class RolePatch(Strict):
    """Replaces the permissions; a role's name never changes (users hold roles by name)."""

    permissions: Permissions


class Role(BaseModel):
    name: str
    built_in: bool = Field(description="Built-in roles are read-only.")
    version: int
    permissions: dict[str, dict[str, str]]
    created_at: dt.datetime | None = Field(description="Null for built-in roles.")
    updated_at: dt.datetime | None = Field(description="Null for built-in roles.")


class RolePage(BaseModel):
    items: list[Role]
    next_cursor: str | None = Field(description=NEXT_CURSOR)
