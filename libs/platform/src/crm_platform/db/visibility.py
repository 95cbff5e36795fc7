"""Record visibility applied inside queries (DESIGN §7): the gateway is not the only wall."""

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
