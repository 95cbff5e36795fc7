"""One import row to values or a reason: names split, emails and phones normalized, the
rejection rules of issue 3, and the email fast path held to email-validator."""

import datetime as dt
import random

import pytest
from email_validator import EmailNotValidError, validate_email

from crm_customer.domain import fields
from crm_customer.imports.columns import map_headers
from crm_customer.imports.errors import ImportFileError
from crm_customer.imports.names import split_full_name
from crm_customer.imports.reader import RawRow
from crm_customer.imports.rows import ParsedRow, normalize_row
from crm_customer.imports.values import email

CONTACT_HEADERS = ["姓名", "邮箱", "手机", "电话", "公司", "职位", "标签", "生日", "Channel"]
CONTACTS = map_headers(CONTACT_HEADERS, "contacts")
ACCOUNTS = map_headers(["公司名称", "电话", "网址", "员工数", "城市", "标签"], "accounts")


def contact(*cells: str, region: str | None = "CN", line: int = 2) -> ParsedRow:
    padded = [*cells, *[""] * (len(CONTACT_HEADERS) - len(cells))]
    return normalize_row(RawRow(line, padded), CONTACTS, default_region=region)


def account(*cells: str, region: str | None = "CN") -> ParsedRow:
    padded = [*cells, *[""] * (6 - len(cells))]
    return normalize_row(RawRow(7, padded), ACCOUNTS, default_region=region)


def test_a_chinese_contact_row() -> None:
    row = contact(
        " 张伟 ",
        "Zhang.Wei@Example.CN",
        "138 0013 8000",
        "010-6552 9988",
        "华为技术有限公司",
        "销售经理",
        "vip\uff0c华东、vip",  # a full-width comma and an enumeration comma
        "1990年5月1日",
        "短信",
        line=5,
    )
    assert row == ParsedRow(
        5,
        {
            "first_name": "伟",
            "last_name": "张",
            "email": "zhang.wei@example.cn",
            "phone": "+8613800138000",
            "mobile": "+861065529988",
            "company": "华为技术有限公司",
            "title": "销售经理",
            "tags": ("vip", "华东"),
            "birthday": dt.date(1990, 5, 1),
            "preferred_channel": "sms",
        },
    )


def test_an_english_row_in_the_same_file() -> None:
    row = contact(
        "Anna Maria Schmidt",
        "ANNA@Beispiel.de",
        "+49 30 1234567",
        "",
        "ACME GmbH",
        "Head of Sales",
        "partner; dach",
        "03.04.1985",
        "E-Mail",
    )
    assert row == ParsedRow(
        2,
        {
            "first_name": "Anna Maria",
            "last_name": "Schmidt",
            "email": "anna@beispiel.de",
            "phone": "+49301234567",
            "company": "ACME GmbH",
            "title": "Head of Sales",
            "tags": ("partner", "dach"),
            "birthday": dt.date(1985, 4, 3),
            "preferred_channel": "email",
        },
    )


@pytest.mark.parametrize(
    ("full_name", "first", "last"),
    [
        ("张伟", "伟", "张"),
        ("张 伟", "伟", "张"),
        ("王小明", "小明", "王"),
        ("欧阳娜娜", "娜娜", "欧阳"),
        ("司马光", "光", "司马"),
        ("诸葛亮", "亮", "诸葛"),
        ("欧阳", "阳", "欧"),  # two characters: a one-character family name
        ("김민준", "민준", "김"),
        ("约翰·史密斯", "约翰", "史密斯"),
        ("Anna Maria Schmidt", "Anna Maria", "Schmidt"),
        ("  John   Smith ", "John", "Smith"),
        ("Schmidt, Anna", "Anna", "Schmidt"),
        ("Madonna", "", "Madonna"),
        ("爱新觉罗溥仪", "", "爱新觉罗溥仪"),  # over four characters: not split by guess
    ],
)
def test_full_names_are_split(full_name: str, first: str, last: str) -> None:
    assert split_full_name(full_name) == (first, last)


