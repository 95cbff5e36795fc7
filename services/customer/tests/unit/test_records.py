import datetime as dt
import uuid

import pytest

from crm_customer.domain.accounts import Account
from crm_customer.domain.contacts import Contact
from crm_customer.domain.search import Cursor, Order
from crm_customer.usecases.pages import decode_page_token, encode_page_token
from crm_platform.errors import InvalidArgument

OWNER = uuid.uuid4()


def new_account(**values: object) -> Account:
    account, _ = Account.create(id=uuid.uuid4(), owner_id=OWNER, team_id=None, values=values)
    return account


def test_create_normalizes_and_emits_created() -> None:
    account, event = Account.create(
        id=uuid.uuid4(),
        owner_id=OWNER,
        team_id=None,
        values={"name": "  Acme  ", "tags": ["b2b", "b2b", "vip"]},
    )
    assert account.name == "Acme"
    assert account.tags == ("b2b", "vip")
    assert account.version == 1
    assert event.kind == "created"
    assert event.record is account


def test_all_violations_are_reported_at_once() -> None:
    with pytest.raises(InvalidArgument) as raised:
        new_account(name="", website="not a site", phone="call me", nickname="x")
    fields = {v.field for v in raised.value.violations}
    assert fields == {"name", "website", "phone", "nickname"}


def test_update_bumps_version_and_lists_changed_fields() -> None:
    account = new_account(name="Acme", industry="Retail")
    updated, event = account.update({"name": "Acme GmbH", "industry": "Retail"})
    assert updated.version == 2
    assert event is not None
    assert [(c.field, c.old, c.new) for c in event.changes] == [("name", "Acme", "Acme GmbH")]
    assert account.name == "Acme"  # records are immutable


def test_update_without_change_is_a_no_op() -> None:
    account = new_account(name="Acme")
    same, event = account.update({"name": " Acme "})
    assert event is None
    assert same is account


def test_contact_needs_a_first_or_last_name() -> None:
    with pytest.raises(InvalidArgument, match="first_name or last_name is required"):
        Contact.create(id=uuid.uuid4(), owner_id=OWNER, team_id=None, values={"email": "a@b.io"})
    contact, _ = Contact.create(
        id=uuid.uuid4(), owner_id=OWNER, team_id=None, values={"last_name": "Li"}
    )
    with pytest.raises(InvalidArgument):
        contact.update({"last_name": ""})


def test_contact_email_is_validated_and_normalized() -> None:
    contact, _ = Contact.create(
        id=uuid.uuid4(),
        owner_id=OWNER,
        team_id=None,
        values={"first_name": "Ann", "email": "Ann@Example.COM"},
    )
    assert contact.email == "ann@example.com"
    with pytest.raises(InvalidArgument) as raised:
        contact.update({"email": "ann@"})
    assert raised.value.violations[0].field == "email"


def test_bad_reference_id_is_a_field_violation() -> None:
    with pytest.raises(InvalidArgument) as raised:
        new_account(name="Acme", parent_id="nope")
    assert raised.value.violations[0].field == "parent_id"


def test_page_tokens_round_trip_for_their_own_order_only() -> None:
    by_name, newest = Order("name", descending=False), Order()
    cursor = Cursor("zhang wei", uuid.uuid4())
    assert decode_page_token(encode_page_token(by_name, cursor), by_name) == cursor
    contacted = Order("last_contacted_at", descending=True)
    at = Cursor(dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC), uuid.uuid4())
    assert decode_page_token(encode_page_token(contacted, at), contacted) == at
    for token, order in (
        ("!!garbage", newest),
        (encode_page_token(by_name, cursor), newest),  # made for another order
        (encode_page_token(newest, Cursor(None, uuid.uuid4()))[:-3], newest),
    ):
        with pytest.raises(InvalidArgument):
            decode_page_token(token, order)


def test_an_account_cannot_be_its_own_parent() -> None:
    account = new_account(name="Acme")
    with pytest.raises(InvalidArgument) as raised:
        account.update({"parent_id": str(account.id)})
    assert raised.value.violations[0].field == "parent_id"


def test_phones_are_stored_in_e164_whatever_way_they_are_written() -> None:
    for written in ("+49 30 1234567", "+49 (30) 123-4567", "+4930 1234567"):
        assert new_account(name="Acme", phone=written).phone == "+49301234567"


def test_phones_without_a_country_or_impossible_ones_are_refused() -> None:
    for written in ("030 1234567", "+49 1", "+1 555"):
        with pytest.raises(InvalidArgument) as refused:
            new_account(name="Acme", phone=written)
        assert [v.field for v in refused.value.violations] == ["phone"]
