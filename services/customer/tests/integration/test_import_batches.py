"""Import batches decided while the batch before them is still being written: they decide
as if it were committed, and a batch whose predecessor fails to commit writes nothing."""

import csv
import io
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from crm.customer.v1 import customer_pb2 as pb
from crm.customer.v1 import customer_pb2_grpc as pb_grpc
from crm_customer.bootstrap import units
from crm_customer.domain.contacts import Contact
from crm_customer.domain.imports import ImportSpec, Progress
from crm_customer.imports import RawRow, map_headers, normalize_row
from crm_customer.imports.rows import ParsedRow
from crm_customer.repository import tables
from crm_customer.repository.records import SqlRecordRepository
from crm_customer.usecases.import_batch import BatchResult, InFlight, decide_batch, store_batch
from crm_customer.usecases.ports import UnitOfWork
from crm_platform.auth.principal import Scope
from crm_platform.errors import StaleVersion
from crm_platform.testing.services import call_metadata

from .conftest import running_customer
from .merge_support import outbox
from .test_imports import ADMIN, finished, start

pytestmark = pytest.mark.integration

HEADERS = ["姓名", "电话", "邮箱", "公司", "职位"]


@pytest.fixture
async def engine(customer: grpc.aio.Channel, database_url: str) -> AsyncIterator[AsyncEngine]:
    """The migrated database of a running service, for batches driven by hand."""
    engine = create_async_engine(database_url)
    yield engine
    await engine.dispose()


def _rows(first_line: int, *lines: list[str]) -> list[tuple[RawRow, ParsedRow]]:
    columns = map_headers(HEADERS, "contacts")
    raws = [RawRow(first_line + i, cells) for i, cells in enumerate(lines)]
    return [(raw, normalize_row(raw, columns, default_region="CN")) for raw in raws]


def _spec(mode: str) -> ImportSpec:
    return ImportSpec.parse(
        entity="contacts",
        mode=mode,
        default_region="CN",
        dry_run=False,
        mapping={},
        file_name="t.csv",
    )


async def _commit(uow: UnitOfWork, spec: ImportSpec, result: BatchResult) -> None:
    await store_batch(uow=uow, spec=spec, result=result)
    for event in result.events:
        uow.record(event, actor_id=ADMIN.subject_id)
    await uow.commit()


async def _two_batches(
    engine: AsyncEngine, mode: str, first: list[list[str]], second: list[list[str]]
) -> BatchResult:
    """The second batch decided before anything of the first is written, then both
    written in order, as the runner does; what the second decided."""
    spec = _spec(mode)
    async with units(engine)() as earlier, units(engine)() as later:
        one = await decide_batch(uow=earlier, principal=ADMIN, spec=spec, rows=_rows(2, *first))
        two = await decide_batch(
            uow=later,
            principal=ADMIN,
            spec=spec,
            rows=_rows(2 + len(first), *second),
            in_flight=one.in_flight("contacts"),
        )
        await _commit(earlier, spec, one)
        await _commit(later, spec, two)
    return two


async def _contacts(engine: AsyncEngine) -> dict[str, Contact]:
    async with engine.connect() as conn:
        ids = (await conn.execute(select(tables.contacts.c.id))).scalars().all()
    async with units(engine)() as uow:
        found = [await uow.contacts.get(i, principal=ADMIN, scope=Scope.ALL) for i in ids]
    return {c.email: c for c in found if c is not None}


async def test_a_batch_sees_the_records_and_accounts_of_the_one_being_written(
    engine: AsyncEngine,
) -> None:
    second = await _two_batches(
        engine,
        "create",
        [
            ["A One", "13800138001", "a@example.cn", "华为", ""],
            ["B Two", "13800138002", "b@example.cn", "Acme", ""],
        ],
        [
            ["C Three", "13800138003", "c@example.cn", "华为", ""],
            ["A Again", "13800138009", "A@example.cn", "", ""],
        ],
    )

    stored = await _contacts(engine)
    a, c = stored["a@example.cn"], stored["c@example.cn"]
    assert sorted(stored) == ["a@example.cn", "b@example.cn", "c@example.cn"]
    assert second.progress == Progress(processed=2, created=1, skipped=1)
    assert [(p.line, p.reason) for p in second.problems] == [
        (5, f"duplicate of contact {a.id} (same email)")
    ]
    assert c.account_id == a.account_id is not None  # 华为, made by the first batch
    async with engine.connect() as conn:
        names = (await conn.execute(select(tables.accounts.c.name))).scalars().all()
    assert sorted(names) == ["Acme", "华为"]


async def test_an_upsert_merges_into_what_the_batch_before_wrote(
    customer: grpc.aio.Channel, engine: AsyncEngine
) -> None:
    stub = pb_grpc.ContactServiceStub(customer)
    existing = pb.Contact(first_name="Ella", last_name="Existing", email="e@example.cn")
    await stub.CreateContact(
        pb.CreateContactRequest(contact=existing), metadata=call_metadata(ADMIN)
    )

    second = await _two_batches(
        engine,
        "upsert",
        [
            ["Ella Existing", "13800138005", "e@example.cn", "", ""],  # adds the phone
            ["Nina New", "13800138006", "n@example.cn", "", ""],
        ],
        [
            ["Ella Existing", "138 0013 8005", "", "", "CEO"],  # by the phone just added
            ["Nina New", "", "n@example.cn", "", "CTO"],  # into the contact just created
        ],
    )

    assert second.progress == Progress(processed=2, updated=2)
    stored = await _contacts(engine)
    ella, nina = stored["e@example.cn"], stored["n@example.cn"]
    assert sorted(stored) == ["e@example.cn", "n@example.cn"]
    assert (ella.phone, ella.title, ella.version) == ("+8613800138005", "CEO", 3)
    assert (nina.phone, nina.title, nina.version) == ("+8613800138006", "CTO", 2)


