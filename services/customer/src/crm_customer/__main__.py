"""`crm-customer migrate | serve`."""

from pathlib import Path

from crm_customer.bootstrap import bootstrap
from crm_customer.config import CustomerSettings
from crm_platform.service import service_cli

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

app = service_cli(settings_factory=CustomerSettings, bootstrap=bootstrap, migrations_dir=MIGRATIONS)

if __name__ == "__main__":
    app()
