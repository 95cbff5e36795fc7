import base64
import datetime as dt
import json
import uuid
from typing import Any

import pytest

from crm_customer.domain.search import Cursor, Order
from crm_customer.usecases.pages import decode_page_token, encode_page_token
from crm_platform.errors import InvalidArgument

ID = "0190d3c5-4a56-7e4c-8a3b-5f8b1c2d3e4f"
BY_NAME = Order("name", descending=False)
NEWEST = Order()
BY_UPDATE = Order("updated_at", descending=False)
BY_CONTACT = Order("last_contacted_at", descending=False)
HISTORY = Order("changed_at", descending=True)
TIMELINE = Order("occurred_at", descending=True)


def token(order: str, value: Any, last_id: Any = ID) -> str:
    raw = json.dumps({"o": order, "v": value, "i": last_id}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def refused(text: str, order: Order) -> None:
    with pytest.raises(InvalidArgument) as raised:
        decode_page_token(text, order)
    assert [(v.field, v.description) for v in raised.value.violations] == [
        ("page_token", "is not a valid cursor")
    ]


def test_tokens_round_trip_for_every_order() -> None:
    at = dt.datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=dt.UTC)
    for order, value in (
        (BY_NAME, "zhang wei"),
        (NEWEST, None),
        (BY_UPDATE, at),
        (BY_CONTACT, at),
        (BY_CONTACT, None),
        (HISTORY, at),
        (TIMELINE, at),
    ):
        cursor = Cursor(value, uuid.uuid4())
        assert decode_page_token(encode_page_token(order, cursor), order) == cursor


def test_a_time_in_another_offset_is_read_in_utc() -> None:
    cursor = decode_page_token(token("updated_at", "2026-01-02T03:00:00+02:00"), BY_UPDATE)
    assert cursor.value == dt.datetime(2026, 1, 2, 1, tzinfo=dt.UTC)
    assert cursor.value.tzinfo == dt.UTC


@pytest.mark.parametrize("last_id", [5, 1.5, True, None, [ID], {"hex": ID}, "nope", ""])
def test_the_id_must_be_a_uuid_string(last_id: Any) -> None:
    refused(token("name", "acme", last_id), BY_NAME)


@pytest.mark.parametrize("value", ["a\u0000b", "\ud800", "x\udfff", 5, True, [], {}, None])
def test_a_name_must_be_storable_text(value: Any) -> None:
    refused(token("name", value), BY_NAME)


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "9999-06-01T00:00:00+00:00",
        "2026-01-02T03:04:05",  # no offset
        "2026-01-02",
        "yesterday",
        "a\u0000",
        "\ud800",
        1767322800,
        True,
        [],
        {},
    ],
)
def test_a_time_must_be_an_aware_time_in_range(value: Any) -> None:
    for name, order in (
        ("updated_at", BY_UPDATE),
        ("last_contacted_at", BY_CONTACT),
        ("-changed_at", HISTORY),
        ("-occurred_at", TIMELINE),
    ):
        refused(token(name, value), order)


def test_null_only_where_the_sort_column_may_be_null() -> None:
    assert decode_page_token(token("last_contacted_at", None), BY_CONTACT).value is None
    for name, order in (
        ("updated_at", BY_UPDATE),
        ("-changed_at", HISTORY),
        ("-occurred_at", TIMELINE),
    ):
        refused(token(name, None), order)


def test_creation_order_holds_no_sort_value() -> None:
    refused(token("-created_at", "2026-01-02T03:04:05+00:00"), NEWEST)


@pytest.mark.parametrize(
    "raw",
    [b"[]", b"5", b'"o"', b"null", b"[" * 100_000, b"\xff\xfe", b'{"o":"name","v":"a"}'],
)
def test_anything_but_a_token_object_is_refused(raw: bytes) -> None:
    refused(base64.urlsafe_b64encode(raw).decode(), BY_NAME)
