"""The complete account and contact model: structured values validated and normalized, and
carried through protobuf unchanged."""

import dataclasses
import datetime as dt
import decimal
import random
import uuid
from typing import Any

import phonenumbers
import pytest

from crm.customer.v1 import customer_pb2 as pb
from crm_customer.domain import fields
from crm_customer.domain.accounts import Account
from crm_customer.domain.contacts import Contact
from crm_customer.domain.fields import _plain_e164
from crm_customer.domain.values import (
    AccountRole,
    Address,
    Agreement,
    Consent,
    Money,
    from_json,
    to_json,
)
from crm_customer.proto_mapping import to_proto, writable_values
from crm_platform.errors import InvalidArgument

OWNER = uuid.uuid4()


def account(**values: object) -> Account:
    return Account.create(id=uuid.uuid4(), owner_id=OWNER, team_id=None, values=values)[0]


def contact(**values: object) -> Contact:
    return Contact.create(id=uuid.uuid4(), owner_id=OWNER, team_id=None, values=values)[0]


def violations(make: object, **values: object) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as raised:
        make(**values)  # type: ignore[operator]
    return {v.field: v.description for v in raised.value.violations}


def test_an_account_keeps_its_structured_values_normalized() -> None:
    found = account(
        name="Acme",
        legal_name="Acme Holding GmbH",
        employees=250,
        other_phones=["+49 30 1234567", "+49 (30) 123-4567", "+86 138 0013 8000"],
        addresses=[
            {"kind": "Billing", "street": " Hauptstr. 1 ", "city": "Berlin", "country": "de"}
        ],
        lifecycle="Customer",
        credit_limit={"value": "25000.50", "currency": "eur"},
        credit_rating="A",
        agreements=[{"reference": "MSA-7", "starts_on": "2026-01-01", "ends_on": "2027-12-31"}],
        custom_fields={"segment": "gold", "seats": 12},
    )
    assert found.other_phones == ("+49301234567", "+8613800138000")
    assert found.addresses == (
        Address(kind="billing", street="Hauptstr. 1", city="Berlin", country="DE"),
    )
    assert found.lifecycle == "customer"
    assert found.credit_limit == Money(decimal.Decimal("25000.50"), "EUR")
    assert found.agreements == (Agreement("MSA-7", dt.date(2026, 1, 1), dt.date(2027, 12, 31)),)
    assert account(name="New").lifecycle == "prospect"


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"employees": -1}, "employees", "between 0"),
        ({"employees": "many"}, "employees", "whole number"),
        ({"lifecycle": "lost"}, "lifecycle", "one of prospect"),
        ({"credit_limit": {"value": "1e3x", "currency": "EUR"}}, "credit_limit", "decimal"),
        ({"credit_limit": {"value": "-5", "currency": "EUR"}}, "credit_limit", "at least 0"),
        ({"credit_limit": {"value": "5", "currency": "EURO"}}, "credit_limit", "ISO 4217"),
        ({"credit_limit": {"value": "5.12345", "currency": "EUR"}}, "credit_limit", "4 decimals"),
        ({"addresses": [{"country": "XX", "city": "Nowhere"}]}, "addresses", "ISO 3166"),
        ({"addresses": [{"country": "Germany", "city": "Bonn"}]}, "addresses", "'GERMANY' is"),
        ({"addresses": [{"kind": "office"}]}, "addresses", "needs a street"),
        ({"addresses": [{"city": "Berlin", "planet": "Earth"}]}, "addresses", "unknown fields"),
        ({"addresses": [{"city": "B"}] * 11}, "addresses", "at most 10"),
        ({"other_phones": ["call me"]}, "other_phones", "entry 0"),
        ({"agreements": [{"reference": ""}]}, "agreements", "must not be empty"),
        (
            {
                "agreements": [
                    {"reference": "A", "starts_on": "2026-02-01", "ends_on": "2026-01-01"}
                ]
            },
            "agreements",
            "before starts_on",
        ),
        ({"agreements": [{"reference": "A", "starts_on": "01.02.2026"}]}, "agreements", "YYYY"),
        ({"custom_fields": {"Bad Name": 1}}, "custom_fields", "not a custom field name"),
        ({"custom_fields": {"tier": [1, 2]}}, "custom_fields", "single value"),
    ],
)
def test_bad_account_values_are_refused_with_the_reason(
    values: dict[str, object], field: str, words: str
) -> None:
    found = violations(account, name="Acme", **values)
    assert words in found[field], found


