"""JSON request bodies: numbers JSON has not, and nesting past MAX_DEPTH, named by field."""

import json

from crm_gateway.api.json_body import MAX_DEPTH, first_flaw
from crm_platform.errors import FieldViolation


def test_a_body_of_finite_numbers_nested_up_to_the_limit_is_sound() -> None:
    deepest = json.loads("[" * MAX_DEPTH + "1.5" + "]" * MAX_DEPTH)
    assert first_flaw(deepest) is None
    assert first_flaw({"a": [1, 2.5, -1e308, True, None, "NaN"], "b": {}}) is None


def test_one_level_more_is_named_where_it_starts() -> None:
    deeper = json.loads('{"a": ' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}")
    assert first_flaw(deeper) == FieldViolation(
        "a" + ".0" * (MAX_DEPTH - 1), f"nests more than {MAX_DEPTH} levels deep"
    )


def test_the_first_number_json_has_not_is_named_by_its_path() -> None:
    body = json.loads('{"ok": 1, "rows": [{"x": 2}, {"x": NaN}], "later": Infinity}')
    assert first_flaw(body) == FieldViolation("rows.1.x", "must be a finite number")
    assert first_flaw(float("-inf")) == FieldViolation("body", "must be a finite number")
