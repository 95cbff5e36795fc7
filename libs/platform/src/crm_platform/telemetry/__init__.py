"""Traces, metrics and logs; `setup_telemetry` is the one call a service makes."""

from crm_platform.telemetry.logs import setup_logging
from crm_platform.telemetry.traces import setup_tracing


def setup_telemetry(*, service_name: str, log_level: str, spans_file: str | None) -> None:
    setup_logging(service_name=service_name, level=log_level)
    setup_tracing(service_name=service_name, spans_file=spans_file)


__all__ = ["setup_telemetry"]
