"""The gateway against a real PostgreSQL and a fake customer service.

The fake is a boundary double: real gRPC on a real port, served by the platform's own
GrpcServer (principal check, error mapping, health), with an in-memory AccountService
behind it. The real customer service is exercised through the gateway by tests/e2e.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
import pytest
from fastapi import FastAPI

from crm.customer.v1 import customer_pb2 as pb
from crm.customer.v1 import customer_pb2_grpc as pb_grpc
from crm_gateway.bootstrap import build_app
from crm_gateway.config import GatewaySettings
from crm_gateway.identity.domain import User
from crm_platform.auth.context import current_principal
from crm_platform.auth.principal import Principal
from crm_platform.db.migrations import upgrade_to_head
from crm_platform.errors import FieldViolation, InvalidArgument, NotFound, StaleVersion
from crm_platform.grpc.server import GrpcServer
from crm_platform.ids import parse_uuid, uuid7
from crm_platform.testing.ports import free_port

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
PRINCIPAL_SECRET = "integration-principal-secret-0123456789"
JWT_SECRET = "integration-jwt-secret-0123456789abcdef"
ADMIN_EMAIL = "Admin@Example.com"
ADMIN_PASSWORD = "correct horse battery staple"
PROBLEM = "application/problem+json"


@dataclass
class FakeAccounts(pb_grpc.AccountServiceServicer):
    accounts: dict[str, pb.Account] = field(default_factory=dict)
    callers: list[Principal] = field(default_factory=list)
    metadata: list[dict[str, str]] = field(default_factory=list)

    async def CreateAccount(
        self, request: pb.CreateAccountRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateAccountResponse:
        caller = self._caller(context)
        if not request.account.name:
            raise InvalidArgument([FieldViolation("name", "must not be empty")])
        if request.account.name == "crash":
            raise RuntimeError("a bug in the service")
        account = pb.Account()
        account.CopyFrom(request.account)
        account.id, account.version, account.owner_id = str(uuid7()), 1, str(caller.subject_id)
        account.created_at.GetCurrentTime()
        account.updated_at.CopyFrom(account.created_at)
        self.accounts[account.id] = account
        return pb.CreateAccountResponse(account=account)

    async def GetAccount(
        self, request: pb.GetAccountRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAccountResponse:
        self._caller(context)
        if request.id == "crash":
            raise RuntimeError("a bug in the service")
        return pb.GetAccountResponse(account=self._find(request.id))

    async def ListAccounts(
        self, request: pb.ListAccountsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAccountsResponse:
        self._caller(context)
        ordered = sorted(self.accounts)
        after = [i for i in ordered if i > request.page_token] if request.page_token else ordered
        page = after[: request.page_size]
        token = page[-1] if len(after) > request.page_size else ""
        return pb.ListAccountsResponse(
            accounts=[self.accounts[i] for i in page], next_page_token=token
        )

    async def UpdateAccount(
        self, request: pb.UpdateAccountRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateAccountResponse:
        self._caller(context)
        current = self._find(request.account.id)
        if current.version != request.expected_version:
            raise StaleVersion(f"account is at version {current.version}")
        for name in request.update_mask.paths:
            current.ClearField(name)
            value = getattr(request.account, name)
            if name == "tags":
                current.tags.extend(value)
            else:
                setattr(current, name, value)
        current.version += 1
        return pb.UpdateAccountResponse(account=current)

    def _caller(self, context: grpc.aio.ServicerContext) -> Principal:
        self.metadata.append({k: str(v) for k, v in context.invocation_metadata() or ()})
        self.callers.append(current_principal())
        return self.callers[-1]

    def _find(self, account_id: str) -> pb.Account:
        # Any spelling of the UUID (upper case, `{...}`, `urn:uuid:`) and malformed ids
        # not found, as the real service reads them.
        parsed = parse_uuid(account_id)
        if parsed is None or str(parsed) not in self.accounts:
            raise NotFound(f"account {account_id} not found")
        return self.accounts[str(parsed)]


class FakeContacts(pb_grpc.ContactServiceServicer):
    def __init__(self, accounts: FakeAccounts) -> None:
        self._accounts = accounts
        self.contacts: dict[str, pb.Contact] = {}

    async def CreateContact(
        self, request: pb.CreateContactRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateContactResponse:
        account_id = request.contact.account_id
        if account_id and account_id not in self._accounts.accounts:
            raise InvalidArgument([FieldViolation("account_id", "no such account")])
        contact = pb.Contact()
        contact.CopyFrom(request.contact)
        contact.id, contact.version = str(uuid7()), 1
        contact.owner_id = str(current_principal().subject_id)
        self.contacts[contact.id] = contact
        return pb.CreateContactResponse(contact=contact)

    async def ListContacts(
        self, request: pb.ListContactsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListContactsResponse:
        found = [
            c for c in self.contacts.values()
            if not request.account_id or c.account_id == request.account_id
        ]  # fmt: skip
        return pb.ListContactsResponse(contacts=found[: request.page_size])


@dataclass
class Gateway:
    client: httpx.AsyncClient
    app: FastAPI
    fake: FakeAccounts
    settings: GatewaySettings

    async def login(
        self, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD
    ) -> dict[str, str]:
        reply = await self.client.post(
            "/api/v1/auth/token", data={"username": email, "password": password}
        )
        assert reply.status_code == 200, reply.text
        return {"Authorization": f"Bearer {reply.json()['access_token']}"}


@asynccontextmanager
async def fake_customer_service() -> AsyncIterator[tuple[str, FakeAccounts]]:
    fake = FakeAccounts()
    server = GrpcServer(host="127.0.0.1", port=free_port(), principal_secret=PRINCIPAL_SECRET)
    names = pb.DESCRIPTOR.services_by_name
    accounts, contacts = names["AccountService"].full_name, names["ContactService"].full_name
    server.register(
        [
            (pb_grpc.add_AccountServiceServicer_to_server, fake, accounts),
            (pb_grpc.add_ContactServiceServicer_to_server, FakeContacts(fake), contacts),
        ]
    )
    await server.start()
    try:
        yield server.address, fake
    finally:
        await server.stop(0)


def settings_for(database_url: str, target: str, **overrides: object) -> GatewaySettings:
    values: dict[str, object] = {
        "database_url": database_url,
        "principal_secret": PRINCIPAL_SECRET,
        "jwt_secret": JWT_SECRET,
        "customer_target": target,
        "sales_target": target,  # readiness asks both; the fake answers health for both
        "grpc_timeout_seconds": 2.0,
        "bootstrap_admin_email": ADMIN_EMAIL,
        "bootstrap_admin_password": ADMIN_PASSWORD,
    }
    values.update(overrides)
    return GatewaySettings.model_validate(values)


@asynccontextmanager
async def running_gateway(
    settings: GatewaySettings,
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = build_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gateway") as client,
    ):
        yield app, client


@pytest.fixture
async def migrated_database(database_url: str) -> str:
    await asyncio.to_thread(upgrade_to_head, MIGRATIONS, database_url)
    return database_url


@pytest.fixture
async def gateway(migrated_database: str) -> AsyncIterator[Gateway]:
    async with fake_customer_service() as (target, fake):
        settings = settings_for(migrated_database, target)
        async with running_gateway(settings) as (app, client):
            yield Gateway(client, app, fake, settings)


def assert_problem(reply: httpx.Response, status: int) -> dict[str, object]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith(PROBLEM)
    body: dict[str, object] = reply.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= set(body)
    return body


def bearer_for(gateway: Gateway, *roles: str) -> dict[str, str]:
    """A valid access token for a user with `roles` (tokens carry the roles)."""
    user = User(
        id=uuid7(),
        email="someone@example.com",
        display_name="Someone",
        roles=roles,
        team_id=None,
        active=True,
        version=1,
        password_hash="unused",
    )
    token = gateway.app.state.services.tokens.issue(user, uuid7()).access_token
    return {"Authorization": f"Bearer {token}"}
