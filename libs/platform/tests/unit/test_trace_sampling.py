"""The SDK's sampler settings decide which traces a service records: the Helm chart sets a
ratio, and a service downstream follows the decision its caller's traceparent carries."""

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from crm_platform.telemetry.traces import tracer_provider


def _remote_parent(*, sampled: bool) -> trace.Context:
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    parent = SpanContext(trace_id=0xABC, span_id=0xDEF, is_remote=True, trace_flags=flags)
    return trace.set_span_in_context(NonRecordingSpan(parent))


@pytest.fixture
def never_begins_a_trace(monkeypatch: pytest.MonkeyPatch) -> trace.Tracer:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0")
    return tracer_provider(service_name="test", spans_file=None).get_tracer("test")


def test_a_trace_begun_here_is_sampled_at_the_configured_ratio(
    never_begins_a_trace: trace.Tracer,
) -> None:
    span = never_begins_a_trace.start_span("request")
    assert not span.is_recording()
    assert span.get_span_context().trace_id != 0  # logs still carry a trace id


@pytest.mark.parametrize("sampled", [True, False])
def test_a_callers_decision_is_followed(never_begins_a_trace: trace.Tracer, sampled: bool) -> None:
    span = never_begins_a_trace.start_span("call", context=_remote_parent(sampled=sampled))
    assert span.is_recording() is sampled


def test_without_settings_every_trace_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    monkeypatch.delenv("OTEL_TRACES_SAMPLER_ARG", raising=False)
    tracer = tracer_provider(service_name="test", spans_file=None).get_tracer("test")
    assert tracer.start_span("request").is_recording()
