"""Imports over real gRPC, PostgreSQL and NATS: upload, background run, counts, problems."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.protobuf.json_format import MessageToDict
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from crm.customer.v1 import custom_fields_pb2 as cpb
from crm.customer.v1 import custom_fields_pb2_grpc as cpb_grpc
from crm.customer.v1 import customer_pb2 as pb
from crm.customer.v1 import customer_pb2_grpc as pb_grpc
from crm.customer.v1 import imports_pb2 as ipb
from crm.customer.v1 import imports_pb2_grpc as ipb_grpc
from crm_customer.repository import tables
from crm_customer.repository.upkeep import vacuum_analyze
from crm_platform.auth.principal import Action, Principal, Scope
from crm_platform.testing.postgres import PostgresServer
from crm_platform.testing.services import call_metadata, principal

pytestmark = pytest.mark.integration

ADMIN = principal(objects=["account", "contact"])

MIXED = """姓名,电话,邮箱,公司,职位
张伟,138 0013 8000,zhang.wei@example.cn,华为,经理
Anna Maria Schmidt,+49 30 1234567,anna@example.de,Acme GmbH,CTO
李娜,13900139000,LI.NA@example.cn,华为,
,13700137000,nobody@example.com,,
王芳,12345,wang@example.cn,,
赵敏,13600136000,not-an-email,,
Zhang Wei,138-0013-8000,,,
陈静,,Anna@Example.de,,
Old Friend,,existing@example.com,,
"""


async def _parts(spec: ipb.ImportSpec, data: bytes) -> AsyncIterator[ipb.StartImportRequest]:
    yield ipb.StartImportRequest(spec=spec)
    for start in range(0, len(data), 64):  # many small chunks, to exercise reassembly
        yield ipb.StartImportRequest(chunk=data[start : start + 64])


async def start(channel: grpc.aio.Channel, data: bytes, **spec: object) -> ipb.ImportJob:
    stub = ipb_grpc.ImportServiceStub(channel)
    request = ipb.ImportSpec(**{"entity": "contacts", "default_region": "CN", **spec})  # type: ignore[arg-type]
    reply = await stub.StartImport(_parts(request, data), metadata=call_metadata(ADMIN))
    return reply.job


async def finished(channel: grpc.aio.Channel, job_id: str) -> ipb.ImportJob:
    stub = ipb_grpc.ImportServiceStub(channel)
    for _ in range(300):
        job = (
            await stub.GetImport(ipb.GetImportRequest(id=job_id), metadata=call_metadata(ADMIN))
        ).job
        if job.status in ("succeeded", "failed"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"import {job_id} did not finish: {job}")


async def problems(channel: grpc.aio.Channel, job_id: str) -> list[tuple[int, str, str]]:
    stub = ipb_grpc.ImportServiceStub(channel)
    found = []
    request = ipb.ListImportProblemsRequest(id=job_id)
    async for page in stub.ListImportProblems(request, metadata=call_metadata(ADMIN)):
        found += [(p.line, p.outcome, p.reason) for p in page.problems]
    return found


async def contacts(channel: grpc.aio.Channel) -> dict[str, pb.Contact]:
    stub = pb_grpc.ContactServiceStub(channel)
    reply = await stub.ListContacts(
        pb.ListContactsRequest(page_size=100), metadata=call_metadata(ADMIN)
    )
    return {
        f"{c.last_name}{c.first_name}" if c.last_name else c.first_name: c for c in reply.contacts
    }


async def _existing_contact(channel: grpc.aio.Channel) -> pb.Contact:
    stub = pb_grpc.ContactServiceStub(channel)
    reply = await stub.CreateContact(
        pb.CreateContactRequest(
            contact=pb.Contact(first_name="Old", last_name="Friend", email="existing@example.com")
        ),
        metadata=call_metadata(ADMIN),
    )
    return reply.contact


async def test_mixed_file_counts_each_row_once(
    customer: grpc.aio.Channel, database_url: str
) -> None:
    existing = await _existing_contact(customer)
    job = await finished(customer, (await start(customer, MIXED.encode())).id)

    counts = (job.total, job.processed, job.created, job.updated, job.skipped, job.failed)
    assert (job.status, counts) == ("succeeded", (9, 9, 3, 0, 3, 3))
    assert await problems(customer, job.id) == [
        (5, "failed", "no name"),
        (6, "failed", "phone '12345' is not a valid phone number"),
        (7, "failed", "email 'not-an-email' is not a valid address"),
        (8, "skipped", "duplicate of row 2 (same phone)"),
        (9, "skipped", "duplicate of row 3 (same email)"),
        (10, "skipped", f"duplicate of contact {existing.id} (same email)"),
    ]
    stored = await contacts(customer)
    assert set(stored) == {"张伟", "李娜", "SchmidtAnna Maria", "FriendOld"}
    zhang, li = stored["张伟"], stored["李娜"]
    assert (zhang.phone, zhang.email, zhang.title) == (
        "+8613800138000",
        "zhang.wei@example.cn",
        "经理",
    )
    assert li.email == "li.na@example.cn"
    assert zhang.account_id
    assert zhang.account_id == li.account_id  # one account for 华为
    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        subjects = (await conn.execute(select(tables.outbox.c.subject))).scalars().all()
        chunks = await conn.scalar(select(func.count()).select_from(tables.import_file_chunks))
    await engine.dispose()
    assert sorted(subjects).count("crm.customer.contact.created.v1") == 4  # 3 + the existing
    assert sorted(subjects).count("crm.customer.account.created.v1") == 2  # 华为, Acme GmbH
    assert chunks == 0  # the file is dropped once the job is done


async def test_an_import_process_of_its_own_runs_the_job(
    customer_with_import_process: grpc.aio.Channel,
) -> None:
    channel = customer_with_import_process
    job = await finished(channel, (await start(channel, MIXED.encode())).id)

    counts = (job.created, job.updated, job.skipped, job.failed)
    assert (job.status, counts) == ("succeeded", (4, 0, 2, 3))
    assert set(await contacts(channel)) == {"张伟", "李娜", "SchmidtAnna Maria", "FriendOld"}


async def test_an_import_that_wrote_many_records_leaves_its_table_vacuumed(
    customer_vacuuming_small_imports: grpc.aio.Channel, database_url: str
) -> None:
    """Six new contacts reach the fixture's threshold of five, four more do not: the count
    of manual VACUUMs (autovacuum's are counted apart) grows by one, with an ANALYZE."""
    channel = customer_vacuuming_small_imports
    engine = create_async_engine(database_url)
    try:
        before = await _upkeep_counts(engine)
        rows = "".join(f"Person {n},1380013{n:04d},person{n}@example.org\n" for n in range(6))
        large = await finished(
            channel, (await start(channel, f"姓名,电话,邮箱\n{rows}".encode())).id
        )
        # The VACUUM follows `succeeded`, and its ANALYZE is counted after the VACUUM is.
        for _ in range(100):
            after = await _upkeep_counts(engine)
            if after[0] != before[0] and after[1] != before[1]:
                break
            await asyncio.sleep(0.1)
        small = await finished(channel, (await start(channel, MIXED.encode())).id)
        # The runner takes one job at a time: once this one is done, so is what followed
        # the small import.
        await finished(channel, (await start(channel, MIXED.encode(), dry_run=True)).id)
        last = await _upkeep_counts(engine)
    finally:
        await engine.dispose()
    assert (large.created, small.created) == (6, 4)
    assert after[0] == before[0] + 1
    assert after[1] > before[1]
    assert last[0] == after[0]


async def test_the_vacuum_after_an_import_leaves_the_table_in_shared_buffers(
    customer: grpc.aio.Channel, database_url: str, postgres_server: PostgresServer
) -> None:
    """Searches after an import read what it wrote: the VACUUM that reads every new page
    keeps them (no ring buffer), rather than passing them through 2 MB of buffers."""
    superuser = create_async_engine(
        postgres_server.url(make_url(database_url).database or ""), isolation_level="AUTOCOMMIT"
    )
    engine = create_async_engine(database_url)
    try:
        async with superuser.connect() as connection:
            await connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_buffercache")
        async with engine.begin() as connection:  # ~2 KB a row: 500 pages, over the ring
            await connection.exec_driver_sql(
                "INSERT INTO contacts (id, version, owner_id, last_name, internal_notes,"
                " created_at, updated_at) SELECT gen_random_uuid(), 1, gen_random_uuid(),"
                " 'Row ' || n, (SELECT string_agg(md5(n::text || k::text), '')"
                " FROM generate_series(1, 50) k), now(), now() FROM generate_series(1, 2000) n"
            )
        async with superuser.connect() as connection:
            pages = (
                await connection.exec_driver_sql("SELECT pg_relation_size('contacts') / 8192")
            ).scalar_one()
            await connection.exec_driver_sql("SELECT pg_buffercache_evict_relation('contacts')")
            cached = (
                "SELECT count(*) FROM pg_buffercache WHERE relforknumber = 0"
                " AND relfilenode = pg_relation_filenode('contacts')"
                " AND reldatabase = (SELECT oid FROM pg_database"
                " WHERE datname = current_database())"
            )
            assert (await connection.exec_driver_sql(cached)).scalar_one() == 0
            await vacuum_analyze(engine, "contacts")
            assert pages > 400
            assert (await connection.exec_driver_sql(cached)).scalar_one() == pages
    finally:
        await engine.dispose()
        await superuser.dispose()


async def _upkeep_counts(engine: AsyncEngine) -> tuple[int, int]:
    """(vacuum_count, analyze_count) of the contacts table, as the statistics have them."""
    async with engine.connect() as connection:
        row = (
            await connection.exec_driver_sql(
                "SELECT vacuum_count, analyze_count FROM pg_stat_user_tables "
                "WHERE relname = 'contacts'"
            )
        ).one()
    return row[0], row[1]


async def test_upsert_merges_into_the_record_repeated(customer: grpc.aio.Channel) -> None:
    existing = await _existing_contact(customer)
    data = (
        "First name,Last name,Email,Phone,Tags\nOld,Friend,EXISTING@example.com,+4930123456,vip\n"
    )
    job = await finished(customer, (await start(customer, data.encode(), mode="upsert")).id)

    assert (job.created, job.updated, job.skipped, job.failed) == (0, 1, 0, 0)
    merged = (await contacts(customer))["FriendOld"]
    assert merged.id == existing.id
    assert (merged.version, merged.phone, list(merged.tags)) == (2, "+4930123456", ["vip"])


async def test_columns_mapped_to_custom_fields_are_held_to_their_types(
    customer: grpc.aio.Channel,
) -> None:
    stub = cpb_grpc.CustomFieldServiceStub(customer)
    seats = cpb.CustomField(entity="contacts", name="seats", type="integer")
    await stub.DefineCustomField(
        cpb.DefineCustomFieldRequest(field=seats),
        metadata=call_metadata(principal(objects=["custom_field"])),
    )
    data = 'Name,Licences,Region\nAda Lovelace,"1,200",EMEA\nBob Byte,lots,APAC\n'
    mapping = {"Licences": "custom_fields.seats", "Region": "custom_fields.sales_region"}
    job = await finished(customer, (await start(customer, data.encode(), mapping=mapping)).id)

    assert (job.created, job.failed) == (1, 1)
    assert await problems(customer, job.id) == [
        (3, "failed", "custom_fields.seats: must be a number")
    ]
    ada = (await contacts(customer))["LovelaceAda"]
    assert MessageToDict(ada.custom_fields) == {"seats": 1200, "sales_region": "EMEA"}


async def test_a_new_row_without_a_required_custom_field_fails(
    customer: grpc.aio.Channel,
) -> None:
    stub = cpb_grpc.CustomFieldServiceStub(customer)
    region = cpb.CustomField(entity="contacts", name="region", type="text", required=True)
    await stub.DefineCustomField(
        cpb.DefineCustomFieldRequest(field=region),
        metadata=call_metadata(principal(objects=["custom_field"])),
    )
    data = "Name,Region\nAda Lovelace,EMEA\nBob Byte,\n"
    mapping = {"Region": "custom_fields.region"}
    job = await finished(customer, (await start(customer, data.encode(), mapping=mapping)).id)

    assert (job.created, job.failed) == (1, 1)
    assert await problems(customer, job.id) == [(3, "failed", "custom_fields.region: is required")]
    assert list(await contacts(customer)) == ["LovelaceAda"]


async def test_dry_run_counts_but_stores_nothing(customer: grpc.aio.Channel) -> None:
    job = await finished(customer, (await start(customer, MIXED.encode(), dry_run=True)).id)

    assert (job.status, job.created, job.skipped, job.failed) == (
        "succeeded",
        4,
        2,
        3,
    )  # no existing contact here
    assert job.dry_run
    assert await contacts(customer) == {}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "the file is empty"),
        (b"name,email\n", "the file has no data rows"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "the file is not CSV or XLSX"),
        ("姓名\n张伟\n".encode("gbk"), "not UTF-8"),
        (b"colour,size\nred,3\n", "no column"),
    ],
)
async def test_unusable_file_is_refused_and_nothing_queued(
    customer: grpc.aio.Channel, database_url: str, data: bytes, reason: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await start(customer, data)

    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert reason in (refused.value.details() or "")
    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(tables.imports)) == 0
    await engine.dispose()


