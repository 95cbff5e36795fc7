"""The 360° timeline: what every service published about an account, newest first. Whoever
may see the account sees its timeline; partners never see internal kinds nor fields."""

from collections.abc import Iterable, Sequence
from dataclasses import replace

from crm_customer.domain.search import Cursor, Order
from crm_customer.domain.timeline import INTERNAL_KINDS, TimelineEntry, check_kinds
from crm_customer.usecases.accounts import ACCOUNTS
from crm_customer.usecases.pages import decode_page_token, encode_page_token, page_limit
from crm_customer.usecases.ports import TimelineStore, UnitOfWork
from crm_customer.usecases.records import visible
from crm_platform.auth.principal import Principal

ORDER = Order("occurred_at", descending=True)


async def record_entries(
    *, store: TimelineStore, entries: Sequence[TimelineEntry], new: bool = False
) -> None:
    """Called in the consumer's inbox transaction: a redelivered event adds nothing (`new`:
    of events being published in this transaction). An event naming an account merged away
    (published before its service heard of the merge) goes on the timeline of the account
    it was merged into."""
    if not entries:
        return
    survivors = await store.survivors([entry.account_id for entry in entries])
    moved = [
        entry
        if (survivor := survivors.get(entry.account_id)) is None
        else replace(entry, account_id=survivor)
        for entry in entries
    ]
    await store.add(list({(e.id, e.account_id): e for e in moved}.values()), new=new)


async def list_timeline(
    *,
    uow: UnitOfWork,
    principal: Principal,
    account_id: str,
    page_size: int,
    page_token: str,
    kinds: Iterable[str] = (),
) -> tuple[list[TimelineEntry], str]:
    """One page of the account's timeline and the next page's token ("" at the end)."""
    wanted = check_kinds(kinds)
    limit = page_limit(page_size)
    after = decode_page_token(page_token, ORDER) if page_token else None
    partner = principal.partner_id is not None
    async with uow:
        account = await visible(ACCOUNTS, ACCOUNTS.repo(uow), principal, account_id)
        found = await uow.timeline.page(
            account.id,
            kinds=wanted,
            hidden_kinds=INTERNAL_KINDS if partner else frozenset(),
            after=after,
            limit=limit + 1,
        )
    entries = [entry.seen_by_partner() if partner else entry for entry in found[:limit]]
    if len(found) <= limit:
        return entries, ""
    last = entries[-1]
    return entries, encode_page_token(ORDER, Cursor(last.occurred_at, last.id))
