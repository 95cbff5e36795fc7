"""Cursors of the administration lists (users, teams, roles): what they decode to, and a
422 for anything a client made up rather than a query the database refuses."""

import base64

import pytest

from crm_gateway.api.routes.admin_common import decode_cursor, next_cursor
from crm_platform.errors import InvalidArgument


def test_a_cursor_gives_back_the_key_it_was_made_of() -> None:
    cursor = next_cursor(["admin", "analyst", "partner"], 2)
    assert cursor is not None
    assert decode_cursor(cursor) == "analyst"
    assert decode_cursor(None) is None


@pytest.mark.parametrize(
    "cursor",
    ["!!!", base64.urlsafe_b64encode(b"\x00").decode(), "e30=x", "/w", "Zm9v!"],
)
def test_a_made_up_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        decode_cursor(cursor)
    assert refused.value.violations[0].field == "query.cursor"
