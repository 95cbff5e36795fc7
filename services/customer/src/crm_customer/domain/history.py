"""Field history as callers read it: who changed which field of a record, when, old -> new."""

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Change:
    id: uuid.UUID
    # A field's name, or what happened to the whole record: created, deleted, merged.
    field: str
    # JSON as stored (None when there was no value).
    old: Any
    new: Any
    actor_id: uuid.UUID
    changed_at: dt.datetime
