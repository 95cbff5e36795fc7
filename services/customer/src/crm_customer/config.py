"""Customer service settings, from CRM_CUSTOMER_* environment variables."""

from pydantic_settings import SettingsConfigDict

from crm_platform.settings import ServiceSettings


class CustomerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_CUSTOMER_", extra="ignore", frozen=True)

    service_name: str = "customer"
    grpc_port: int = 50061
    metrics_port: int = 9561
