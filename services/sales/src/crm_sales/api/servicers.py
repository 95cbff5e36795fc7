"""Thin gRPC servicer over the account projection."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import grpc

from crm.sales.v1 import account_projection_pb2 as pb
from crm.sales.v1 import account_projection_pb2_grpc as pb_grpc
from crm_platform.auth.context import current_principal
from crm_sales.usecases.account_projection import ProjectionStore, get_projected_account

StoreScope = Callable[[], AbstractAsyncContextManager[ProjectionStore]]


class AccountProjectionServicer(pb_grpc.AccountProjectionServiceServicer):
    def __init__(self, store: StoreScope) -> None:
        self._store = store

    async def GetProjectedAccount(
        self, request: pb.GetProjectedAccountRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetProjectedAccountResponse:
        async with self._store() as store:
            account = await get_projected_account(
                store=store, principal=current_principal(), account_id=request.id
            )
        reply = pb.ProjectedAccount(
            id=str(account.id),
            name=account.name,
            owner_id=str(account.owner_id),
            team_id=str(account.team_id) if account.team_id else "",
            partner_id=str(account.partner_id) if account.partner_id else "",
            source_version=account.source_version,
        )
        reply.synced_at.FromDatetime(account.synced_at)
        return pb.GetProjectedAccountResponse(account=reply)
