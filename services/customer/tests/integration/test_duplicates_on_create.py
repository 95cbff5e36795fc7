"""Creating a record reports the visible records it likely repeats, with the reasons, over
real gRPC and PostgreSQL; the record is created regardless."""

from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from crm.customer.v1 import customer_pb2 as pb
from crm.customer.v1 import customer_pb2_grpc as pb_grpc
from crm_platform.auth.principal import Scope
from crm_platform.testing.services import call_metadata, principal

pytestmark = pytest.mark.integration

ADMIN = principal(objects=["account", "contact"])
REP = principal(objects=["account", "contact"], scope=Scope.OWN)


@dataclass
class Service:
    accounts: pb_grpc.AccountServiceStub
    contacts: pb_grpc.ContactServiceStub

    async def account(self, who: Any = ADMIN, **values: Any) -> pb.CreateAccountResponse:
        reply: pb.CreateAccountResponse = await self.accounts.CreateAccount(
            pb.CreateAccountRequest(account=pb.Account(**values)), metadata=call_metadata(who)
        )
        return reply

    async def contact(self, who: Any = ADMIN, **values: Any) -> pb.CreateContactResponse:
        reply: pb.CreateContactResponse = await self.contacts.CreateContact(
            pb.CreateContactRequest(contact=pb.Contact(**values)), metadata=call_metadata(who)
        )
        return reply


def found(reply: pb.CreateAccountResponse | pb.CreateContactResponse) -> dict[str, list[str]]:
    return {d.id: list(d.reasons) for d in reply.likely_duplicates}


@pytest.fixture
def service(customer: grpc.aio.Channel) -> Service:
    return Service(pb_grpc.AccountServiceStub(customer), pb_grpc.ContactServiceStub(customer))


async def test_contacts_sharing_an_email_a_phone_or_a_name_at_one_account(
    service: Service,
) -> None:
    acme = (await service.account(name="Acme")).account.id
    globex = (await service.account(name="Globex")).account.id
    john = await service.contact(
        first_name="John",
        last_name="Smith",
        email="john@acme.example",
        phone="+49 30 1234567",
        account_id=acme,
    )
    assert found(john) == {}
    john_id = john.contact.id

    by_email = await service.contact(first_name="J.", other_emails=["JOHN@acme.example"])
    assert found(by_email) == {john_id: ["same_email"]}
    assert by_email.contact.id  # created regardless
    by_phone = await service.contact(first_name="Johnny", phone="+49 (30) 123-4567")
    assert found(by_phone) == {john_id: ["same_phone"]}
    by_name = await service.contact(first_name="Jon", last_name="Smith", account_id=acme)
    assert found(by_name) == {john_id: ["similar_name_same_company"]}
    elsewhere = await service.contact(first_name="Jon", last_name="Smith", account_id=globex)
    assert found(elsewhere) == {}
    everything = await service.contact(
        first_name="John",
        last_name="Smith",
        email="john@acme.example",
        phone="+49301234567",
        account_id=acme,
    )
    assert found(everything)[john_id] == ["same_email", "same_phone", "similar_name_same_company"]
    assert next(iter(found(everything))) == john_id  # the strongest first

    zhang = await service.contact(first_name="伟", last_name="张", account_id=acme)
    again = await service.contact(first_name="伟 ", last_name=" 张", account_id=acme)
    assert found(again) == {zhang.contact.id: ["similar_name_same_company"]}


async def test_only_records_the_caller_can_see_are_reported(service: Service) -> None:
    await service.contact(first_name="Hidden", email="hidden@example.com")
    mine = await service.contact(REP, first_name="Mine", email="hidden@example.com")
    assert found(mine) == {}  # the admin's contact is not the rep's to know of
    again = await service.contact(REP, first_name="Mine again", email="hidden@example.com")
    assert found(again) == {mine.contact.id: ["same_email"]}


async def test_accounts_alike_by_name_phone_or_website(service: Service) -> None:
    acme = (
        await service.account(name="Acme AG", website="https://www.acme.example", phone="+4930111")
    ).account.id
    assert found(await service.account(name="ACME GmbH")) == {acme: ["similar_name"]}
    assert found(await service.account(name="Other", website="acme.example/about")) == {
        acme: ["same_website"]
    }
    assert found(await service.account(name="Third", other_phones=["+49 30 111"])) == {
        acme: ["same_phone"]
    }
    assert found(await service.account(name="Initech")) == {}
    alibaba = (await service.account(name="阿里巴巴有限公司")).account.id
    assert found(await service.account(name="阿里巴巴集团")) == {alibaba: ["similar_name"]}


async def test_a_bad_record_reports_nothing_and_is_not_created(service: Service) -> None:
    await service.contact(first_name="Ann", email="ann@example.com")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await service.contact(email="ann@example.com")  # no name
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    listed = await service.contacts.ListContacts(
        pb.ListContactsRequest(filter=pb.RecordFilter(email="ann@example.com")),
        metadata=call_metadata(ADMIN),
    )
    assert [c.first_name for c in listed.contacts] == ["Ann"]
