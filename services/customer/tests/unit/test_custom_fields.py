"""Custom field definitions and the values they hold records to."""

import math
from typing import Any

import pytest

from crm.customer.v1 import customer_pb2 as pb
from crm_customer.api.segments import _conditions as segment_conditions
from crm_customer.api.servicers import filter_of
from crm_customer.domain.custom_fields import CustomField, typed_values, with_typed_custom_values
from crm_customer.domain.search import parse_filter
from crm_customer.proto_mapping import writable_values
from crm_platform.errors import InvalidArgument


def defined(type: str, **settings: Any) -> CustomField:
    return CustomField.define(entity="contacts", name="f", label="F", type=type, **settings)


@pytest.mark.parametrize(
    ("type", "written", "stored"),
    [
        ("text", "  gold ", "gold"),
        ("text", 12, "12"),
        ("text", 5.0, "5"),  # every number in a protobuf Struct is a double
        ("text", 1.5, "1.5"),
        ("text", True, "true"),
        ("text", False, "false"),
        ("integer", "12,345,678", 12345678),
        ("integer", "1,200.00", 1200),
        ("integer", "1e3", 1000),
        ("integer", 9007199254740991, 9007199254740991),
        ("integer", -9007199254740991.0, -9007199254740991),
        ("number", "1,200.50", 1200.5),
        ("number", "1 200", 1200),
        ("number", "-1,200", -1200),
        ("boolean", 1.0, True),
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
    assert defined("choice", options=["1", "2"]).read(1.0) == "1"  # a Struct's number
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
        ("number", "1,5", "groups of three"),
        ("number", "1.200,50", "groups of three"),
        ("number", "1,2,3", "groups of three"),
        ("number", "1,2000", "groups of three"),
        ("number", "1,200 300", "groups of three"),
        ("integer", "1,2", "groups of three"),
        ("integer", ",5", "groups of three"),
        ("integer", "1_000", "number"),
        ("integer", 9007199254740992, "between -9007199254740991 and 9007199254740991"),
        ("integer", 9007199254740992.0, "between"),
        ("integer", "9007199254740993", "between"),
        ("integer", -(2**63), "between"),
        ("integer", "1e999999999", "between"),  # not an overflow of the decimal context
        ("number", "-1e999999999", "15 digits"),
        ("number", float("nan"), "finite"),
        ("number", float("inf"), "finite"),
        ("text", "a\x00b", "NUL"),
        ("text", float("-inf"), "finite"),
        ("text", 12345678901234567890, "between"),
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
        ({"type": "choice", "options": ["gold", "Gold"]}, "options"),  # "gold" would be "Gold"
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


@pytest.mark.parametrize(
    ("written", "why"),
    [
        ("\x00", "must not contain NUL characters"),
        ("x\x00y", "must not contain NUL characters"),
        (float("nan"), "must be a finite number"),
        (float("inf"), "must be a finite number"),
        (float("-inf"), "must be a finite number"),
        (12345678901234567890, "must lie between -9007199254740991 and 9007199254740991"),
        (1.2345678901234567e19, "must lie between -9007199254740991 and 9007199254740991"),
        pytest.param(
            10**400, "must lie between -9007199254740991 and 9007199254740991", id="1e400"
        ),
        ({"x": 1}, "must be a single value"),
    ],
)
def test_a_free_form_value_must_be_stored_as_sent(written: Any, why: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        typed_values({}, {"a": written, "b": "fine"})
    assert [(v.field, v.description) for v in error.value.violations] == [("custom_fields.a", why)]


def test_free_form_values_json_brings_back_are_kept() -> None:
    kept = {"a": "text", "b": 9007199254740991, "c": -1.5, "d": False, "e": 0}
    assert typed_values({}, kept) == kept


def test_a_nan_sent_over_grpc_is_refused_by_name() -> None:
    message = pb.Contact(first_name="Ada")
    message.custom_fields.update({"a": float("nan"), "b": float("inf"), "c": {"d": 1}})
    values = writable_values(message, ["custom_fields"], ["custom_fields"])
    with pytest.raises(InvalidArgument) as error:
        with_typed_custom_values({}, values, creating=False)
    assert sorted(v.field for v in error.value.violations) == [
        "custom_fields.a", "custom_fields.b", "custom_fields.c",
    ]  # fmt: skip


def test_a_filter_on_a_value_that_cannot_be_stored_is_refused() -> None:
    for written in ("x\x00", float("nan")):
        with pytest.raises(InvalidArgument) as error:
            parse_filter(custom_fields={"a": written})
        assert [v.field for v in error.value.violations] == ["filter.custom_fields"]


def test_a_nan_in_a_list_or_segment_filter_reaches_the_domain_which_names_it() -> None:
    message = pb.RecordFilter()
    message.custom_fields.update({"a": float("nan")})
    with pytest.raises(InvalidArgument) as error:
        filter_of(message)
    assert [v.field for v in error.value.violations] == ["filter.custom_fields"]
    conditions = segment_conditions(message)  # MessageToDict raised a bare ValueError here
    assert math.isnan(conditions["custom_fields"]["a"])
