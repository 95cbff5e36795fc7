"""A full name split into first and last name, for files with a single name column."""

import re

# Chinese surnames of two characters; every other Chinese surname has one. Without this
# list 欧阳娜娜 would be family 欧, given 阳娜娜.
COMPOUND_SURNAMES = frozenset(
    ["欧阳", "司马", "诸葛", "上官", "司徒", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "长孙",
     "宇文", "夏侯"]
)  # fmt: skip
# Chinese, Japanese kanji and Korean hangul names of 2 to 4 characters: family name first.
_EAST_ASIAN_NAME = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]{2,4}")
# Transliterated names keep the Western order with a middle dot: 约翰·史密斯 (John Smith).
_MIDDLE_DOTS = re.compile(r"\s*[\u00b7\u2022\u30fb\u2027]\s*")


def split_full_name(full_name: str) -> tuple[str, str]:
    """(first name, last name) of a name written in one cell. 张伟 -> (伟, 张); 欧阳娜娜 ->
    (娜娜, 欧阳); "Anna Maria Schmidt" -> ("Anna Maria", "Schmidt"); "Schmidt, Anna" ->
    ("Anna", "Schmidt"). A single word is a last name: the one name a record must have
    is then where lists sorted by last name look for it."""
    name = " ".join(full_name.split())
    compact = name.replace(" ", "")  # 张 伟 is 张伟
    if _EAST_ASIAN_NAME.fullmatch(compact):
        family = 2 if len(compact) > 2 and compact[:2] in COMPOUND_SURNAMES else 1
        return compact[family:], compact[:family]
    name = _MIDDLE_DOTS.sub(" ", name).strip()
    last, comma, first = name.partition(",")
    if comma and first.strip() and last.strip():
        return first.strip(), last.strip()
    first, _, last = name.rpartition(" ")
    return first, last
