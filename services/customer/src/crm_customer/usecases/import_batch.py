"""One batch of an import's rows applied in the caller's transaction: each row created,
skipped as a duplicate, merged into the record it repeats (upsert) or failed with its reason.

Duplicates are found by key (domain/imports.py `duplicate_keys`) among the visible records
already stored — which include the rows of earlier batches — and the batch's own rows, so
memory holds one batch whatever the file's size, and a resumed import decides as before.

A batch is decided (`decide_batch`: reads only) and then stored (`store_batch`), so the
runner can decide one batch while the batch before it is still being written. What that
batch writes is handed over as `InFlight`, and the deciding batch treats it as stored: its
records (found by key, newer than what the database still shows) and its new accounts."""

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from crm_customer.domain.accounts import Account
from crm_customer.domain.custom_fields import CustomField, with_typed_custom_values
from crm_customer.domain.imports import (
    ImportSpec,
    Mode,
    Outcome,
    Problem,
    Progress,
    duplicate_keys,
    merged_values,
    name_key,
    record_values,
)
from crm_customer.domain.records import Record, RecordEvent, changed_values
from crm_customer.imports import ParsedRow, RawRow
from crm_customer.usecases.accounts import visible_named
from crm_customer.usecases.import_parents import NOT_HERE, below, still_trees
from crm_customer.usecases.kinds import KINDS
from crm_customer.usecases.ports import UnitOfWork
from crm_customer.usecases.records import check_writable
from crm_platform.auth.principal import Action, Principal
from crm_platform.errors import FieldViolation, InvalidArgument, StaleVersion
from crm_platform.ids import uuid7

_DUPLICATE_CANDIDATES = 50


# Rows decided between two chances for a batch being written meanwhile to go on.
_ROWS_PER_TURN = 200


@dataclass(frozen=True)
class InFlight:
    """What a decided batch writes, for the next one to decide as if it were committed."""

    records: dict[uuid.UUID, Record] = field(default_factory=dict)  # as written
    by_key: dict[str, list[Record]] = field(default_factory=dict)
    accounts: dict[str, uuid.UUID] = field(default_factory=dict)  # new, by name_key


@dataclass
class BatchResult:
    progress: Progress = field(default_factory=Progress)
    problems: list[Problem] = field(default_factory=list)
    events: list[RecordEvent] = field(default_factory=list)
    # What store_batch writes.
    accounts: list[Account] = field(default_factory=list)
    created: list[Record] = field(default_factory=list)
    replaced: list[tuple[Record, int]] = field(default_factory=list)  # and the version before

    def in_flight(self, entity: str) -> InFlight:
        records = {r.id: r for r in self.created} | {r.id: r for r, _ in self.replaced}
        by_key: dict[str, list[Record]] = {}
        for record in records.values():
            for key in _keys(entity, record):
                by_key.setdefault(key, []).append(record)
        accounts = {name_key(a.name): a.id for a in self.accounts}
        return InFlight(records, by_key, accounts)


@dataclass
class _Target:
    """A record rows of this batch lead to: stored before (`stored`) or new."""

    record: Record
    stored: Record | None
    line: int  # the row that created it, for new ones
    values: dict[str, Any] = field(default_factory=dict)  # a new one's values so far


async def apply_batch(
    *,
    uow: UnitOfWork,
    principal: Principal,
    spec: ImportSpec,
    rows: list[tuple[RawRow, ParsedRow]],
) -> BatchResult:
    """Store what the rows make (not committed) and say what became of each."""
    result = await decide_batch(uow=uow, principal=principal, spec=spec, rows=rows)
    await store_batch(uow=uow, spec=spec, result=result)
    return result


async def decide_batch(
    *,
    uow: UnitOfWork,
    principal: Principal,
    spec: ImportSpec,
    rows: list[tuple[RawRow, ParsedRow]],
    in_flight: InFlight | None = None,
) -> BatchResult:
    """What becomes of each row and what to write for it, with reads only; `in_flight` is
    what a batch not yet committed writes before this one."""
    batch = _Batch(uow, principal, spec, in_flight or InFlight())
    await batch.apply(rows)
    return batch.result


