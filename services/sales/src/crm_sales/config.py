"""Sales service settings, from CRM_SALES_* environment variables."""

from pydantic_settings import SettingsConfigDict

from crm_platform.settings import ServiceSettings


class SalesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_SALES_", extra="ignore", frozen=True)

    service_name: str = "sales"
    grpc_port: int = 50062
    metrics_port: int = 9562
