"""`crm-sales migrate | serve`."""

from pathlib import Path

from crm_platform.service import service_cli
from crm_sales.bootstrap import bootstrap
from crm_sales.config import SalesSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

app = service_cli(settings_factory=SalesSettings, bootstrap=bootstrap, migrations_dir=MIGRATIONS)

if __name__ == "__main__":
    app()
