"""Record visibility applied inside queries (DESIGN §7): the gateway is not the only wall."""

from collections.abc import Mapping

from sqlalchemy import ColumnElement, Table, false, or_, true

from crm_platform.auth.principal import Principal, Scope


def visible_rows(table: Table, principal: Principal, scope: Scope) -> ColumnElement[bool]:
    """A WHERE clause limiting `table` (with owner_id, team_id, and for partner scope
    partner_id columns) to the rows `principal` may reach with `scope`."""
    if scope is Scope.ALL:
        return true()
    if scope is Scope.PARTNER:
        if principal.partner_id is None or "partner_id" not in table.c:
            return false()
        return table.c.partner_id == principal.partner_id
    own = table.c.owner_id == principal.subject_id
    if scope is Scope.OWN or not principal.team_ids:
        return own
    return or_(own, table.c.team_id.in_(principal.team_ids))


def visible_by_entity(
    table: Table, principal: Principal, scopes: Mapping[str, Scope]
) -> ColumnElement[bool]:
    """For rows about records of one kind each (an `entity` column: segments, imports): a
    row is seen by whoever may read that kind, within their reach (`scopes`: entity ->
    read scope, kinds the principal may not read left out)."""
    by_entity = [
        (table.c.entity == entity) & visible_rows(table, principal, scope)
        for entity, scope in scopes.items()
    ]
    return or_(*by_entity) if by_entity else false()
