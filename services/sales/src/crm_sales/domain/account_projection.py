"""The sales service's copy of a customer account: only what opportunities need."""

import datetime as dt
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class ProjectedAccount:
    id: uuid.UUID
    name: str
    owner_id: uuid.UUID
    team_id: uuid.UUID | None
    partner_id: uuid.UUID | None
    # The customer service's version; events may arrive out of order or twice.
    source_version: int
    synced_at: dt.datetime
    # Kept, not removed: a deleted account's last version still orders late events.
    deleted: bool = False

    def supersedes(self, stored: "ProjectedAccount | None") -> bool:
        return stored is None or self.source_version > stored.source_version
