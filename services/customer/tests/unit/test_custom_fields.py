"""Custom field definitions and the values they hold records to."""

from typing import Any

import pytest

from crm_customer.domain.custom_fields import CustomField, typed_values, with_typed_custom_values
from crm_platform.errors import InvalidArgument


def defined(type: str, **settings: Any) -> CustomField:
    return CustomField.define(entity="contacts", name="f", label="F", type=type, **settings)


@pytest.mark.parametrize(
    ("type", "written", "stored"),
    [
        ("text", "  gold ", "gold"),
        ("text", 12, "12"),
        ("integer", "1,200", 1200),
        ("integer", 7.0, 7),
        ("number", "12.50", 12.5),
        ("number", "3", 3),
        ("number", 2.25, 2.25),
        ("boolean", "Yes", True),
        ("boolean", "否", False),
        ("boolean", False, False),
        ("date", "2026-11-22", "2026-11-22"),
        ("date", "2026-11-22T00:00:00", "2026-11-22"),
    ],
)
def test_values_are_normalized_to_their_type(type: str, written: Any, stored: Any) -> None:
    value = defined(type).read(written)
    assert (value, value.__class__) == (stored, stored.__class__)


def test_a_choice_takes_the_options_spelling() -> None:
    tier = defined("choice", options=["Gold", "Silver", "Gold", " "])
    assert tier.options == ("Gold", "Silver")
    assert tier.read("gold") == "Gold"
    with pytest.raises(ValueError, match="one of Gold, Silver"):
        tier.read("bronze")


@pytest.mark.parametrize(
    ("type", "written", "why"),
    [
        ("integer", "1.5", "whole number"),
        ("integer", True, "whole number"),
        ("integer", "ten", "number"),
        ("number", "NaN", "number"),
        ("number", "1e20", "15 digits"),
        ("boolean", "maybe", "true or false"),
        ("date", "22.11.2026", "YYYY-MM-DD"),
        ("date", "2026-02-30", "YYYY-MM-DD"),
    ],
)
def test_values_their_type_refuses(type: str, written: Any, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        defined(type).read(written)


def test_a_text_is_held_to_its_length() -> None:
    with pytest.raises(ValueError, match="at most 3"):
        defined("text", max_length=3).read("abcd")


def test_typed_values_name_every_bad_field_and_keep_undefined_ones() -> None:
    definitions = {"seats": defined("integer"), "vip": defined("boolean")}
    assert typed_values(definitions, {"seats": "4", "legacy": "x"}) == {"seats": 4, "legacy": "x"}
    with pytest.raises(InvalidArgument) as error:
        typed_values(definitions, {"seats": "four", "vip": "perhaps", "legacy": "x"})
    assert [v.field for v in error.value.violations] == ["custom_fields.seats", "custom_fields.vip"]


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"entity": "leads"}, "entity"),
        ({"name": "Tier"}, "name"),
        ({"name": "a" * 51}, "name"),
        ({"type": "money"}, "type"),
        ({"type": "choice"}, "options"),
        ({"type": "text", "options": ["a"]}, "options"),
        ({"type": "integer", "max_length": 10}, "max_length"),
        ({"label": "x" * 201}, "label"),
    ],
)
def test_bad_definitions_are_refused(settings: dict[str, Any], field: str) -> None:
    wanted = {"entity": "contacts", "name": "tier", "label": "Tier", "type": "text", **settings}
    with pytest.raises(InvalidArgument) as error:
        CustomField.define(**wanted)
    assert field in [v.field for v in error.value.violations]


def test_a_change_keeps_name_and_type_and_counts_a_version() -> None:
    tier = defined("choice", options=["Gold"])
    changed = tier.change(label="Tier", options=["Gold", "Silver"])
    assert (changed.name, changed.type, changed.options, changed.version) == (
        "f", "choice", ("Gold", "Silver"), 2,
    )  # fmt: skip


def test_a_change_keeps_whether_the_field_is_required_unless_told() -> None:
    tier = defined("text", required=True)
    assert tier.change(label="Tier").required
    assert not tier.change(label="Tier", required=False).required


def test_a_complete_set_of_values_has_every_required_field() -> None:
    definitions = {
        "region": defined("text", required=True),
        "seats": defined("integer", required=True),
        "vip": defined("boolean", required=True),
        "note": defined("text"),
    }
    given = {"region": "EMEA", "seats": "3", "vip": False}
    assert typed_values(definitions, given, complete=True) == {
        "region": "EMEA", "seats": 3, "vip": False,
    }  # fmt: skip
    assert typed_values(definitions, {"seats": "3"}) == {"seats": 3}  # a part, not complete
    with pytest.raises(InvalidArgument) as error:
        typed_values(definitions, {"region": "  ", "seats": "three", "vip": None}, complete=True)
    assert [(v.field, v.description) for v in error.value.violations] == [
        ("custom_fields.seats", "must be a number"),  # said once, not also "is required"
        ("custom_fields.region", "is required"),
        ("custom_fields.vip", "is required"),
    ]


def test_required_fields_hold_new_records_and_writes_of_custom_fields() -> None:
    definitions = {"region": defined("text", required=True)}
    with pytest.raises(InvalidArgument, match=r"custom_fields\.region: is required"):
        with_typed_custom_values(definitions, {"first_name": "Ada"}, creating=True)
    with pytest.raises(InvalidArgument, match=r"custom_fields\.region: is required"):
        with_typed_custom_values(definitions, {"custom_fields": {}}, creating=False)
    # A record stored before the field was required stays editable in its other fields.
    assert with_typed_custom_values(definitions, {"title": "CTO"}, creating=False) == {
        "title": "CTO"
    }
    written = {"custom_fields": {"region": " APAC "}}
    assert with_typed_custom_values(definitions, written, creating=False) == {
        "custom_fields": {"region": "APAC"}
    }
