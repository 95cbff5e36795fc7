"""The column headers people write for each field, in English and Chinese. Compared after
`header_key`: case, spaces, underscores, hyphens, dots, asterisks, full-width forms and
bracketed remarks ("手机号码(必填)", "E-Mail *") do not matter."""

import re
import unicodedata

CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "mobile",
    "title",
    "company",
    "tags",
    "birthday",
    "preferred_channel",
    "external_id",
    "notes",
)
ACCOUNT_FIELDS = (
    "name",
    "parent",
    "legal_name",
    "industry",
    "website",
    "phone",
    "tags",
    "size",
    "external_id",
    "street",
    "city",
    "region",
    "postal_code",
    "country",
)

# Headers for a phone number. The first such column is `phone`; for contacts a second one
# holding another number is `mobile`, whatever its header says.
PHONE_WORDS = (
    "phone", "phone number", "telephone", "telephone number", "tel", "mobile", "mobile phone",
    "mobile number", "cell", "cell phone", "cellphone",
    "电话", "手机", "手机号", "手机号码", "联系电话", "电话号码", "联系方式", "移动电话", "座机",
    "办公电话", "固定电话",
)  # fmt: skip

_SHARED: dict[str, tuple[str, ...]] = {
    "phone": PHONE_WORDS,
    "tags": ("tags", "tag", "labels", "label", "标签"),
    "external_id": ("external id", "ext id", "外部编号", "外部id", "编号"),
}

CONTACT_WORDS: dict[str, tuple[str, ...]] = {
    **_SHARED,
    "mobile": (),  # never by header alone: see PHONE_WORDS
    "first_name": ("first name", "given name", "forename", "名"),
    "last_name": ("last name", "surname", "family name", "姓", "姓氏"),
    "full_name": (
        "name", "full name", "contact", "contact name", "contact person",
        "姓名", "名字", "联系人", "联系人姓名", "客户姓名",
    ),
    "email": (
        "email", "email address", "e-mail", "e-mail address", "mail",
        "邮箱", "电子邮件", "邮件", "电子邮箱", "邮箱地址",
    ),
    "title": ("title", "job title", "position", "role", "职位", "职务", "头衔", "职称"),
    "company": (
        "company", "company name", "organization", "organisation", "account", "account name",
        "公司", "单位", "公司名称", "企业", "企业名称", "工作单位", "客户公司",
    ),
    "birthday": ("birthday", "birth date", "date of birth", "dob", "生日", "出生日期"),
    "preferred_channel": ("preferred channel", "channel", "首选渠道", "偏好渠道", "联系渠道"),
    "notes": ("notes", "note", "comment", "comments", "remarks", "备注", "说明"),
}  # fmt: skip

ACCOUNT_WORDS: dict[str, tuple[str, ...]] = {
    **_SHARED,
    "name": (
        "name", "account", "account name", "company", "company name", "organization",
        "organisation", "名称", "公司", "公司名称", "客户名称", "企业名称", "单位",
    ),
    "parent": (
        "parent", "parent account", "parent company", "parent organization", "parent name",
        "母公司", "上级公司", "总公司", "上级单位", "所属集团",
    ),
    "legal_name": ("legal name", "registered name", "法定名称", "注册名称", "工商注册名称"),
    "industry": ("industry", "sector", "行业", "所属行业"),
    "website": ("website", "web site", "web", "url", "homepage", "网站", "网址", "官网"),
    "size": (
        "size", "employees", "number of employees", "headcount", "company size",
        "规模", "员工数", "员工人数", "人数",
    ),
    "street": ("street", "address", "street address", "address line 1", "地址", "街道", "详细地址"),
    "city": ("city", "town", "城市"),
    "region": ("region", "state", "province", "省份", "省", "地区"),
    "postal_code": ("postal code", "zip", "zip code", "postcode", "邮编", "邮政编码"),
    "country": ("country", "国家", "国家/地区"),
}  # fmt: skip

# Bracketed remarks at the end: "电话(必填)", "Email [optional]", "手机号码【选填】". After
# NFKC, full-width parentheses and colons are plain ones.
_REMARK = re.compile(r"\s*[(\[\u3010][^)\]\u3011]*[)\]\u3011]\s*$")
_IGNORED_CHARACTERS = re.compile(r"[\s_\-.*:]+")


def header_key(header: str) -> str:
    """A header as compared: NFKC turns full-width letters and brackets into plain ones."""
    plain = unicodedata.normalize("NFKC", header).casefold().strip()
    plain = _REMARK.sub("", plain) or plain
    return _IGNORED_CHARACTERS.sub("", plain)


def lookup(words: dict[str, tuple[str, ...]], fields: tuple[str, ...]) -> dict[str, str]:
    """header key -> field, with each field's own name among its headers."""
    table = {header_key(field): field for field in fields}
    for field, headers in words.items():
        table.update({header_key(header): field for header in headers})
    return table


CONTACT_HEADERS = lookup(CONTACT_WORDS, CONTACT_FIELDS)
ACCOUNT_HEADERS = lookup(ACCOUNT_WORDS, ACCOUNT_FIELDS)
