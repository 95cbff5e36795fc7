"""Customer service settings, from CRM_CUSTOMER_* environment variables."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from crm_platform.settings import ServiceSettings


class CustomerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_CUSTOMER_", extra="ignore", frozen=True)

    service_name: str = "customer"
    grpc_port: int = 50061
    metrics_port: int = 9561

    # Imports (POST /api/v1/imports): uploads above this size or row count are refused.
    import_max_bytes: int = Field(default=1 << 30, ge=1024)
    import_max_rows: int = Field(default=5_000_000, ge=1)
    # Rows written per transaction: a restart resumes after the last one committed.
    import_batch_rows: int = Field(default=2_000, ge=1, le=50_000)
    # A job whose worker stopped renewing this long is taken over by another worker.
    import_lease_seconds: float = Field(default=10.0, gt=0)
    # Processes that run imports beside the service's own, each one job at a time: an
    # import's parsing and row building then has a core of its own instead of sharing
    # the service's with its RPCs, relay and consumers. 0 runs one in the service (tests).
    import_processes: int = Field(default=1, ge=0, le=16)
    # Where a running import's file is kept while it is read; the system's default if unset.
    import_spool_dir: str | None = None
    # An import that wrote this many records or more has its table vacuumed and analyzed
    # when it has succeeded (architecture decision 44).
    import_vacuum_after_rows: int = Field(default=10_000, ge=1)

    # Loyalty points expire on time (usecases/loyalty_sweep.py): how often the sweep looks
    # for due points, and how far back (older ones expire when their ledger is next used).
    loyalty_sweep_seconds: float = Field(default=60.0, gt=0)
    loyalty_sweep_lookback_days: int = Field(default=30, ge=1)

    # The services whose events feed the 360° timeline (their streams may come later).
    timeline_sources: tuple[str, ...] = ("sales", "marketing", "service-desk", "erp-bridge")
