import datetime as dt
import uuid

from crm_sales.domain.account_projection import ProjectedAccount


def snapshot(version: int) -> ProjectedAccount:
    return ProjectedAccount(
        id=uuid.UUID(int=1),
        name=f"v{version}",
        owner_id=uuid.UUID(int=2),
        team_id=None,
        partner_id=None,
        source_version=version,
        synced_at=dt.datetime.now(dt.UTC),
    )


def test_only_a_newer_version_supersedes() -> None:
    assert snapshot(1).supersedes(None)
    assert snapshot(2).supersedes(snapshot(1))
    assert not snapshot(2).supersedes(snapshot(2))
    assert not snapshot(1).supersedes(snapshot(3))
