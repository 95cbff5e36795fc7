"""Prometheus RED metrics shared by every gRPC service and the gateway (standard naming)."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

# prometheus_client's switch to its multiprocess mode, read when a process imports it.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def shared_metrics(processes: int) -> Iterator[None]:
    """Worker processes started inside share their metrics through files, so a scrape that
    reaches any one of them reports the sum of all (prometheus_client's multiprocess mode)."""
    if processes == 1:
        yield
        return
    directory = tempfile.mkdtemp(prefix="crm-metrics-")
    os.environ[MULTIPROCESS_DIR] = directory
    try:
        yield
    finally:
        del os.environ[MULTIPROCESS_DIR]
        shutil.rmtree(directory, ignore_errors=True)


def exposition(*process_collectors: Collector) -> bytes:
    """The metrics scrape; `process_collectors` (read at scrape time) report this process
    alone when several share the metrics."""
    if MULTIPROCESS_DIR not in os.environ:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    for collector in process_collectors:
        registry.register(collector)
    return generate_latest(registry)


LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

GRPC_SERVER_HANDLED = Counter(
    "crm_grpc_server_handled_total",
    "RPCs completed on the server, by method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
GRPC_SERVER_LATENCY = Histogram(
    "crm_grpc_server_handling_seconds",
    "Server-side RPC latency.",
    ["grpc_service", "grpc_method"],
    buckets=LATENCY_BUCKETS,
)
HTTP_REQUESTS = Counter(
    "crm_http_requests_total",
    "HTTP requests completed, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "crm_http_request_duration_seconds",
    "HTTP request latency by route template.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
