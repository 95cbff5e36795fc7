"""OpenTelemetry tracing: OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set, and a JSON-lines
file for the local stack and e2e tests, which read one trace across services from it."""

import json
import os
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult


class JsonLinesSpanExporter(SpanExporter):
    """Appends one JSON line per span; each batch in one write, so several processes can
    share the file without their lines interleaving."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for span in spans:
            context = span.get_span_context()
            if context is None:
                continue
            parent = span.parent
            record = {
                "service": span.resource.attributes.get("service.name"),
                "name": span.name,
                "kind": span.kind.name,
                "trace_id": format(context.trace_id, "032x"),
                "span_id": format(context.span_id, "016x"),
                "parent_span_id": format(parent.span_id, "016x") if parent else None,
                "start_ns": span.start_time,
                "end_ns": span.end_time,
                "status": span.status.status_code.name,
            }
            lines.append(json.dumps(record) + "\n")
        if lines:
            os.write(self._fd, "".join(lines).encode())
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        os.close(self._fd)


def setup_tracing(*, service_name: str, spans_file: str | None) -> None:
    trace.set_tracer_provider(tracer_provider(service_name=service_name, spans_file=spans_file))


def tracer_provider(*, service_name: str, spans_file: str | None) -> TracerProvider:
    """Which traces are recorded is the SDK's standard setting, OTEL_TRACES_SAMPLER (and
    _ARG); unset, every one is. The Helm chart records a ratio of the traces begun at the
    gateway, and every service downstream follows the decision the traceparent carries
    (architecture.md, decision 43)."""
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if spans_file:
        # A short delay: e2e tests wait for the spans of a request to reach the file.
        exporter = JsonLinesSpanExporter(spans_file)
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=200))
    return provider


def shutdown_tracing() -> None:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()