def test_a_contact_keeps_emails_phones_consent_and_roles() -> None:
    at = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
    employer, client = uuid.uuid4(), uuid.uuid4()
    found = contact(
        first_name="Wei",
        last_name="Zhang",
        email="Wei.Zhang@Example.com",
        other_emails=["wei@private.example", "WEI@private.example"],
        phone="+86 138 0013 8000",
        account_id=str(employer),
        account_roles=[{"account_id": str(client), "role": "decision maker"}],
        birthday="1985-03-09",
        preferred_channel="SMS",
        consents=[
            {"channel": "email", "granted": True, "recorded_at": at, "source": "web form"},
            {"channel": "email", "granted": False, "recorded_at": at + dt.timedelta(days=1)},
            {"channel": "sms", "granted": True},
        ],
        tags=["vip"],
    )
    assert found.email == "wei.zhang@example.com"
    assert found.emails == ("wei.zhang@example.com", "wei@private.example")
    assert found.account_roles == (AccountRole(client, "decision maker"),)
    assert found.birthday == dt.date(1985, 3, 9)
    assert found.preferred_channel == "sms"
    email, sms = found.consents
    assert (email.channel, email.granted, email.recorded_at) == (
        "email",
        False,
        at + dt.timedelta(days=1),
    )
    assert (sms.channel, sms.granted, sms.source) == ("sms", True, "")


_IN_A_DAY = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"birthday": "2999-01-01"}, "birthday", "today"),
        ({"birthday": "09.03.1985"}, "birthday", "YYYY-MM-DD"),
        ({"preferred_channel": "pigeon"}, "preferred_channel", "one of"),
        ({"consents": [{"channel": "fax", "granted": True}]}, "consents", "channel must be"),
        ({"consents": [{"channel": "email", "granted": "yes"}]}, "consents", "true or false"),
        (
            {"consents": [{"channel": "sms", "granted": True, "recorded_at": _IN_A_DAY}]},
            "consents",
            "not be in the future",
        ),
        ({"other_emails": ["not-an-email"]}, "other_emails", "entry 0"),
        ({"account_roles": [{"account_id": "x", "role": "lawyer"}]}, "account_roles", "valid id"),
    ],
)
def test_bad_contact_values_are_refused_with_the_reason(
    values: dict[str, object], field: str, words: str
) -> None:
    found = violations(contact, first_name="Ada", **values)
    assert words in found[field], found


def test_a_role_at_the_primary_account_or_twice_at_one_account_is_refused() -> None:
    employer = str(uuid.uuid4())
    primary = violations(
        contact, first_name="Ada", account_id=employer, account_roles=[{"account_id": employer}]
    )
    assert "primary account" in primary["account_roles"]
    twice = violations(
        contact,
        first_name="Ada",
        account_roles=[{"account_id": employer, "role": "a"}, {"account_id": employer}],
    )
    assert "twice" in twice["account_roles"]


def test_a_records_own_email_or_phone_is_never_also_among_its_others() -> None:
    ada = contact(
        first_name="Ada",
        email="Ada@Example.com",
        other_emails=["ada@example.com", "ada@home.org"],
        phone="+4930123456",
        other_phones=["+49 30 123456", "+4930999999"],
    )
    assert (ada.other_emails, ada.other_phones) == (("ada@home.org",), ("+4930999999",))
    promoted, event = ada.update({"email": "ada@home.org"})
    assert (promoted.email, promoted.other_emails) == ("ada@home.org", ())
    assert event is not None
    assert {c.field for c in event.changes} == {"email", "other_emails"}
    same, event = ada.update({"other_emails": ["ADA@example.com", "ada@home.org"]})
    assert (same.other_emails, event) == (("ada@home.org",), None)  # nothing new
    acme = account(name="Acme", phone="+4930123456", other_phones=["+4930123456"])
    assert acme.other_phones == ()


def test_values_survive_storage_as_json() -> None:
    consent = Consent("email", True, dt.datetime(2026, 5, 1, tzinfo=dt.UTC), "import")
    for kind, value in (
        (Address, Address(kind="home", city="Shanghai", country="CN")),
        (Agreement, Agreement("MSA", dt.date(2026, 1, 1), None, "frame")),
        (Consent, consent),
        (AccountRole, AccountRole(uuid.uuid4(), "lawyer")),
        (Money, Money(decimal.Decimal("0.5000"), "CNY")),
    ):
        assert from_json(kind, to_json(value)) == value


def test_records_round_trip_through_protobuf() -> None:
    original = contact(
        first_name="Ada",
        addresses=[{"city": "London", "country": "GB"}],
        consents=[{"channel": "phone", "granted": True, "source": "call"}],
        account_roles=[{"account_id": str(uuid.uuid4()), "role": "accountant"}],
        birthday="1990-12-10",
        custom_fields={"tier": "gold", "score": 7.5, "active": True},
        tags=["a", "b"],
    )
    message = to_proto(original, pb.Contact)
    rules = Contact.creatable()
    again = contact(**writable_values(message, rules, rules))
    for name in ("addresses", "consents", "account_roles", "birthday", "custom_fields", "tags"):
        assert getattr(again, name) == getattr(original, name), name

    money = account(name="A", credit_limit={"value": "10.5", "currency": "USD"})
    message_a = to_proto(money, pb.Account)
    assert (message_a.credit_limit.value, message_a.credit_limit.currency) == ("10.5", "USD")
    assert not to_proto(account(name="B"), pb.Account).HasField("credit_limit")
    # an empty note the caller may read is sent; only a hidden one (None) is left unset
    assert to_proto(account(name="B"), pb.Account).HasField("internal_notes")
    hidden = dataclasses.replace(account(name="B"), internal_notes=None)
    assert not to_proto(hidden, pb.Account).HasField("internal_notes")
    unset = ["credit_limit", "last_contacted_at"]
    assert writable_values(pb.Account(name="B"), unset, unset) == dict.fromkeys(unset)


