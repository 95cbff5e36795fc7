"""Which column holds which field: explicit mappings, English and Chinese headers, the
second phone column, and files where no column holds a name."""

import pytest

from crm_customer.imports.columns import ColumnMap, Entity, map_headers
from crm_customer.imports.errors import ImportFileError


def refusal(headers: list[str], entity: str, mapping: dict[str, str] | None = None) -> str:
    with pytest.raises(ImportFileError) as error:
        map_headers(headers, entity, mapping)
    return error.value.message


def test_chinese_contact_headers() -> None:
    headers = ["姓名", "手机号", "邮箱", "公司名称", "职务", "标签", "出生日期", "备注", "微信"]
    assert map_headers(headers, "contacts") == ColumnMap(
        Entity.CONTACTS,
        {
            "full_name": 0,
            "phone": 1,
            "email": 2,
            "company": 3,
            "title": 4,
            "tags": 5,
            "birthday": 6,
            "notes": 7,
        },
        ignored=("微信",),
    )


def test_english_headers_ignore_case_spaces_underscores_and_hyphens() -> None:
    headers = ["First_Name", "LAST NAME", "E-Mail", "Job-Title", "company name", "External ID"]
    assert map_headers(headers, Entity.CONTACTS).fields == {
        "first_name": 0,
        "last_name": 1,
        "email": 2,
        "title": 3,
        "company": 4,
        "external_id": 5,
    }


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("姓", "last_name"),
        ("名", "first_name"),
        ("联系人", "full_name"),
        ("名字", "full_name"),
        ("电子邮件", "email"),
        ("邮件", "email"),
        ("mail", "email"),
        ("联系电话", "phone"),
        ("Cell", "phone"),
        ("tel.", "phone"),
        ("单位", "company"),
        ("Organisation", "company"),
        ("position", "title"),
        ("职位", "title"),
        ("生日", "birthday"),
        ("手机号码（必填）", "phone"),  # full-width brackets and a remark  # noqa: RUF001
        ("Ｅｍａｉｌ *", "email"),  # full-width letters, a required marker  # noqa: RUF001
        ("preferred_channel", "preferred_channel"),
    ],
)
def test_contact_synonyms(header: str, field: str) -> None:
    assert map_headers([header, "姓名"], "contacts").fields[field] == 0


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("公司", "name"),
        ("名称", "name"),
        ("Account Name", "name"),
        ("行业", "industry"),
        ("网址", "website"),
        ("网站", "website"),
        ("城市", "city"),
        ("省份", "region"),
        ("省", "region"),
        ("地区", "region"),
        ("邮编", "postal_code"),
        ("ZIP code", "postal_code"),
        ("国家", "country"),
        ("地址", "street"),
        ("街道", "street"),
        ("Employees", "size"),
        ("Legal Name", "legal_name"),
        ("电话", "phone"),
    ],
)
def test_account_synonyms(header: str, field: str) -> None:
    columns = map_headers([header, "Name"], "accounts")
    assert columns.fields[field] == 0


def test_the_second_phone_column_of_a_contact_is_the_mobile() -> None:
    columns = map_headers(["姓名", "电话", "手机", "Fax-ish", "Tel"], "contacts")
    assert columns.fields == {"full_name": 0, "phone": 1, "mobile": 2}
    assert columns.ignored == ("Fax-ish", "Tel")  # a third phone has nowhere to go


def test_an_account_has_one_phone() -> None:
    columns = map_headers(["公司名称", "电话", "手机"], "accounts")
    assert columns.fields == {"name": 0, "phone": 1}
    assert columns.ignored == ("手机",)


def test_a_repeated_field_keeps_the_first_column() -> None:
    columns = map_headers(["Email", "Name", "邮箱", ""], "contacts")
    assert columns.fields == {"email": 0, "full_name": 1}
    assert columns.ignored == ("邮箱", "column 4")


def test_an_explicit_mapping_wins_over_recognised_headers() -> None:
    headers = ["Kunde", "Telefon", "Handy", "Email", "Firma"]
    mapping = {"Kunde": "full_name", "Handy": "phone", "Telefon": "mobile", "Email": ""}
    columns = map_headers(headers, "contacts", mapping)
    assert columns.fields == {"full_name": 0, "mobile": 1, "phone": 2}
    assert columns.ignored == ("Email", "Firma")


def test_a_mapping_finds_its_column_written_differently() -> None:
    columns = map_headers(["Client Name", "Mail"], "accounts", {"client_name": "name"})
    assert columns.fields == {"name": 0}


def test_a_mapping_to_unknown_fields_is_refused_naming_them() -> None:
    message = refusal(["Name", "A", "B"], "contacts", {"A": "shoe_size", "B": "industry"})
    assert message.startswith(
        "the mapping names fields that contacts do not have: industry, shoe_size; "
        "the fields are first_name, last_name, full_name, email"
    )


def test_a_mapping_to_missing_columns_is_refused_naming_them() -> None:
    message = refusal(["Name"], "contacts", {"Handy": "phone"})
    assert message == "the mapping names columns the file does not have: Handy"


def test_a_mapping_may_not_give_two_columns_one_field() -> None:
    message = refusal(["A", "B"], "contacts", {"A": "full_name", "B": "full_name"})
    assert message == "the mapping gives more than one column the field full_name"


def test_a_mapping_may_not_name_one_column_twice() -> None:
    message = refusal(["Name", "E-Mail *"], "contacts", {"E-Mail *": "email", "e-mail": "email"})
    assert message == "the mapping names the column 'E-Mail *' twice (as 'E-Mail *' and 'e-mail')"


@pytest.mark.parametrize(
    ("headers", "mapping", "field"),
    [
        (["Name", "A"], {"A": "shoe_size"}, "mapping"),
        (["Name"], {"Handy": "phone"}, "mapping"),
        (["A", "B"], {"A": "full_name", "B": "full_name"}, "mapping"),
        (["Colour"], {}, "file"),  # no name column: the file's headers are at fault
    ],
)
def test_a_refusal_names_the_part_at_fault(
    headers: list[str], mapping: dict[str, str], field: str
) -> None:
    with pytest.raises(ImportFileError) as error:
        map_headers(headers, "contacts", mapping)
    assert error.value.field == field


def test_without_a_name_column_contacts_are_refused() -> None:
    message = refusal(["邮箱", "电话"], "contacts")
    assert message == (
        "no column holds a name (the columns are: 邮箱, 电话); call one 姓名, name, "
        "or map a column to full_name or first_name or last_name"
    )


def test_without_a_name_column_accounts_are_refused() -> None:
    message = refusal(["Website", "City"], "accounts")
    assert message == (
        "no column holds a name (the columns are: Website, City); call one 公司名称, name, "
        "or map a column to name"
    )


def test_a_last_name_alone_is_a_name() -> None:
    assert map_headers(["姓", "电话"], "contacts").fields == {"last_name": 0, "phone": 1}


def test_an_unknown_entity_is_refused() -> None:
    assert refusal(["Name"], "leads") == "cannot import 'leads': only contacts or accounts"
