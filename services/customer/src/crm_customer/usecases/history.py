"""A record's field history, newest first, for whoever may read the record."""

from crm_customer.domain.history import Change
from crm_customer.domain.records import INTERNAL_FIELDS, R
from crm_customer.domain.search import Cursor, Order
from crm_customer.usecases.pages import decode_page_token, encode_page_token, page_limit
from crm_customer.usecases.ports import UnitOfWork
from crm_customer.usecases.records import RecordKind, visible
from crm_platform.auth.principal import Principal

_NEWEST_FIRST = Order("changed_at", descending=True)


async def record_history(
    *,
    kind: RecordKind[R],
    uow: UnitOfWork,
    principal: Principal,
    record_id: str,
    page_size: int,
    page_token: str,
) -> tuple[list[Change], str]:
    """One page of the changes of a record the caller can see (NotFound otherwise), and the
    next page's token ("" at the end). Partners never see changes of internal fields."""
    limit = page_limit(page_size)
    after = decode_page_token(page_token, _NEWEST_FIRST) if page_token else None
    hidden = INTERNAL_FIELDS if principal.partner_id is not None else frozenset()
    async with uow:
        record = await visible(kind, kind.repo(uow), principal, record_id)
        # History rows name their record type as the permission object does.
        found = await uow.history.page(
            kind.obj, record.id, hidden=hidden, after=after, limit=limit + 1
        )
    if len(found) <= limit:
        return found, ""
    last = found[limit - 1]
    return found[:limit], encode_page_token(_NEWEST_FIRST, Cursor(last.changed_at, last.id))