async def test_bad_spec_and_missing_rights_are_refused(customer: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as bad_mode:
        await start(customer, MIXED.encode(), mode="replace")
    assert bad_mode.value.code() is grpc.StatusCode.INVALID_ARGUMENT

    reader = principal(objects=["contact"], actions=[Action.READ])
    stub = ipb_grpc.ImportServiceStub(customer)
    spec = ipb.ImportSpec(entity="contacts")
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await stub.StartImport(_parts(spec, MIXED.encode()), metadata=call_metadata(reader))
    assert denied.value.code() is grpc.StatusCode.PERMISSION_DENIED

    job = await start(customer, MIXED.encode())
    other = principal(objects=["contact"], scope=Scope.OWN)  # someone else, own records
    with pytest.raises(grpc.aio.AioRpcError) as hidden:
        await stub.GetImport(ipb.GetImportRequest(id=job.id), metadata=call_metadata(other))
    assert hidden.value.code() is grpc.StatusCode.NOT_FOUND


async def test_imports_are_listed_newest_first_within_the_callers_reach(
    customer: grpc.aio.Channel,
) -> None:
    stub = ipb_grpc.ImportServiceStub(customer)
    contacts_all = await start(customer, MIXED.encode())
    accounts_all = await start(customer, b"name\nAcme GmbH\n", entity="accounts")
    own = principal(objects=["contact"], scope=Scope.OWN)
    spec = ipb.ImportSpec(entity="contacts")
    parts = _parts(spec, b"name,email\nMia Wong,mia@example.com\n")
    contacts_own = (await stub.StartImport(parts, metadata=call_metadata(own))).job
    for job in (contacts_all, accounts_all, contacts_own):
        await finished(customer, job.id)

    async def listed(who: Principal, **request: Any) -> tuple[list[str], str]:
        reply = await stub.ListImports(
            ipb.ListImportsRequest(**request), metadata=call_metadata(who)
        )
        return [job.id for job in reply.jobs], reply.next_page_token

    first, token = await listed(ADMIN, page_size=2)
    assert first == [contacts_own.id, accounts_all.id]
    assert await listed(ADMIN, page_size=2, page_token=token) == ([contacts_all.id], "")
    assert await listed(own) == ([contacts_own.id], "")
    contact_reader = principal(objects=["contact"], actions=[Action.READ])
    assert await listed(contact_reader) == ([contacts_own.id, contacts_all.id], "")
    assert await listed(ADMIN, status="succeeded") == ([*first, contacts_all.id], "")
    assert await listed(ADMIN, status="queued") == ([], "")
    for bad in ({"status": "done"}, {"page_token": "not-a-cursor"}, {"page_size": 501}):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await listed(ADMIN, **bad)
        assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def _contact(channel: grpc.aio.Channel, contact: pb.Contact) -> pb.Contact:
    request = pb.CreateContactRequest(contact=contact)
    stub = pb_grpc.ContactServiceStub(channel)
    return (await stub.CreateContact(request, metadata=call_metadata(ADMIN))).contact


async def test_upsert_refuses_a_row_repeating_two_records_and_keeps_identifiers_apart(
    customer: grpc.aio.Channel,
) -> None:
    ann = await _contact(
        customer,
        pb.Contact(first_name="Ann", email="ann@example.com", phone="+8613800000001"),
    )
    bob = await _contact(customer, pb.Contact(first_name="Bob", email="bob@example.com"))
    cyd = await _contact(customer, pb.Contact(first_name="Cyd", other_phones=["+8613800000003"]))
    data = (
        "name,email,phone\n"
        "Dee,bob@example.com,13800000001\n"  # Bob by email, Ann by phone
        "Cyd,,13800000003\n"  # Cyd's other phone becomes her phone, and only that
    )
    job = await finished(customer, (await start(customer, data.encode(), mode="upsert")).id)

    assert (job.created, job.updated, job.skipped, job.failed) == (0, 1, 0, 1)
    assert await problems(customer, job.id) == [
        (
            2,
            "failed",
            f"repeats contact {bob.id} (same email) and contact {ann.id} (same phone); "
            "merge those first",
        ),
    ]
    stored = {c.id: c for c in (await contacts(customer)).values()}
    assert (stored[bob.id].version, stored[bob.id].first_name) == (1, "Bob")
    assert (stored[ann.id].version, list(stored[ann.id].other_phones)) == (1, [])
    assert (stored[cyd.id].phone, list(stored[cyd.id].other_phones)) == ("+8613800000003", [])


async def test_upsert_of_what_a_record_holds_written_otherwise_changes_nothing(
    customer: grpc.aio.Channel,
) -> None:
    stub = pb_grpc.AccountServiceStub(customer)
    berlin = pb.Address(kind="office", city="Berlin", country="DE")
    stored = []
    for account in (pb.Account(name="Addr X", addresses=[berlin]), pb.Account(name="Spaced Co")):
        request = pb.CreateAccountRequest(account=account)
        stored.append((await stub.CreateAccount(request, metadata=call_metadata(ADMIN))).account)
    data = "name,city,country\nAddr X,Berlin,de\nSpaced  Co,,\n"
    job = await finished(
        customer, (await start(customer, data.encode(), entity="accounts", mode="upsert")).id
    )

    assert (job.created, job.updated, job.skipped, job.failed) == (0, 0, 2, 0)
    assert await problems(customer, job.id) == [
        (2, "skipped", f"nothing new for account {stored[0].id}"),
        (3, "skipped", f"nothing new for account {stored[1].id}"),
    ]


async def test_a_new_company_keeps_its_first_spelling_and_spacing_does_not_split_one(
    customer: grpc.aio.Channel,
) -> None:
    stub = pb_grpc.AccountServiceStub(customer)
    stored = []
    for name in ("Space  Trading\tLtd", "Ärzte GmbH"):  # the database's locale: ASCII only
        request = pb.CreateAccountRequest(account=pb.Account(name=name))
        stored.append((await stub.CreateAccount(request, metadata=call_metadata(ADMIN))).account)
    data = "name,company\nAda Li,NewCo\nBo Li,newco\nCy Li,Space Trading  Ltd\nDo Li,ÄRZTE GmbH\n"
    job = await finished(customer, (await start(customer, data.encode())).id)

    assert (job.created, job.failed) == (4, 0)
    accounts = (
        await stub.ListAccounts(pb.ListAccountsRequest(page_size=10), metadata=call_metadata(ADMIN))
    ).accounts
    assert sorted(a.name for a in accounts) == ["NewCo", "Space Trading Ltd", "Ärzte GmbH"]
    assert stored[0].name == "Space Trading Ltd"
    found = await contacts(customer)
    assert (found["LiCy"].account_id, found["LiDo"].account_id) == (stored[0].id, stored[1].id)


@pytest.mark.parametrize(
    ("entity", "data", "reason"),
    [
        (
            "contacts",
            "name,company\nJonathan Smithers,SimCo\nJonathon Smithers,SimCo\nJo Smithers,Other\n",
            "likely duplicate of row 2 (similar_name_same_company)",
        ),
        (
            "accounts",
            "name,website\nAcme Trading GmbH,\nACME Trading AG,\nBeta Co,acme.example\n",
            "likely duplicate of row 2 (similar_name)",
        ),
    ],
)
async def test_skip_duplicates_finds_likely_duplicates_among_the_files_own_rows(
    customer: grpc.aio.Channel, entity: str, data: str, reason: str
) -> None:
    job = await start(customer, data.encode(), entity=entity, mode="skip_duplicates")
    job = await finished(customer, job.id)

    assert (job.created, job.skipped) == (2, 1)
    assert await problems(customer, job.id) == [(3, "skipped", reason)]


async def test_an_account_imports_parent_finds_it_by_name_and_never_below_itself(
    customer: grpc.aio.Channel,
) -> None:
    stub = pb_grpc.AccountServiceStub(customer)

    async def account(**fields: str) -> pb.Account:
        request = pb.CreateAccountRequest(account=pb.Account(**fields))
        return (await stub.CreateAccount(request, metadata=call_metadata(ADMIN))).account

    top = await account(name="Top Holding")
    middle = await account(name="Middle Co", parent_id=top.id)
    data = (
        "name,母公司\n"
        "Globex Asia,top holding\n"  # a stored account, found by name
        "Globex China,Globex  Asia\n"  # made by the row before
        "Lost Co,Nobody Inc\n"
        "Top Holding,Middle Co\n"  # its own child: a cycle
        "Middle Co,Globex China\n"  # moved under a new branch of its parent: fine
    )
    job = await finished(
        customer, (await start(customer, data.encode(), entity="accounts", mode="upsert")).id
    )

    assert (job.created, job.updated, job.failed) == (2, 1, 2)
    assert await problems(customer, job.id) == [
        (4, "failed", "parent 'Nobody Inc' is no account you can see"),
        (5, "failed", f"parent 'Middle Co' is below account {top.id}"),
    ]
    listed = await stub.ListAccounts(
        pb.ListAccountsRequest(page_size=10), metadata=call_metadata(ADMIN)
    )
    parent = {a.name: a.parent_id for a in listed.accounts}
    ids = {a.name: a.id for a in listed.accounts}
    assert parent == {
        "Top Holding": "",
        "Globex Asia": top.id,
        "Globex China": ids["Globex Asia"],
        "Middle Co": ids["Globex China"],
    }
    assert ids["Middle Co"] == middle.id


async def test_an_import_follows_the_parents_its_own_rows_set(
    customer: grpc.aio.Channel,
) -> None:
    stub = pb_grpc.AccountServiceStub(customer)
    made: dict[str, pb.Account] = {}
    for name, parent in (("Ace", ""), ("Cee", ""), ("Bee", "Cee")):
        account = pb.Account(name=name, parent_id=made[parent].id if parent else "")
        request = pb.CreateAccountRequest(account=account)
        made[name] = (await stub.CreateAccount(request, metadata=call_metadata(ADMIN))).account
    # Cee goes under Ace; then Ace under Bee would close Ace > Cee > Bee > Ace.
    data = "name,parent\nCee,Ace\nAce,Bee\n"
    job = await finished(
        customer, (await start(customer, data.encode(), entity="accounts", mode="upsert")).id
    )

    assert (job.updated, job.failed) == (1, 1)
    assert await problems(customer, job.id) == [
        (3, "failed", f"parent 'Bee' is below account {made['Ace'].id}")
    ]
