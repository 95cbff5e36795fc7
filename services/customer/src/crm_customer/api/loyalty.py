"""LoyaltyService: decode, call the ledger use cases as the caller, encode."""

import datetime as dt
from typing import Any, TypeAlias

import grpc

from crm.customer.v1 import loyalty_pb2 as lpb
from crm.customer.v1 import loyalty_pb2_grpc as lpb_grpc
from crm_customer.api.servicers import UnitOfWorkFactory
from crm_customer.domain.loyalty import LoyaltyEntry
from crm_customer.proto_mapping import to_proto
from crm_customer.usecases import loyalty as usecases
from crm_platform.auth.context import current_principal

Context: TypeAlias = grpc.aio.ServicerContext


class LoyaltyServicer(lpb_grpc.LoyaltyServiceServicer):
    # Every call may expire due points, so each runs in a transaction (no read-only uow).
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def AddLoyaltyEntry(self, request: Any, context: Context) -> lpb.AddLoyaltyEntryResponse:
        expires_at = request.expires_at if request.HasField("expires_at") else None
        added = await usecases.add_loyalty_entry(
            uow=self._uow(),
            principal=current_principal(),
            record_type=request.record_type,
            record_id=request.record_id,
            values={
                "kind": request.kind,
                "points": request.points,
                "reason": request.reason,
                "reference": request.reference,
                "expires_at": expires_at.ToDatetime(dt.UTC) if expires_at else None,
            },
        )
        return lpb.AddLoyaltyEntryResponse(
            entry=entry_message(added.entry), balance=added.balance, created=added.created
        )

    async def ListLoyaltyEntries(
        self, request: Any, context: Context
    ) -> lpb.ListLoyaltyEntriesResponse:
        entries, token = await usecases.list_loyalty_entries(
            uow=self._uow(),
            principal=current_principal(),
            record_type=request.record_type,
            record_id=request.record_id,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return lpb.ListLoyaltyEntriesResponse(
            entries=[entry_message(e) for e in entries], next_page_token=token
        )

    async def GetLoyaltyBalance(
        self, request: Any, context: Context
    ) -> lpb.GetLoyaltyBalanceResponse:
        found = await usecases.get_loyalty_balance(
            uow=self._uow(),
            principal=current_principal(),
            record_type=request.record_type,
            record_id=request.record_id,
        )
        expiring = []
        for unspent in found.expiring:
            expiry = lpb.LoyaltyExpiry(entry_id=str(unspent.earn.id), points=unspent.points)
            if unspent.earn.expires_at is not None:
                expiry.expires_at.FromDatetime(unspent.earn.expires_at)
            expiring.append(expiry)
        return lpb.GetLoyaltyBalanceResponse(balance=found.balance, expiring=expiring)


def entry_message(entry: LoyaltyEntry) -> lpb.LoyaltyEntry:
    return to_proto(entry, lpb.LoyaltyEntry)
