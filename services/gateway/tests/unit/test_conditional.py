"""ETags and conditional requests: If-Match for writes, If-None-Match for reads."""

import pytest

from crm_gateway.api.routes.common import etag, expected_version, not_modified
from crm_gateway.errors import PreconditionRequired
from crm_platform.errors import StaleVersion


def test_the_etag_is_the_quoted_version() -> None:
    assert etag(7) == '"7"'


def test_if_match_names_the_expected_version() -> None:
    assert expected_version('"3"') == 3
    assert expected_version(" 3 ") == 3  # unquoted, as a courtesy
    assert expected_version("*") is None


def test_a_missing_if_match_is_required() -> None:
    with pytest.raises(PreconditionRequired):
        expected_version(None)


@pytest.mark.parametrize(
    "value", ['"abc"', 'W/"3"', '"-1"', '"3", "4"', '"' + "9" * 30 + '"', '"³"']
)
def test_an_if_match_naming_no_version_fails_the_precondition(value: str) -> None:
    with pytest.raises(StaleVersion):
        expected_version(value)


def test_if_none_match_uses_weak_comparison() -> None:
    assert not_modified('"3"', 3)
    assert not_modified('W/"3"', 3)
    assert not_modified('"1", "3"', 3)
    assert not_modified("*", 3)
    assert not not_modified('"2"', 3)
    assert not not_modified(None, 3)