@pytest.mark.parametrize(
    ("written", "sent"),
    [("0.00", "0.00"), ("0", "0"), ("-0", "0"), ("0E+5", "0"), ("1E+3", "1000")],
)
def test_a_credit_limit_of_zero_is_sent_as_zero_not_as_unset(written: str, sent: str) -> None:
    record = account(name="A", employees=0, credit_limit={"value": written, "currency": "EUR"})
    for names in (None, ["credit_limit", "employees"]):  # a reply, an export's columns
        message = to_proto(record, pb.Account, names)
        assert (message.credit_limit.value, message.credit_limit.currency) == (sent, "EUR")
        assert message.employees == 0


def test_false_and_zero_inside_values_are_sent() -> None:
    at = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    record = contact(
        first_name="Ada",
        consents=[{"channel": "email", "granted": False, "recorded_at": at}],
        custom_fields={"seats": 0, "active": False, "note": ""},
    )
    message = to_proto(record, pb.Contact)
    assert [(c.channel, c.granted) for c in message.consents] == [("email", False)]
    assert dict(message.custom_fields) == {"seats": 0, "active": False, "note": ""}


def test_the_phone_fast_path_agrees_with_phonenumbers() -> None:
    """fields.phone_in skips phonenumbers' parse for plain digits; over numbers of every
    region, written the ways people write them, both give the same answer."""
    rng = random.Random(5)
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    fast_answers = 0
    for _ in range(4000):
        region = rng.choice(regions)
        example = phonenumbers.example_number_for_type(region, rng.choice(list(range(11))))
        if example is None:
            continue
        national = str(example.national_number)[:-3] + f"{rng.randrange(1000):03d}"
        code = example.country_code
        written = rng.choice(
            [f"+{code}{national}", national, f"0{national}", f"+{code} ({national[:3]}) "
             f"{national[3:]}", f"{national[:3]}-{national[3:]}", f"+0{national}"]
        )  # fmt: skip
        for default in (region, None):
            fast_answers += _plain_e164(written, default) is not None
            assert _answer(fields.phone_in(default), written) == _full_parse(written, default)
    assert fast_answers > 1000  # the fast path was taken, not just the full parse


def _answer(check: Any, written: str) -> str | None:
    try:
        return str(check(written))
    except ValueError:
        return None


def _full_parse(written: str, region: str | None) -> str | None:
    try:
        number = phonenumbers.parse(written, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_CODES = (1, 7, 33, 44, 49, 86, 852, 886, 800, 882, 39, 61, 91, 55)


def test_the_fast_validity_check_agrees_with_phonenumbers() -> None:
    """fields._valid_number reads phonenumbers' metadata ahead instead of calling
    is_valid_number; over random digits, real numbers with random endings and every calling
    code, both give the same answer."""
    rng = random.Random(7)
    numbers = [(code, _digits(rng, rng.randint(4, 17))) for code in _CODES for _ in range(1000)]
    numbers += [(86, f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}") for _ in range(2000)]
    numbers += [(86, "13800138000"), (49, "301234567"), (1, "2015550123"), (44, "7400123456")]
    for code, example in _examples():
        for _ in range(4):  # of a kind that exists, so often valid
            kept = example[: rng.randint(1, len(example))]
            numbers.append((code, kept + _digits(rng, len(example) - len(kept), first="0")))
    check = fields._valid_number.__wrapped__  # the rules, not the cache
    valid = 0
    for code, national in numbers:
        number = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
        expected = phonenumbers.is_valid_number(number)
        assert check(code, national) == expected, (code, national)
        valid += expected
    assert len(numbers) > 20_000
    assert valid > 5_000  # not just the easy answer
    # none of these is left to phonenumbers' own, slow, check
    assert all(fields._regions_sharing(code) is not None for code in _CODES)


def _examples() -> list[tuple[int, str]]:
    """phonenumbers' example national number of each kind, for every calling code."""
    found = []
    for code in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE):
        for region in phonenumbers.region_codes_for_country_code(code):
            if region == "001":
                examples = [phonenumbers.example_number_for_non_geo_entity(code)]
            else:
                examples = [phonenumbers.example_number_for_type(region, k) for k in range(11)]
            found += [
                (code, str(e.national_number))
                for e in examples
                if e is not None and not e.italian_leading_zero
            ]
    return found


def _digits(rng: random.Random, length: int, first: str = "") -> str:
    """`length` random digits, the first not 0 unless `first` allows it."""
    if length == 0:
        return ""
    return rng.choice(first + "123456789") + "".join(rng.choices("0123456789", k=length - 1))
