"""Export rules without a database: columns, reach, and messages split by size."""

import dataclasses
import uuid

import pytest

from crm.customer.v1 import customer_pb2 as pb
from crm_customer.api.exports import chunked
from crm_customer.domain.accounts import Account
from crm_customer.domain.contacts import Contact
from crm_customer.domain.records import Record
from crm_customer.usecases.exports import default_columns, export_columns, export_scope
from crm_platform.auth.principal import Principal, Scope
from crm_platform.errors import InvalidArgument, PermissionDenied

USER = Principal(subject_id=uuid.uuid4(), kind="user")
PARTNER = Principal(subject_id=uuid.uuid4(), kind="api_key", partner_id=uuid.uuid4())


@pytest.mark.parametrize("record_type", [Contact, Account])
def test_the_default_columns_are_every_field_once_id_first(record_type: type[Record]) -> None:
    columns = default_columns(record_type)
    assert sorted(columns) == sorted(f.name for f in dataclasses.fields(record_type))
    assert columns[0] == "id"
    assert columns[-7:] == (
        "owner_id", "team_id", "partner_id", "version", "created_at", "updated_at",
        "internal_notes",
    )  # fmt: skip


def test_partners_get_no_internal_column_by_default_and_may_not_ask_for_one() -> None:
    assert "internal_notes" in export_columns(Contact, USER, [])
    assert "internal_notes" not in export_columns(Contact, PARTNER, [])
    assert export_columns(Contact, PARTNER, ["email", "first_name"]) == ("email", "first_name")
    with pytest.raises(InvalidArgument) as refused:
        export_columns(Contact, PARTNER, ["first_name", "internal_notes", "name"])
    assert [(v.field, v.description) for v in refused.value.violations] == [
        ("columns.1", "'internal_notes' is not exported to partners"),
        ("columns.2", "'name' is not a field of this entity"),
    ]


@pytest.mark.parametrize(
    ("read", "export", "reach"),
    [("all", "own", Scope.OWN), ("own", "all", Scope.OWN), ("team", "team", Scope.TEAM)],
)
def test_the_reach_is_the_narrower_of_read_and_export(read: str, export: str, reach: Scope) -> None:
    who = Principal(USER.subject_id, "user", grants={"contact": {"read": read, "export": export}})
    assert export_scope(who, "contact") is reach


def test_without_export_there_is_no_reach() -> None:
    reader = Principal(USER.subject_id, "user", grants={"contact": {"read": "all"}})
    with pytest.raises(PermissionDenied, match="not allowed to export contact"):
        export_scope(reader, "contact")


def test_messages_are_split_by_size_never_empty() -> None:
    contacts = [pb.Contact(first_name="x" * 90) for _ in range(5)]  # 92 bytes + 6 each
    assert [len(chunk) for chunk in chunked(contacts, 200)] == [2, 2, 1]
    assert [len(chunk) for chunk in chunked(contacts, 50)] == [1, 1, 1, 1, 1]
    assert list(chunked([], 200)) == []
