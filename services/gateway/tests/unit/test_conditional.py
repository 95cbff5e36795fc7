"""ETags and conditional requests: If-Match for writes, If-None-Match for reads."""

from dataclasses import dataclass

import pytest

from crm_gateway.api.routes.common import etag, expected_version, not_modified
from crm_gateway.errors import PreconditionRequired
from crm_gateway.preconditions import ANY_VERSION, ExpectedVersion
from crm_platform.errors import StaleVersion


def test_the_etag_is_the_quoted_version() -> None:
    assert etag(7) == '"7"'


def test_if_match_names_the_expected_version() -> None:
    assert expected_version(['"3"']) == ExpectedVersion(frozenset({3}))
    assert expected_version([" 3 "]) == ExpectedVersion(frozenset({3}))  # unquoted, a courtesy
    assert expected_version(["*"]) == ANY_VERSION


def test_if_match_lines_read_as_one_list() -> None:
    assert expected_version(['"9"', '"1"']) == ExpectedVersion(frozenset({1, 9}))
    assert expected_version(['"9"', "*"]) == ExpectedVersion(frozenset({9}))  # no lone `*`


@pytest.mark.parametrize(
    ("value", "versions"),
    [
        ('"3", "4"', {3, 4}),
        ('"3","4" , "9"', {3, 4, 9}),
        ('W/"4", "3"', {3}),  # strong comparison: the weak member never matches
        ('"abc", "3", ', {3}),  # nor does one that is no version of ours, nor an empty one
    ],
)
def test_an_if_match_list_names_every_version_in_it(value: str, versions: set[int]) -> None:
    expected = expected_version([value])
    assert expected == ExpectedVersion(frozenset(versions))
    for version in versions:
        expected.check(version, "account")
    with pytest.raises(StaleVersion):
        expected.check(max(versions) + 1, "account")


def test_a_missing_if_match_is_required() -> None:
    with pytest.raises(PreconditionRequired):
        expected_version(None)


@pytest.mark.parametrize(
    "value",
    ['"abc"', 'W/"3"', '"-1"', 'W/"3", W/"4"', "", ",", '"' + "9" * 30 + '"', '"³"', '"01"', "001"],
)
async def test_an_if_match_naming_no_version_fails_the_precondition(value: str) -> None:
    expected = expected_version([value])
    with pytest.raises(StaleVersion):
        expected.check(1, "account")
    reads = Reads(current=1)
    with pytest.raises(StaleVersion):  # once the record is read: a missing one is a 404
        await expected.one(reads)
    assert reads.count == 1


def test_if_none_match_uses_weak_comparison() -> None:
    assert not_modified('"3"', 3)
    assert not_modified('W/"3"', 3)
    assert not_modified('"1", "3"', 3)
    assert not_modified("*", 3)
    assert not not_modified('"2"', 3)
    assert not not_modified(None, 3)


@dataclass
class Record:
    version: int


class Reads:
    def __init__(self, current: int) -> None:
        self.current = current
        self.count = 0

    async def __call__(self) -> Record:
        self.count += 1
        return Record(self.current)


async def test_one_named_version_goes_to_the_service_unread() -> None:
    reads = Reads(current=5)
    assert await expected_version(['"3"']).one(reads) == 3  # the service answers it stale
    assert reads.count == 0


@pytest.mark.parametrize("value", ["*", '"4", "5"'])
async def test_any_or_a_list_sends_the_current_version_when_it_matches(value: str) -> None:
    reads = Reads(current=5)
    assert await expected_version([value]).one(reads) == 5
    assert reads.count == 1


async def test_a_list_without_the_current_version_fails_before_the_write() -> None:
    with pytest.raises(StaleVersion):
        await expected_version(['"3", "4"']).one(Reads(current=5))
