"""Who is calling, their tokens, and whether the gateway is up."""

from pydantic import BaseModel, Field

from crm_gateway.api.schemas import Id


class Token(BaseModel):
    access_token: str
    token_type: str = Field(examples=["bearer"])
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str = Field(
        description="Opaque; `grant_type=refresh_token` exchanges it (once) for new tokens."
    )
    refresh_expires_in: int = Field(description="Seconds until the refresh token expires.")


class Me(BaseModel):
    id: Id
    kind: str = Field(description="`user`, or `api_key` for a request made with X-API-Key.")
    email: str | None = Field(description="The user's email; null for an API key.")
    display_name: str = Field(description="The user's name, or the API key's.")
    roles: list[str]
    team_id: str | None
    partner_id: str | None = Field(description="Set for a partner's API key: its records only.")
    permissions: dict[str, dict[str, str]] = Field(
        description="What the roles grant: `{object: {action: scope}}`, scopes partner, own, "
        "team (the team's subtree) or all."
    )


class Ready(BaseModel):
    status: str = Field(examples=["ready"])
    checks: dict[str, str]


class Alive(BaseModel):
    status: str = Field(examples=["alive"])
