"""Search and filters over real gRPC and PostgreSQL (pg_trgm): name prefix and typos, email,
phone in any format, company, tags, owner, lifecycle, not contacted, custom fields, sorted
and cursor-paginated, always within the caller's visibility."""

import base64
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from crm.customer.v1 import customer_pb2 as pb
from crm.customer.v1 import customer_pb2_grpc as pb_grpc
from crm_customer.repository import tables
from crm_platform.auth.principal import Scope
from crm_platform.testing.services import call_metadata, principal

pytestmark = pytest.mark.integration

ADMIN = principal(objects=["account", "contact"])
REP = principal(objects=["account", "contact"], scope=Scope.OWN)


@dataclass
class Base:
    accounts: pb_grpc.AccountServiceStub
    contacts: pb_grpc.ContactServiceStub
    ids: dict[str, str]
    database_url: str

    async def find(self, who: Any = ADMIN, order_by: str = "", **wanted: Any) -> list[str]:
        """Names of the contacts found, across every page (pages of 2)."""
        custom = wanted.pop("custom_fields", None)
        query = pb.RecordFilter(**wanted)
        if custom:
            query.custom_fields.update(custom)
        names, token = [], ""
        while True:
            reply = await self.contacts.ListContacts(
                pb.ListContactsRequest(
                    page_size=2, page_token=token, filter=query, order_by=order_by
                ),
                metadata=call_metadata(who),
            )
            names += [f"{c.first_name} {c.last_name}".strip() for c in reply.contacts]
            token = reply.next_page_token
            if not token:
                return names


CONTACTS: list[dict[str, Any]] = [
    {
        "first_name": "Jonathan", "last_name": "Smith", "email": "jon.smith@acme.example",
        "phone": "+49 30 1234567", "tags": ["vip", "newsletter"], "account": "Acme",
    },
    {
        "first_name": "Jane", "last_name": "Smithers", "email": "jane@globex.example",
        "other_emails": ["jane.private@mail.example"], "tags": ["newsletter"],
        "account": "Globex", "custom_fields": {"tier": "gold", "seats": 12},
    },
    {
        "first_name": "伟", "last_name": "张", "phone": "+86 138 0013 8000",
        "account": "Acme", "custom_fields": {"tier": "silver"},
    },
    {
        "first_name": "Åsa", "last_name": "Öberg", "email": "asa@nordic.example",
        "other_phones": ["+46 8 123 456 78"],
    },
    {"first_name": "Bob", "last_name": "Jones", "email": "bob@acme.example"},
]  # fmt: skip


@pytest.fixture
async def base(customer: grpc.aio.Channel, database_url: str) -> Base:
    found = Base(
        pb_grpc.AccountServiceStub(customer),
        pb_grpc.ContactServiceStub(customer),
        {},
        database_url,
    )
    for name, lifecycle in (("Acme", "customer"), ("Globex", "prospect")):
        account = pb.Account(name=name, lifecycle=lifecycle, tags=[name.lower()])
        reply = await found.accounts.CreateAccount(
            pb.CreateAccountRequest(account=account), metadata=call_metadata(ADMIN)
        )
        found.ids[name] = reply.account.id
    for values in CONTACTS:
        values = dict(values)
        account_name = values.pop("account", None)
        custom = values.pop("custom_fields", None)
        contact = pb.Contact(**values, account_id=found.ids.get(account_name, ""))
        if custom:
            contact.custom_fields.update(custom)
        who = REP if values["first_name"] == "Bob" else ADMIN
        reply = await found.contacts.CreateContact(
            pb.CreateContactRequest(contact=contact), metadata=call_metadata(who)
        )
        found.ids[values["first_name"]] = reply.contact.id
    return found


