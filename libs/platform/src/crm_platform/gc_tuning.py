"""Python's cycle collector tuned for processes that build and drop many objects a second
while holding a large working set: every service process, the gateway's workers and the
import workers (thousands of rows, records and event payloads per batch in flight).

With the default thresholds (a young-generation collection every 700 allocations) the
collector walked the batch in flight over and over, and the objects every process holds
from its start (modules, SQLAlchemy's metadata, protobuf descriptors) at each full
collection: a third of an import worker's CPU, a sixth of the customer service's while it
published an import's events. Nearly all garbage has no cycles and is freed by reference
counting the moment it is dropped, so collecting less often costs little memory."""

import gc

# Allocations (less deallocations) of tracked objects between two young collections.
YOUNG_COLLECTION_AFTER = 100_000


def collect_less() -> None:
    """Call once the process is set up: what it holds by then is never collected (it
    lives as long as the process), and young collections come far less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_AFTER, middle, old)