async def test_nothing_in_flight_decides_from_the_database_alone(engine: AsyncEngine) -> None:
    """What the tests above rely on: without the batch in flight, the second batch would
    make a duplicate contact and a second account of the same name."""
    spec = _spec("create")
    async with units(engine)() as earlier, units(engine)() as later:
        first = _rows(2, ["A One", "13800138001", "a@example.cn", "华为", ""])
        await decide_batch(uow=earlier, principal=ADMIN, spec=spec, rows=first)
        second = _rows(3, ["A Again", "13800138009", "a@example.cn", "华为", ""])
        alone = await decide_batch(
            uow=later, principal=ADMIN, spec=spec, rows=second, in_flight=InFlight()
        )
    assert (alone.progress.created, len(alone.accounts)) == (1, 1)


async def test_a_batch_after_one_that_failed_to_commit_writes_nothing(
    database_url: str, nats_url: str
) -> None:
    rows = [[f"P{n} Person", f"1380013810{n}", f"p{n}@example.cn", "", ""] for n in range(7)]
    data = io.StringIO()
    csv.writer(data).writerows([HEADERS, *rows])
    async with running_customer(
        database_url, nats_url, import_processes=0, import_batch_rows=2
    ) as channel:
        await _fail_once_on_storing(database_url, "p3@example.cn")  # the second batch
        job = await finished(channel, (await start(channel, data.getvalue().encode())).id)

    assert (job.status, job.processed, job.created, job.skipped, job.failed) == (
        "succeeded",
        7,
        7,
        0,
        0,
    )
    created = [aggregate for subject, aggregate, _ in await outbox(database_url)]
    assert len(created) == len(set(created)) == 7  # each contact's event once
    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        count = await conn.scalar(select(func.count()).select_from(tables.contacts))
        faults = await conn.scalar(text("SELECT last_value FROM import_fault"))
    await engine.dispose()
    assert (count, faults) == (7, 2)  # the failed attempt, then the one that went through


async def _fail_once_on_storing(database_url: str, email: str) -> None:
    """A contact with this email fails to be stored the first time only: a sequence
    counts the attempts, and does not roll back with them."""
    name = f"fault_{uuid.uuid4().hex[:8]}"
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE SEQUENCE import_fault"))
        await conn.execute(
            text(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN IF NEW.email = '{email}' THEN IF nextval('import_fault') = 1 THEN "
                "RAISE EXCEPTION 'injected fault'; END IF; END IF; RETURN NEW; END $$"
            )
        )
        await conn.execute(
            text(
                f"CREATE TRIGGER {name} BEFORE INSERT ON contacts "
                f"FOR EACH ROW EXECUTE FUNCTION {name}()"
            )
        )
    await engine.dispose()


async def test_a_batch_whose_parents_moved_after_it_was_decided_writes_nothing(
    customer: grpc.aio.Channel, engine: AsyncEngine
) -> None:
    accounts = pb_grpc.AccountServiceStub(customer)
    made = {}
    for name in ("Ann Corp", "Ben Corp"):
        request = pb.CreateAccountRequest(account=pb.Account(name=name))
        made[name] = (await accounts.CreateAccount(request, metadata=call_metadata(ADMIN))).account
    spec = ImportSpec.parse(
        entity="accounts", mode="upsert", default_region="", dry_run=False, mapping={},
        file_name="t.csv",
    )  # fmt: skip
    columns = map_headers(["name", "parent"], "accounts")
    raw = RawRow(2, ["Ann Corp", "Ben Corp"])
    async with units(engine)() as uow:
        rows = [(raw, normalize_row(raw, columns, default_region=None))]
        decided = await decide_batch(uow=uow, principal=ADMIN, spec=spec, rows=rows)
        assert decided.progress.updated == 1  # Ann under Ben: no cycle yet
        # Meanwhile Ben goes under Ann, which the batch being written does not know of.
        ben = made["Ben Corp"]
        move = pb.UpdateAccountRequest(
            account=pb.Account(id=ben.id, parent_id=made["Ann Corp"].id),
            update_mask=FieldMask(paths=["parent_id"]),
            expected_version=ben.version,
        )
        await accounts.UpdateAccount(move, metadata=call_metadata(ADMIN))
        with pytest.raises(StaleVersion):
            await store_batch(uow=uow, spec=spec, result=decided)

    ann = await accounts.GetAccount(
        pb.GetAccountRequest(id=made["Ann Corp"].id), metadata=call_metadata(ADMIN)
    )
    assert (ann.account.parent_id, ann.account.version) == ("", 1)


async def test_only_the_key_lookup_goes_without_sequential_scans(engine: AsyncEngine) -> None:
    """The batch's other reads may have no index to use (an account's website), and a
    sequential scan is their best plan."""
    async with AsyncSession(engine) as session, session.begin():
        repository = SqlRecordRepository(session, tables.contacts, Contact)
        found = await repository.with_keys(
            emails=["nobody@example.cn"], phones=[], names=[], principal=ADMIN, scope=Scope.ALL
        )
        assert found == []
        settings = await session.execute(
            text(
                "SELECT current_setting('enable_seqscan'),"
                " current_setting('max_parallel_workers_per_gather'),"
                " current_setting('plan_cache_mode')"
            )
        )
        seqscan, workers, plans = settings.one()
    assert (seqscan, workers, plans) == ("on", "2", "force_custom_plan")  # 2: the default