async def test_names_match_by_the_start_of_any_word_and_despite_typos(base: Base) -> None:
    assert sorted(await base.find(query="smi")) == ["Jane Smithers", "Jonathan Smith"]
    assert await base.find(query="JONATHAN") == ["Jonathan Smith"]
    assert await base.find(query="jonathon") == ["Jonathan Smith"]  # a typo
    # Two letters swapped, which trigrams miss in a short word (0.33 similar to "jones")
    assert await base.find(query="jnoes") == ["Bob Jones"]
    assert await base.find(query="bbo") == []  # not in a word this short
    assert await base.find(query="张") == ["伟 张"]  # Chinese: family name first
    assert await base.find(query="张伟") == ["伟 张"]
    assert await base.find(query="öberg") == ["Åsa Öberg"]  # Unicode case folding
    assert await base.find(query="zzz") == []
    assert await base.find(query="%") == []  # a wildcard is a character here


async def test_names_match_without_their_accents(base: Base) -> None:
    for first, last in (("María José", "García Nuñez"), ("Pedro", "Garcia")):
        contact = pb.Contact(first_name=first, last_name=last)
        request = pb.CreateContactRequest(contact=contact)
        await base.contacts.CreateContact(request, metadata=call_metadata(ADMIN))

    assert await base.find(query="garcia maria") == ["María José García Nuñez"]
    assert await base.find(query="Nunez Jose") == ["María José García Nuñez"]
    assert await base.find(query="GARCÍA NUÑEZ") == ["María José García Nuñez"]
    assert await base.find(query="asa oberg") == ["Åsa Öberg"]
    assert sorted(await base.find(query="garcia")) == ["María José García Nuñez", "Pedro Garcia"]


async def test_emails_phones_company_tags_and_custom_fields(base: Base) -> None:
    assert await base.find(email="JANE.PRIVATE@mail.example") == ["Jane Smithers"]
    assert sorted(await base.find(email="j")) == ["Jane Smithers", "Jonathan Smith"]
    assert await base.find(phone="030 1234567", region="DE") == ["Jonathan Smith"]
    assert await base.find(phone="+49-30-123 4567") == ["Jonathan Smith"]
    assert await base.find(phone="138 0013 8000", region="cn") == ["伟 张"]
    assert await base.find(phone="08-123 456 78", region="SE") == ["Åsa Öberg"]
    assert sorted(await base.find(company="acm")) == ["Jonathan Smith", "伟 张"]
    assert sorted(await base.find(tags=["newsletter"])) == ["Jane Smithers", "Jonathan Smith"]
    assert await base.find(tags=["newsletter", "vip"]) == ["Jonathan Smith"]
    assert await base.find(custom_fields={"tier": "gold"}) == ["Jane Smithers"]
    assert await base.find(custom_fields={"seats": "12"}) == ["Jane Smithers"]
    assert await base.find(custom_fields={"tier": "gold", "seats": 13}) == []
    assert await base.find(query="smi", tags=["vip"]) == ["Jonathan Smith"]


@pytest.mark.parametrize("written", ["NaN", "Infinity", "-Infinity", "1e999"])
async def test_a_custom_field_filter_that_reads_as_no_number_is_matched_as_text(
    base: Base, written: str
) -> None:
    assert await base.find(custom_fields={"tier": written}) == []


async def test_owner_and_not_contacted_filters(base: Base) -> None:
    assert await base.find(owner_id=str(REP.subject_id)) == ["Bob Jones"]
    engine = create_async_engine(base.database_url)
    try:
        async with engine.begin() as connection:
            recently = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
            await connection.execute(
                update(tables.contacts)
                .where(tables.contacts.c.first_name.in_(["Jonathan", "Jane"]))
                .values(last_contacted_at=recently)
            )
            await connection.execute(
                update(tables.contacts)
                .where(tables.contacts.c.first_name == "Jane")
                .values(last_contacted_at=recently - dt.timedelta(days=60))
            )
    finally:
        await engine.dispose()
    assert sorted(await base.find(not_contacted_days=30)) == [
        "Bob Jones",
        "Jane Smithers",
        "Åsa Öberg",
        "伟 张",
    ]
    order = await base.find(order_by="-last_contacted_at")
    assert order[:2] == ["Jonathan Smith", "Jane Smithers"]  # the never contacted last
    assert sorted(order[2:]) == ["Bob Jones", "Åsa Öberg", "伟 张"]


