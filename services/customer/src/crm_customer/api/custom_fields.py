"""CustomFieldService: decode, call the custom field use cases, encode."""

from collections.abc import Callable
from typing import Any, TypeAlias

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from crm.customer.v1 import custom_fields_pb2 as cpb
from crm.customer.v1 import custom_fields_pb2_grpc as cpb_grpc
from crm_customer.domain.custom_fields import CustomField
from crm_customer.usecases import custom_fields as usecases
from crm_customer.usecases.ports import UnitOfWork
from crm_platform.auth.context import current_principal

Context: TypeAlias = grpc.aio.ServicerContext


class CustomFieldServicer(cpb_grpc.CustomFieldServiceServicer):
    def __init__(self, *, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def DefineCustomField(
        self, request: Any, context: Context
    ) -> cpb.DefineCustomFieldResponse:
        wanted = request.field
        field = await usecases.define_custom_field(
            uow=self._uow(),
            principal=current_principal(),
            entity=wanted.entity,
            name=wanted.name,
            label=wanted.label,
            type=wanted.type,
            options=list(wanted.options),
            max_length=wanted.max_length,
            required=wanted.required,
        )
        return cpb.DefineCustomFieldResponse(field=field_message(field))

    async def ListCustomFields(
        self, request: Any, context: Context
    ) -> cpb.ListCustomFieldsResponse:
        found = await usecases.list_custom_fields(
            uow=self._uow(), principal=current_principal(), entity=request.entity
        )
        return cpb.ListCustomFieldsResponse(fields=[field_message(f) for f in found])

    async def ChangeCustomField(
        self, request: Any, context: Context
    ) -> cpb.ChangeCustomFieldResponse:
        wanted = request.field
        field = await usecases.change_custom_field(
            uow=self._uow(),
            principal=current_principal(),
            entity=wanted.entity,
            name=wanted.name,
            expected_version=request.expected_version,
            label=wanted.label,
            options=list(wanted.options),
            max_length=wanted.max_length,
            required=wanted.required,
        )
        return cpb.ChangeCustomFieldResponse(field=field_message(field))

    async def RemoveCustomField(
        self, request: Any, context: Context
    ) -> cpb.RemoveCustomFieldResponse:
        await usecases.remove_custom_field(
            uow=self._uow(),
            principal=current_principal(),
            entity=request.entity,
            name=request.name,
            expected_version=request.expected_version,
        )
        return cpb.RemoveCustomFieldResponse()


def field_message(field: CustomField) -> cpb.CustomField:
    message = cpb.CustomField(
        entity=field.entity,
        name=field.name,
        label=field.label,
        type=field.type.value,
        options=field.options,
        max_length=field.max_length,
        required=field.required,
        version=field.version,
    )
    for name in ("created_at", "updated_at"):
        stamp = Timestamp()
        stamp.FromDatetime(getattr(field, name))
        getattr(message, name).CopyFrom(stamp)
    return message
