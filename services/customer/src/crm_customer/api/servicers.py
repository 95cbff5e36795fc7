"""Thin gRPC servicers: decode, call a use case with the caller's principal, encode."""

from collections.abc import Callable
from typing import TypeAlias

import grpc

from crm.customer.v1 import customer_pb2 as pb
from crm.customer.v1 import customer_pb2_grpc as pb_grpc
from crm_customer.domain.accounts import Account
from crm_customer.domain.contacts import Contact
from crm_customer.proto_mapping import to_proto, writable_values
from crm_customer.usecases import accounts, contacts
from crm_customer.usecases.ports import UnitOfWork
from crm_platform.auth.context import current_principal

UnitOfWorkFactory = Callable[[], UnitOfWork]
Context: TypeAlias = grpc.aio.ServicerContext


class AccountServicer(pb_grpc.AccountServiceServicer):
    def __init__(self, *, uow: UnitOfWorkFactory, reads: UnitOfWorkFactory) -> None:
        self._uow = uow
        self._reads = reads  # no transaction: queries are single statements

    async def CreateAccount(
        self, request: pb.CreateAccountRequest, context: Context
    ) -> pb.CreateAccountResponse:
        values = writable_values(request.account, Account.RULES, Account.RULES)
        account = await accounts.create_account(
            uow=self._uow(), principal=current_principal(), values=values
        )
        return pb.CreateAccountResponse(account=to_proto(account, pb.Account))

    async def GetAccount(
        self, request: pb.GetAccountRequest, context: Context
    ) -> pb.GetAccountResponse:
        account = await accounts.get_account(
            uow=self._reads(), principal=current_principal(), account_id=request.id
        )
        return pb.GetAccountResponse(account=to_proto(account, pb.Account))

    async def ListAccounts(
        self, request: pb.ListAccountsRequest, context: Context
    ) -> pb.ListAccountsResponse:
        found, token = await accounts.list_accounts(
            uow=self._reads(),
            principal=current_principal(),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListAccountsResponse(
            accounts=[to_proto(a, pb.Account) for a in found], next_page_token=token
        )

    async def UpdateAccount(
        self, request: pb.UpdateAccountRequest, context: Context
    ) -> pb.UpdateAccountResponse:
        values = writable_values(request.account, request.update_mask.paths, Account.RULES)
        account = await accounts.update_account(
            uow=self._uow(),
            principal=current_principal(),
            account_id=request.account.id,
            expected_version=request.expected_version,
            values=values,
        )
        return pb.UpdateAccountResponse(account=to_proto(account, pb.Account))


class ContactServicer(pb_grpc.ContactServiceServicer):
    def __init__(self, *, uow: UnitOfWorkFactory, reads: UnitOfWorkFactory) -> None:
        self._uow = uow
        self._reads = reads  # no transaction: queries are single statements

    async def CreateContact(
        self, request: pb.CreateContactRequest, context: Context
    ) -> pb.CreateContactResponse:
        values = writable_values(request.contact, Contact.RULES, Contact.RULES)
        contact = await contacts.create_contact(
            uow=self._uow(), principal=current_principal(), values=values
        )
        return pb.CreateContactResponse(contact=to_proto(contact, pb.Contact))

    async def GetContact(
        self, request: pb.GetContactRequest, context: Context
    ) -> pb.GetContactResponse:
        contact = await contacts.get_contact(
            uow=self._reads(), principal=current_principal(), contact_id=request.id
        )
        return pb.GetContactResponse(contact=to_proto(contact, pb.Contact))

    async def ListContacts(
        self, request: pb.ListContactsRequest, context: Context
    ) -> pb.ListContactsResponse:
        found, token = await contacts.list_contacts(
            uow=self._reads(),
            principal=current_principal(),
            page_size=request.page_size,
            page_token=request.page_token,
            account_id=request.account_id,
        )
        return pb.ListContactsResponse(
            contacts=[to_proto(c, pb.Contact) for c in found], next_page_token=token
        )

    async def UpdateContact(
        self, request: pb.UpdateContactRequest, context: Context
    ) -> pb.UpdateContactResponse:
        values = writable_values(request.contact, request.update_mask.paths, Contact.RULES)
        contact = await contacts.update_contact(
            uow=self._uow(),
            principal=current_principal(),
            contact_id=request.contact.id,
            expected_version=request.expected_version,
            values=values,
        )
        return pb.UpdateContactResponse(contact=to_proto(contact, pb.Contact))
