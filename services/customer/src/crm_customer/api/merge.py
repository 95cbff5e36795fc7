"""MergeService and HistoryService: one implementation each for accounts and contacts,
the record kind named by the request's `entity`."""

import json
from collections.abc import Callable
from typing import Any, TypeAlias

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from crm.customer.v1 import customer_pb2 as pb
from crm.customer.v1 import merge_pb2 as mpb
from crm.customer.v1 import merge_pb2_grpc as mpb_grpc
from crm_customer.domain.history import Change
from crm_customer.proto_mapping import to_proto
from crm_customer.usecases.accounts import ACCOUNTS
from crm_customer.usecases.contacts import CONTACTS
from crm_customer.usecases.history import record_history
from crm_customer.usecases.merge import merge_records
from crm_customer.usecases.ports import UnitOfWork
from crm_customer.usecases.records import RecordKind
from crm_platform.auth.context import current_principal
from crm_platform.errors import FieldViolation, InvalidArgument

Context: TypeAlias = grpc.aio.ServicerContext
UnitOfWorkFactory = Callable[[], UnitOfWork]

_ENTITIES: dict[str, tuple[RecordKind[Any], type[Message]]] = {
    "contacts": (CONTACTS, pb.Contact),
    "accounts": (ACCOUNTS, pb.Account),
}


def _entity(name: str) -> tuple[RecordKind[Any], type[Message]]:
    found = _ENTITIES.get(name)
    if found is None:
        raise InvalidArgument([FieldViolation("entity", f"must be {' or '.join(_ENTITIES)}")])
    return found


class MergeServicer(mpb_grpc.MergeServiceServicer):
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def MergeRecords(self, request: Any, context: Context) -> mpb.MergeRecordsResponse:
        kind, message_type = _entity(request.entity)
        survivor = await merge_records(
            kind=kind,
            uow=self._uow(),
            principal=current_principal(),
            survivor_id=request.survivor_id,
            duplicate_id=request.duplicate_id,
            expected_version=request.expected_version,
            choices=dict(request.fields),
        )
        reply = mpb.MergeRecordsResponse()
        # The oneof's members are named as the permission objects: account, contact.
        getattr(reply, kind.obj).CopyFrom(to_proto(survivor, message_type))
        return reply


class HistoryServicer(mpb_grpc.HistoryServiceServicer):
    def __init__(self, *, reads: UnitOfWorkFactory) -> None:
        self._reads = reads

    async def ListRecordHistory(
        self, request: Any, context: Context
    ) -> mpb.ListRecordHistoryResponse:
        kind, _ = _entity(request.entity)
        changes, token = await record_history(
            kind=kind,
            uow=self._reads(),
            principal=current_principal(),
            record_id=request.id,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return mpb.ListRecordHistoryResponse(
            changes=[_change_message(c) for c in changes], next_page_token=token
        )


def _change_message(change: Change) -> mpb.RecordChange:
    changed_at = Timestamp()
    changed_at.FromDatetime(change.changed_at)
    return mpb.RecordChange(
        field=change.field,
        old_value=_json_text(change.old),
        new_value=_json_text(change.new),
        actor_id=str(change.actor_id),
        changed_at=changed_at,
    )


def _json_text(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False)