def test_first_and_last_name_columns_win_over_a_full_name() -> None:
    columns = map_headers(["姓名", "姓", "名"], "contacts")
    row = normalize_row(RawRow(2, ["张伟", "欧阳", "娜娜"]), columns, default_region=None)
    assert row.values == {"last_name": "欧阳", "first_name": "娜娜"}


def test_a_row_without_a_name_is_rejected() -> None:
    assert contact("", "a@example.com") == ParsedRow(2, {}, "no name")


def test_bad_emails_are_rejected_quoting_them() -> None:
    assert contact("张伟", "zhang@") == ParsedRow(2, {}, "email 'zhang@' is not a valid address")
    assert contact("张伟", "a@b@c.com").error == "email 'a@b@c.com' is not a valid address"
    assert contact("张伟", "wei@example.test").error == (
        "email 'wei@example.test' is not a valid address"
    )


def test_emails_typed_with_a_full_width_at_sign_are_read() -> None:
    assert contact("张伟", "zhang\uff20example.cn").values["email"] == "zhang@example.cn"


def test_international_addresses_are_kept_lower_case() -> None:
    assert contact("张伟", "用户@例子.广告").values["email"] == "用户@例子.广告"
    assert contact("Jörg", "Jörg@Bücher.DE").values["email"] == "jörg@bücher.de"


def test_phones_without_a_country_code_need_the_default_region() -> None:
    assert contact("张伟", "", "138 0013 8000", region=None).error == (
        "phone '138 0013 8000' is not a phone number in international format, e.g. +49 30 1234567"
    )
    assert contact("张伟", "", "+86 138 0013 8000", region=None).values["phone"] == (
        "+8613800138000"
    )


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("13800138000", "+8613800138000"),
        ("138-0013-8000", "+8613800138000"),
        ("+86 138 0013 8000", "+8613800138000"),
        ("0086 13800138000", "+8613800138000"),
        ("\uff11\uff13\uff18\uff10\uff10\uff11\uff13\uff18\uff10\uff10\uff10", "+8613800138000"),
        ("(010) 6552 9988", "+861065529988"),
        ("+49 (0)30 1234567", "+49301234567"),
    ],
)
def test_phones_in_the_cn_region(written: str, stored: str) -> None:
    assert contact("张伟", "", written).values["phone"] == stored


def test_unreadable_phones_are_rejected() -> None:
    assert contact("张伟", "", "123").error == "phone '123' is not a valid phone number"
    assert contact("张伟", "", "call me").error == "phone 'call me' is not a phone number"


def test_a_mobile_equal_to_the_phone_is_one_number() -> None:
    row = contact("张伟", "", "13800138000", "+86 138 0013 8000")
    assert row.values["phone"] == "+8613800138000"
    assert "mobile" not in row.values


def test_every_problem_of_a_row_is_reported() -> None:
    row = contact("", "nope", "42", "", "", "x" * 101, "", "31/31/1990", "fax")
    assert row == ParsedRow(
        2,
        {},
        "no name; email 'nope' is not a valid address; phone '42' is not a valid phone number; "
        f"title '{'x' * 40}...' must be at most 100 characters; "
        "birthday '31/31/1990' is not a date; write it as YYYY-MM-DD; "
        "preferred_channel 'fax' is not one of email, phone, sms",
    )


def test_a_too_long_name_is_not_reported_as_no_name() -> None:
    assert contact("x" * 300).error == f"full_name '{'x' * 40}...' must be at most 201 characters"


@pytest.mark.parametrize(
    ("written", "day"),
    [
        ("1990-05-01", dt.date(1990, 5, 1)),
        ("1990/5/1", dt.date(1990, 5, 1)),
        ("1990.05.01", dt.date(1990, 5, 1)),
        ("1990-05-01 00:00:00", dt.date(1990, 5, 1)),
        ("19900501", dt.date(1990, 5, 1)),
        ("01.05.1990", dt.date(1990, 5, 1)),
        ("25/12/1990", dt.date(1990, 12, 25)),
        ("12/25/1990", dt.date(1990, 12, 25)),
    ],
)
def test_birthdays(written: str, day: dt.date) -> None:
    assert contact("张伟", *[""] * 6, written).values["birthday"] == day