async def store_batch(*, uow: UnitOfWork, spec: ImportSpec, result: BatchResult) -> None:
    """Write what `decide_batch` decided (not committed); StaleVersion if a record it
    changes was changed meanwhile."""
    kind = KINDS[spec.entity]
    await uow.accounts.add_many(result.accounts)
    await kind.repo(uow).add_many(result.created)
    for record, version in result.replaced:
        if not await kind.repo(uow).replace(record, expected_version=version):
            raise StaleVersion(f"{kind.obj} {record.id} changed meanwhile")
    if spec.entity == "accounts" and not spec.dry_run:  # a dry run stores nothing for long
        await still_trees(uow, result.events)


def may_decide_while_writing(spec: ImportSpec) -> bool:
    """Whether a batch can be decided before the one before it is committed: not when it
    looks for likely duplicates (similar names), which only the database can answer."""
    return spec.mode is not Mode.SKIP_DUPLICATES


class _Batch:
    def __init__(
        self, uow: UnitOfWork, principal: Principal, spec: ImportSpec, in_flight: InFlight
    ) -> None:
        self.uow = uow
        self.principal = principal
        self.spec = spec
        self.in_flight = in_flight
        self.kind = KINDS[spec.entity]
        self.repo = self.kind.repo(uow)
        self.result = BatchResult()
        self.by_key: dict[str, _Target] = {}
        self.targets: dict[uuid.UUID, _Target] = {}
        self.custom_fields: dict[str, CustomField] = {}
        # New records of this batch by lookalike group: likely duplicates among them too.
        self.alike: dict[str, list[Record]] = {}
        self.parents: dict[str, uuid.UUID] = {}  # visible accounts named as parents

    async def apply(self, rows: list[tuple[RawRow, ParsedRow]]) -> None:
        wanted: list[tuple[RawRow, dict[str, Any]]] = []
        for raw, parsed in rows:
            if parsed.error:
                self._problem(raw, Outcome.FAILED, parsed.error)
            else:
                wanted.append((raw, record_values(self.spec.entity, parsed.values)))
        self.result.progress.processed = len(rows)
        if self.spec.entity == "contacts":
            wanted = await self._with_accounts(wanted)
        else:
            named = [values["parent"] for _, values in wanted if values.get("parent")]
            self.parents = await visible_named(self.uow, self.principal, named)
        await self._load_stored(wanted)
        self.custom_fields = await self.uow.custom_fields.of(self.spec.entity)
        for done, (raw, values) in enumerate(wanted, 1):
            await self._row(raw, values)
            if done % _ROWS_PER_TURN == 0:
                await asyncio.sleep(0)
        self._to_write()

    async def _row(self, raw: RawRow, values: dict[str, Any]) -> None:
        if (parent := values.pop("parent", None)) is not None:
            if (parent_id := self._parent_id(parent)) is None:
                self._problem(raw, Outcome.FAILED, f"parent '{parent}' is no account you can see")
                return
            values["parent_id"] = parent_id
        keys = duplicate_keys(self.spec.entity, values)
        key = next((k for k in keys if k in self.by_key), None)
        try:
            check_writable(self.kind, self.principal, values)
            new = key is None
            values = dict(with_typed_custom_values(self.custom_fields, values, creating=new))
            if key is None:
                await self._create(raw, values)
            elif self.spec.mode is not Mode.UPSERT:
                described = _described(self.by_key[key], key)
                self._problem(raw, Outcome.SKIPPED, f"duplicate of {described}")
            elif len(repeated := self._repeated(keys)) > 1:
                # Merged into one, the row would give it the other's email or phone.
                which = " and ".join(_described(target, k) for k, target in repeated.items())
                self._problem(raw, Outcome.FAILED, f"repeats {which}; merge those first")
            elif "parent_id" in values and await below(
                self.uow, values["parent_id"], self.by_key[key].record.id, self._parent_of
            ):
                why = f"parent '{parent}' is below {_described(self.by_key[key])}"
                self._problem(raw, Outcome.FAILED, why)
            else:
                self._merge(raw, self.by_key[key], values)
        except InvalidArgument as error:
            self._problem(raw, Outcome.FAILED, str(error))

    def _repeated(self, keys: list[str]) -> dict[str, _Target]:
        """The records the row repeats, each once, by the first key it shares with each."""
        found: dict[uuid.UUID, tuple[str, _Target]] = {}
        for key in keys:
            if (target := self.by_key.get(key)) is not None:
                found.setdefault(target.record.id, (key, target))
        return dict(found.values())

    async def _create(self, raw: RawRow, values: dict[str, Any]) -> None:
        record = self._new_record(uuid7(), values)
        if self.spec.mode is Mode.SKIP_DUPLICATES:
            if likely := await self._likely(record):
                self._problem(raw, Outcome.SKIPPED, likely)
                return
            for group in self.kind.lookalikes(record):
                self.alike.setdefault(group, []).append(record)
        self._remember(_Target(record, None, raw.line, values), values)
        self.result.progress.created += 1

    def _merge(self, raw: RawRow, target: _Target, values: dict[str, Any]) -> None:
        current = target.values if target.stored is None else target.record.snapshot()
        changes = merged_values(current, values)
        if not changes:
            self._problem(raw, Outcome.SKIPPED, f"nothing new for {_described(target)}")
            return
        if target.stored is None:
            merged = {**target.values, **changes}
            target.record = self._new_record(target.record.id, merged)
            target.values = merged
        else:
            self._require_edit(target.stored)
            updated, event = target.record.update(changes)
            if event is None:  # different only as written: the record holds it already
                self._problem(raw, Outcome.SKIPPED, f"nothing new for {_described(target)}")
                return
            target.record = updated
        self._remember(target, values)
        self.result.progress.updated += 1

    def _parent_id(self, name: str) -> uuid.UUID | None:
        """The visible account of that name, else one the import made (written or not)."""
        key = name_key(name)
        if (stored := self.parents.get(key)) is not None:
            return stored
        for record in self.in_flight.by_key.get(f"name:{key}", ()):
            return record.id
        target = self.by_key.get(f"name:{key}")
        return target.record.id if target is not None else None

    def _parent_of(self, account_id: uuid.UUID) -> object:
        record = self.in_flight.records.get(account_id)
        if (target := self.targets.get(account_id)) is not None:
            record = target.record
        return NOT_HERE if record is None else getattr(record, "parent_id", None)

    def _new_record(self, record_id: uuid.UUID, values: dict[str, Any]) -> Record:
        if self.principal.partner_id is not None:
            values = {**values, "partner_id": self.principal.partner_id}
        record, _ = self.kind.record_type.create(
            id=record_id,
            owner_id=self.principal.subject_id,
            team_id=self.principal.team_id,
            values=values,
        )
        return record

    def _require_edit(self, record: Record) -> None:
        scope = self.principal.scope(self.kind.obj, Action.EDIT)
        if scope is None or not self.principal.reaches(
            scope, owner_id=record.owner_id, team_id=record.team_id, partner_id=record.partner_id
        ):
            why = f"may not be changed by you: {self.kind.obj} {record.id}"
            raise InvalidArgument([FieldViolation("row", why)])

    def _remember(self, target: _Target, values: dict[str, Any]) -> None:
        self.targets[target.record.id] = target
        for key in duplicate_keys(self.spec.entity, values):
            self.by_key.setdefault(key, target)

    async def _likely(self, record: Record) -> str:
        scope = self.principal.scope(self.kind.obj, Action.READ)
        if scope is None or self.kind.duplicates is None:
            return ""
        candidates = await self.repo.look_alikes(
            record, principal=self.principal, scope=scope, limit=_DUPLICATE_CANDIDATES
        )
        groups = self.kind.lookalikes(record)
        earlier = {r.id: r for group in groups for r in self.alike.get(group, ())}
        matches = self.kind.duplicates(record, [*candidates, *earlier.values()])
        if not matches:
            return ""
        best = matches[0]
        reasons = ", ".join(str(r) for r in best.reasons)
        row = self.targets.get(best.other_id) if best.other_id in earlier else None
        other = f"row {row.line}" if row is not None else f"{self.kind.obj} {best.other_id}"
        return f"likely duplicate of {other} ({reasons})"

    async def _load_stored(self, wanted: list[tuple[RawRow, dict[str, Any]]]) -> None:
        keys = {key for _, values in wanted for key in duplicate_keys(self.spec.entity, values)}
        scope = self.principal.scope(self.kind.obj, Action.READ)
        if not keys or scope is None:
            return
        found = await self.repo.with_keys(
            emails=[k[6:] for k in keys if k.startswith("email:")],
            phones=[k[6:] for k in keys if k.startswith("phone:")],
            names=[k[5:] for k in keys if k.startswith("name:")],
            principal=self.principal,
            scope=scope,
        )
        stored = {record.id: record for record in found}
        # The batch being written wins over the database, which does not show it yet.
        stored |= {r.id: r for key in keys for r in self.in_flight.by_key.get(key, ())}
        stored |= {i: r for i in stored if (r := self.in_flight.records.get(i)) is not None}
        for record in sorted(stored.values(), key=lambda r: r.created_at):  # the oldest wins
            target = _Target(record, record, 0)
            for key in _keys(self.spec.entity, record):
                self.by_key.setdefault(key, target)

    async def _with_accounts(
        self, wanted: list[tuple[RawRow, dict[str, Any]]]
    ) -> list[tuple[RawRow, dict[str, Any]]]:
        """A contact's company is the visible account of that name, or a new one."""
        companies: dict[str, str] = {}
        for _, values in wanted:  # a new account is named as the company first appears
            if values.get("company"):
                companies.setdefault(name_key(values["company"]), values["company"])
        accounts = await self._accounts_named(companies) if companies else {}
        resolved = []
        for raw, values in wanted:
            company = values.pop("company", None)
            if company is None:
                resolved.append((raw, values))
            elif (account_id := accounts.get(name_key(company))) is not None:
                resolved.append((raw, {**values, "account_id": account_id}))
            else:
                reason = f"company '{company}' is no account you can see or create"
                self._problem(raw, Outcome.FAILED, reason)
        return resolved

    async def _accounts_named(self, companies: dict[str, str]) -> dict[str, uuid.UUID]:
        found = await visible_named(self.uow, self.principal, companies.values())
        if self.principal.scope("account", Action.READ) is not None:
            for key in companies.keys() - found.keys():  # made by the batch being written
                if (new_id := self.in_flight.accounts.get(key)) is not None:
                    found[key] = new_id
        if self.principal.scope("account", Action.CREATE) is None:
            return found
        for key, name in companies.items():
            if key not in found:
                account, event = Account.create(
                    id=uuid7(),
                    owner_id=self.principal.subject_id,
                    team_id=self.principal.team_id,
                    values={"name": name, "partner_id": self.principal.partner_id},
                )
                self.result.accounts.append(account)
                self.result.events.append(event)
                found[key] = account.id
        return found

    def _to_write(self) -> None:
        created = [t.record for t in self.targets.values() if t.stored is None]
        self.result.created = created
        self.result.events += [RecordEvent("created", record) for record in created]
        for target in self.targets.values():
            if target.stored is None:
                continue
            updated, event = target.stored.update(changed_values(target.stored, target.record))
            if event is None:
                continue
            self.result.replaced.append((updated, target.stored.version))
            self.result.events.append(event)

    def _problem(self, raw: RawRow, outcome: Outcome, reason: str) -> None:
        self.result.problems.append(Problem(raw.line, outcome, reason, raw.cells))
        if outcome is Outcome.FAILED:
            self.result.progress.failed += 1
        else:
            self.result.progress.skipped += 1


def _keys(entity: str, record: Record) -> list[str]:
    return duplicate_keys(entity, vars(record))  # the fields themselves, not a copy


def _described(target: _Target, key: str = "") -> str:
    what = f" (same {key.split(':', 1)[0]})" if key else ""
    if target.stored is None:
        return f"row {target.line}{what}"
    return f"{type(target.record).__name__.lower()} {target.record.id}{what}"