async def test_sorted_pages_hold_every_record_once(base: Base) -> None:
    by_name = await base.find(order_by="name")
    # Accents aside: Åsa sorts as Asa.
    assert by_name == ["Åsa Öberg", "Bob Jones", "Jane Smithers", "Jonathan Smith", "伟 张"]
    assert await base.find(order_by="-name") == by_name[::-1]
    newest = await base.find()
    assert newest == [f"{c['first_name']} {c['last_name']}" for c in CONTACTS][::-1]
    assert await base.find(order_by="created_at") == newest[::-1]


async def test_searches_stay_within_the_callers_visibility(base: Base) -> None:
    assert await base.find(REP) == ["Bob Jones"]
    assert await base.find(REP, query="smi") == []
    assert await base.find(REP, email="jon.smith@acme.example") == []


async def test_accounts_filter_by_lifecycle_and_name(base: Base) -> None:
    async def names(**wanted: Any) -> list[str]:
        reply = await base.accounts.ListAccounts(
            pb.ListAccountsRequest(filter=pb.RecordFilter(**wanted), order_by="name"),
            metadata=call_metadata(ADMIN),
        )
        return [a.name for a in reply.accounts]

    assert await names(lifecycle="customer") == ["Acme"]
    assert await names(query="glob") == ["Globex"]
    assert await names(tags=["acme"]) == ["Acme"]
    assert await names() == ["Acme", "Globex"]
    assert await names(email="a") == []  # accounts have no email; an error would be a 500


@pytest.mark.parametrize(
    ("wanted", "order_by", "field"),
    [
        ({"phone": "12"}, "", "filter.phone"),
        ({"phone": "1234567", "region": "XX"}, "", "filter.phone"),
        ({"lifecycle": "lost"}, "", "filter.lifecycle"),
        ({"not_contacted_days": -1}, "", "filter.not_contacted_days"),
        ({"owner_id": "me"}, "", "filter.owner_id"),
        ({}, "shoe_size", "order_by"),
    ],
)
async def test_bad_filters_are_invalid_arguments(
    base: Base, wanted: dict[str, Any], order_by: str, field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await base.contacts.ListContacts(
            pb.ListContactsRequest(filter=pb.RecordFilter(**wanted), order_by=order_by),
            metadata=call_metadata(ADMIN),
        )
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field in (raised.value.details() or "")


LAST_ID = "0190d3c5-4a56-7e4c-8a3b-5f8b1c2d3e4f"


def _tampered(order: str, value: Any, last_id: Any) -> str:
    raw = json.dumps({"o": order, "v": value, "i": last_id}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    ("order_by", "value", "last_id"),
    [
        ("name", "a", 5),
        ("name", "a\u0000", LAST_ID),
        ("name", "\ud800", LAST_ID),
        ("updated_at", "9999-12-31T23:59:59-14:00", LAST_ID),
        ("updated_at", "0001-01-01T00:00:00+14:00", LAST_ID),
    ],
)
async def test_a_tampered_page_token_is_a_bad_cursor_not_a_failure(
    base: Base, order_by: str, value: Any, last_id: Any
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await base.contacts.ListContacts(
            pb.ListContactsRequest(
                page_size=1, order_by=order_by, page_token=_tampered(order_by, value, last_id)
            ),
            metadata=call_metadata(ADMIN),
        )
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "page_token: is not a valid cursor" in (raised.value.details() or "")


async def test_a_page_token_from_another_order_is_refused(base: Base) -> None:
    first = await base.contacts.ListContacts(
        pb.ListContactsRequest(page_size=1, order_by="name"), metadata=call_metadata(ADMIN)
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await base.contacts.ListContacts(
            pb.ListContactsRequest(page_size=1, page_token=first.next_page_token),
            metadata=call_metadata(ADMIN),
        )
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