def test_a_birthday_that_could_be_either_way_is_rejected() -> None:
    assert contact("张伟", *[""] * 6, "03/04/1990").error == (
        "birthday '03/04/1990' is ambiguous (day or month first?); write it as YYYY-MM-DD"
    )


def test_a_ragged_row_is_rejected_with_its_reason() -> None:
    raw = RawRow(9, ["张伟", *[""] * 8], "row has 11 cells, the header has 9")
    assert normalize_row(raw, CONTACTS, default_region="CN") == ParsedRow(
        9, {}, "row has 11 cells, the header has 9"
    )


def test_an_account_row() -> None:
    row = account(
        " 阿里巴巴集团 ", "0571-8502 2088", "www.alibaba.com", "1,200人", "杭州", "大客户"
    )
    assert row == ParsedRow(
        7,
        {
            "name": "阿里巴巴集团",
            "phone": "+8657185022088",
            "website": "www.alibaba.com",
            "size": 1200,
            "city": "杭州",
            "tags": ("大客户",),
        },
    )


def test_account_rows_without_a_name_or_with_bad_values_are_rejected() -> None:
    assert account("", "", "", "", "Hangzhou").error == "no name"
    assert account("Acme", "", "not a site", "many").error == (
        "website 'not a site' is not a web address; size 'many' is not a number of employees"
    )


def test_the_default_region_may_be_lower_case() -> None:
    assert contact("张伟", "", "13800138000", region="cn").values["phone"] == "+8613800138000"


def test_an_unknown_default_region_refuses_the_import() -> None:
    with pytest.raises(ImportFileError) as error:
        contact("张伟", region="China")
    assert error.value.message == (
        "the default region 'China' is not a country code; use one like CN or DE"
    )


def reference_email(address: str) -> str | None:
    try:
        return validate_email(address, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def our_email(address: str) -> str | None:
    try:
        return email(address)
    except ValueError:
        return None


@pytest.mark.parametrize(
    "address",
    [
        "a@b.co",
        "first.last+tag@sub.example.com",
        "o'brien@example.ie",
        "x@localhost",
        "x@example.local",
        "x@example.arpa",
        "x@xn--fiqs8s.cn",
        "x@xn--zz.com",
        "x@ab--cd.com",
        "x@-example.com",
        "x@example-.com",
        "x@example.c",
        "x@example.123",
        ".x@example.com",
        "x.@example.com",
        "x..y@example.com",
        f"{'a' * 64}@example.com",
        f"{'a' * 65}@example.com",
        f"a.{'b' * 70}@example.com",  # long local parts pass outside strict mode
        f"a@{'b' * 63}.com",
        f"a@{'b' * 64}.com",
        f"a@{'.'.join(['b' * 60] * 4)}.com",
        "Postmaster@Example.com",
        "a b@example.com",
    ],
)
def test_the_email_fast_path_agrees_with_email_validator(address: str) -> None:
    assert our_email(address) == reference_email(address)


def test_the_email_fast_path_agrees_with_email_validator_on_random_addresses() -> None:
    chance = random.Random(20260101)
    local_chars = "abcXYZ019.+-_'!#~"
    domain_chars = "abcxyz019-."
    for _ in range(3000):
        local = "".join(chance.choice(local_chars) for _ in range(chance.randint(1, 8)))
        domain = "".join(chance.choice(domain_chars) for _ in range(chance.randint(1, 10)))
        tld = chance.choice(["com", "cn", "de", "c", "test", "local", "x1", "COM", ""])
        address = f"{local}@{domain}.{tld}" if tld else f"{local}@{domain}"
        assert our_email(address) == reference_email(address), address


def test_the_domain_phone_rule_takes_a_region() -> None:
    assert fields.phone_in("CN")("138 0013 8000") == "+8613800138000"
    assert fields.phone("+86 138 0013 8000") == "+8613800138000"
    with pytest.raises(ValueError, match="international format"):
        fields.phone("138 0013 8000")
