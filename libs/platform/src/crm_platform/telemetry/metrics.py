"""Prometheus RED metrics shared by every gRPC service and the gateway (standard naming)."""

from prometheus_client import Counter, Histogram

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
