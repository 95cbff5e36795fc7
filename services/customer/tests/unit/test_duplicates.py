"""The duplicate rules: identifiers match exactly, names only fuzzily and at one company."""

import uuid

import pytest

from crm_customer.domain.duplicates import (
    Company,
    Match,
    Person,
    Reason,
    company_key,
    compare,
    likely_duplicates,
    lookalike_groups,
    name_key,
    similar_names,
)


def person(
    name: str = "", company: str = "", emails: tuple[str, ...] = (), phones: tuple[str, ...] = ()
) -> Person:
    return Person(uuid.uuid4(), name, company, emails, phones)


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("  José   Müller-Lüdenscheidt ", "jose muller ludenscheidt"),
        ("O'Brien, Seán", "o brien sean"),
        ("张 伟", "张伟"),
        ("ZHANG Wei", "zhang wei"),
    ],
)
def test_names_compare_without_case_accents_or_punctuation(written: str, key: str) -> None:
    assert name_key(written) == key


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ACME GmbH", "Acme"),
        ("Acme Inc.", "acme"),
        ("Acme Ltd", "ACME Limited"),
        ("华为技术有限公司", "华为技术"),
        ("阿里巴巴集团", "阿里巴巴"),
    ],
)
def test_legal_forms_do_not_make_another_company(a: str, b: str) -> None:
    assert company_key(a) == company_key(b)


def test_a_company_that_is_only_a_legal_form_keeps_its_name() -> None:
    assert company_key("Company") == "company"
    assert company_key("公司") == "公司"


@pytest.mark.parametrize(
    ("a", "b", "similar"),
    [
        ("Jon Smith", "John Smith", True),
        ("Smith, John", "John Smith", True),
        ("Zhang Wei", "Wei Zhang", True),
        ("张伟", "张 伟", True),
        ("John Smith", "Joan Smyth", False),
        ("John Smith", "Jane Doe", False),
        ("", "John Smith", False),
    ],
)
def test_similar_names(a: str, b: str, similar: bool) -> None:
    assert similar_names(a, b) is similar


def test_one_shared_email_or_phone_is_enough() -> None:
    a = person("Ann Lee", emails=("ann@example.com", "a.lee@example.com"))
    b = person("A. Lee", emails=("a.lee@example.com",))
    c = person("Somebody Else", phones=("+493012345678",))
    d = person("Another", phones=("+493012345678",))
    assert compare(a, b) == Match(b.id, (Reason.SAME_EMAIL,))
    match = compare(c, d)
    assert match is not None
    assert match.reasons == (Reason.SAME_PHONE,)


def test_a_similar_name_counts_only_at_the_same_company() -> None:
    at_acme = person("Jon Smith", "ACME GmbH")
    same = person("John Smith", "Acme")
    elsewhere = person("John Smith", "Initech")
    nowhere = person("John Smith")
    found = compare(at_acme, same)
    assert found is not None
    assert found.reasons == (Reason.SIMILAR_NAME_SAME_COMPANY,)
    assert compare(at_acme, elsewhere) is None
    assert compare(person("Jon Smith"), nowhere) is None


def test_strongest_reasons_come_first() -> None:
    me = person("Jon Smith", "Acme", emails=("jon@acme.test",), phones=("+14155550100",))
    by_name = person("John Smith", "Acme")
    by_phone = person("X", phones=("+14155550100",))
    by_email = person("Y", emails=("jon@acme.test",))
    unrelated = person("Jane Doe", "Acme")
    found = likely_duplicates(me, [by_name, unrelated, by_phone, by_email, me])
    assert [m.other_id for m in found] == [by_email.id, by_phone.id, by_name.id]


def test_lookalikes_are_grouped_as_the_rules_compare_them() -> None:
    assert lookalike_groups(person("李 娜", "腾讯有限公司")) == ["company:腾讯"]
    assert lookalike_groups(person("Li Na")) == []  # no company: no similar-name rule
    acme = Company(uuid.uuid4(), "ACME Trading GmbH", website="https://www.acme.example/x")
    assert lookalike_groups(acme) == ["word:acme", "host:acme.example"]
    assert lookalike_groups(Company(uuid.uuid4(), "Acme AG")) == ["word:acme"]
