"""The Helm chart (deploy/helm/crm) lints, renders and validates offline (DESIGN §10).

Rendering goes through the Helm SDK (helm-python-sdk); manifests are checked against the
Kubernetes API schemas (kubernetes-validate). No cluster and no network are involved.
"""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from prometheus_client import REGISTRY
from pydantic_settings import BaseSettings

from crm_customer.config import CustomerSettings
from crm_gateway.config import GatewaySettings

# Imported for their effect: they register the suite's metrics in the default registry.
from crm_platform.db import pool_metrics  # noqa: F401
from crm_platform.devstack.info import StackInfo
from crm_platform.devstack.services import service_environment
from crm_platform.devstack.stack import SERVICES, STATE_DIR_ENV, ServiceSpec, StackConfig
from crm_platform.events import metrics as event_metrics  # noqa: F401
from crm_platform.telemetry import metrics as red_metrics  # noqa: F401
from crm_sales.config import SalesSettings

CHART_DIR = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "crm"
RELEASE = "demo"
NAMESPACE = "crm"
FULLNAME = f"{RELEASE}-crm"
# The oldest version the chart supports (preStop `sleep`) and the newest schemas known.
OLDEST_KUBERNETES = "1.30"
KUBERNETES_VERSIONS = [OLDEST_KUBERNETES, kubernetes_validate.latest_version()]
# Their CRDs (Prometheus Operator) are not in kubernetes-validate's schemas.
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule"}

Manifest = dict[str, Any]

# Distinct from each other and from anything else the chart renders, so a leak is findable.
SECRET_VALUES = {
    "principalSecret": "principal-9f3c1e7a5b2d4c6e8a0b1c2d3e4f5a6b",
    "jwtSecret": "jwt-token-key-4b7d9e1f3a5c7e9b1d3f5a7c9e1b3d5f",
}
DATABASE_PASSWORDS = {name: f"db-pass-{name}-71c2" for name in ("customer", "sales", "gateway")}
DATABASE_URLS = {
    name: f"postgresql+asyncpg://crm_{name}:{password}@db.internal:5432/crm_{name}"
    for name, password in DATABASE_PASSWORDS.items()
}
ADMIN = {"email": "admin@example.test", "password": "admin-pass-5e8a2c4b6d"}


def chart_made_secrets() -> dict[str, Any]:
    return {
        "secrets": {
            "create": True,
            **SECRET_VALUES,
            "databaseUrls": DATABASE_URLS,
            "bootstrapAdmin": ADMIN,
        }
    }


def everything_on() -> dict[str, Any]:
    return {
        **chart_made_secrets(),
        "metrics": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}},
        "otlp": {"endpoint": "http://otel-collector.observability:4317"},
    }


def bundled_backends() -> dict[str, Any]:
    return {
        "secrets": {
            "create": True,
            **SECRET_VALUES,
            "databasePasswords": {
                name: f"role-pass-{name}-it's-@:/ok" for name in ("customer", "sales", "gateway")
            },
        },
        "nats": {"enabled": True},
        "postgresql": {"enabled": True},
    }


@pytest.fixture(scope="session")
def chart() -> Iterator[helm.Chart]:
    with helm.Chart.load(CHART_DIR) as loaded:
        yield loaded


def render(chart: helm.Chart, values: dict[str, Any] | None = None) -> list[Manifest]:
    """Every object the chart renders for `values` (an install of release `demo`)."""
    files = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    manifests: list[Manifest] = []
    for path, text in sorted(files.items()):
        if path.endswith("NOTES.txt"):
            continue
        manifests.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return manifests


def find(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    matches = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def pod_specs(manifests: list[Manifest]) -> list[tuple[str, Manifest]]:
    return [
        (m["metadata"]["name"], m["spec"]["template"]["spec"])
        for m in manifests
        if m["kind"] in {"Deployment", "Job"}
    ]


def local_stack_info(config: StackConfig) -> StackInfo:
    """What the local launcher knows once its servers run (values do not matter here)."""
    return StackInfo(
        gateway_url="http://127.0.0.1:8080",
        admin_email=ADMIN["email"],
        admin_password=ADMIN["password"],
        state_dir=config.state_dir,
        grpc_targets={s.name: str(s.grpc_target) for s in config.grpc_services},
        metrics_urls={},
        database_urls=DATABASE_URLS,
        principal_secret=SECRET_VALUES["principalSecret"],
        jwt_secret=SECRET_VALUES["jwtSecret"],
        postgres_port=config.postgres_port,
        postgres_url="postgresql://127.0.0.1",
        nats_url="nats://127.0.0.1:4222",
        traces_dir=config.traces_dir,
        logs_dir=config.logs_dir,
    )


def services_of(chart: helm.Chart) -> dict[str, Any]:
    services: dict[str, Any] = chart.values["services"]
    return services


# --- lint and validity ----------------------------------------------------------------

# The optional NATS and PostgreSQL charts are declared but not vendored (nothing is
# downloaded at test time): that one finding is expected.
MISSING_DEPENDENCIES = "chart directory is missing these dependencies: nats,postgresql"


@pytest.mark.parametrize("values", [None, everything_on()], ids=["defaults", "everything-on"])
def test_helm_lint_finds_nothing_but_the_unvendored_dependencies(
    values: dict[str, Any] | None,
) -> None:
    report = helm.lint(CHART_DIR, values, strict=True, kube_version=f"v{OLDEST_KUBERNETES}.0")

    findings = [m["error"] for m in report["messages"] if m["severity"] >= 2]
    assert findings == [MISSING_DEPENDENCIES]
    assert report["errors"] == [MISSING_DEPENDENCIES]


@pytest.mark.parametrize(
    "values",
    [None, everything_on(), bundled_backends()],
    ids=["defaults", "everything-on", "bundled-backends"],
)
@pytest.mark.parametrize("kubernetes", KUBERNETES_VERSIONS)
def test_every_rendered_manifest_validates(
    chart: helm.Chart, values: dict[str, Any] | None, kubernetes: str
) -> None:
    manifests = render(chart, values)

    assert manifests
    for manifest in manifests:
        if manifest["kind"] in CUSTOM_KINDS:
            assert_custom_resource_shape(manifest)
        else:
            kubernetes_validate.validate(manifest, kubernetes, strict=True)


def assert_custom_resource_shape(manifest: Manifest) -> None:
    """Their CRDs are not in kubernetes-validate: check what the operator relies on."""
    assert manifest["apiVersion"] == "monitoring.coreos.com/v1"
    assert manifest["metadata"]["name"]
    if manifest["kind"] == "ServiceMonitor":
        assert manifest["spec"]["selector"]["matchLabels"]
        for endpoint in manifest["spec"]["endpoints"]:
            assert endpoint["port"] in {"metrics", "http"}
            assert endpoint["path"] == "/metrics"
    else:
        for group in manifest["spec"]["groups"]:
            assert group["name"]
            for rule in group["rules"]:
                assert rule["alert"]
                assert rule["expr"].strip()
                assert rule["labels"]["severity"] in {"warning", "critical"}


# --- one template set for every service ------------------------------------------------


def test_every_service_gets_its_objects(chart: helm.Chart) -> None:
    manifests = render(chart, {"metrics": {"serviceMonitor": {"enabled": True}}})

    for name in services_of(chart):
        component = f"{FULLNAME}-{name}"
        for kind in (
            "Deployment",
            "Service",
            "ServiceAccount",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "NetworkPolicy",
            "ServiceMonitor",
        ):
            find(manifests, kind, component)
        job = find(manifests, "Job", f"{component}-migrate")
        assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
        container = job["spec"]["template"]["spec"]["containers"][0]
        assert [*container["command"], *container["args"]] == [f"crm-{name}", "migrate"]


def test_a_service_added_to_values_gets_the_same_objects(chart: helm.Chart) -> None:
    marketing = {**services_of(chart)["sales"], "image": {"repository": "crm-marketing"}}
    marketing["ports"] = {"grpc": 50063, "metrics": 9563}
    manifests = render(chart, {"services": {"marketing": marketing}})

    component = f"{FULLNAME}-marketing"
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "NetworkPolicy"):
        find(manifests, kind, component)
    container = find(manifests, "Deployment", component)["spec"]["template"]["spec"]["containers"][
        0
    ]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CRM_MARKETING_GRPC_PORT"] == "50063"
    assert container["readinessProbe"] == {
        "grpc": {"port": 50063},
        "periodSeconds": 5,
        "timeoutSeconds": 2,
        "failureThreshold": 2,
    }


def test_a_disabled_service_renders_nothing(chart: helm.Chart) -> None:
    manifests = render(
        chart,
        {"services": {"sales": {"enabled": False}, "gateway": {"calls": ["customer"]}}},
    )

    names = {m["metadata"]["name"] for m in manifests}
    assert f"{FULLNAME}-customer" in names
    assert not any(name.startswith(f"{FULLNAME}-sales") for name in names)


@pytest.mark.parametrize(
    "services",
    [
        {"gateway": {"calls": ["customer", "billing"]}},
        {"sales": {"enabled": False}},  # the gateway still calls it
        {"customer": {"calls": ["gateway"]}},  # not a gRPC service
    ],
    ids=["unknown", "disabled", "http"],
)
def test_calling_what_is_no_grpc_service_is_refused(
    chart: helm.Chart, services: dict[str, Any]
) -> None:
    with pytest.raises(helm.HelmRenderError, match="is not an enabled gRPC service"):
        render(chart, {"services": services})


# --- what the containers get -----------------------------------------------------------


def container_of(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    container: Manifest = find(manifests, kind, name)["spec"]["template"]["spec"]["containers"][0]
    return container


def env_names(container: Manifest) -> set[str]:
    return {e["name"] for e in container["env"]}


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_each_service_gets_the_variables_the_local_stack_gives_it(
    chart: helm.Chart, spec: ServiceSpec, tmp_path: Path
) -> None:
    config = StackConfig.from_env({STATE_DIR_ENV: str(tmp_path)})
    local = service_environment(config, spec, local_stack_info(config))
    container = container_of(render(chart), "Deployment", f"{FULLNAME}-{spec.name}")

    # Spans go to OTLP in Kubernetes; the image sets PYTHONUNBUFFERED.
    local_only = {f"{spec.env_prefix}OTEL_SPANS_FILE", "PYTHONUNBUFFERED"}
    assert set(local) - local_only <= env_names(container)


@pytest.mark.parametrize(
    ("name", "settings_class"),
    [("customer", CustomerSettings), ("sales", SalesSettings), ("gateway", GatewaySettings)],
)
def test_every_variable_is_a_setting_of_its_service(
    chart: helm.Chart, name: str, settings_class: type[BaseSettings]
) -> None:
    prefix = f"CRM_{name.upper()}_"
    container = container_of(render(chart, everything_on()), "Deployment", f"{FULLNAME}-{name}")

    for variable in env_names(container):
        if variable.startswith(prefix):
            assert variable.removeprefix(prefix).lower() in settings_class.model_fields
        else:
            assert variable in {
                "CRM_BOOTSTRAP_ADMIN_EMAIL",
                "CRM_BOOTSTRAP_ADMIN_PASSWORD",
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "OTEL_TRACES_SAMPLER",
                "OTEL_TRACES_SAMPLER_ARG",
            }


@pytest.mark.parametrize(("values", "ratio"), [({}, "0.1"), ({"traceSampleRatio": 1}, "1")])
def test_every_service_traces_the_share_of_requests_the_values_give(
    chart: helm.Chart, values: dict[str, Any], ratio: str
) -> None:
    manifests = render(chart, {"otlp": values})
    for spec in SERVICES:
        container = container_of(manifests, "Deployment", f"{FULLNAME}-{spec.name}")
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
        assert env["OTEL_TRACES_SAMPLER_ARG"] == ratio


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_ports_and_probes_match_the_service(chart: helm.Chart, spec: ServiceSpec) -> None:
    manifests = render(chart)
    component = f"{FULLNAME}-{spec.name}"
    container = container_of(manifests, "Deployment", component)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    service_ports = {
        p["name"]: p["port"] for p in find(manifests, "Service", component)["spec"]["ports"]
    }

    if spec.http_port is None:
        assert ports == service_ports == {"grpc": spec.grpc_port, "metrics": spec.metrics_port}
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert container[probe]["grpc"] == {"port": spec.grpc_port}
    else:
        assert ports == service_ports == {"http": spec.http_port}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}


def test_the_gateway_runs_one_worker_per_pod_and_finds_its_backends(chart: helm.Chart) -> None:
    container = container_of(render(chart), "Deployment", f"{FULLNAME}-gateway")
    env = {e["name"]: e.get("value") for e in container["env"]}

    assert env["CRM_GATEWAY_WORKERS"] == "1"
    assert env["CRM_GATEWAY_CUSTOMER_TARGET"] == f"{FULLNAME}-customer:50061"
    assert env["CRM_GATEWAY_SALES_TARGET"] == f"{FULLNAME}-sales:50062"


def test_every_pod_runs_locked_down(chart: helm.Chart) -> None:
    specs = pod_specs(render(chart))

    assert len(specs) == 2 * len(SERVICES)  # a Deployment and a migration Job each
    for name, spec in specs:
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert container["resources"]["requests"], name


def test_secrets_reach_pods_only_through_secret_references(chart: helm.Chart) -> None:
    for name, spec in pod_specs(render(chart, everything_on())):
        for variable in spec["containers"][0]["env"]:
            if variable["name"].endswith(("_SECRET", "_DATABASE_URL", "_PASSWORD")):
                assert "value" not in variable, (name, variable["name"])
                assert variable["valueFrom"]["secretKeyRef"]["name"] == f"{FULLNAME}-secrets"


# --- network policies ------------------------------------------------------------------


def ingress_ports_by_peer(policy: Manifest) -> list[tuple[str, list[Manifest]]]:
    return [
        (port["port"], rule["from"]) for rule in policy["spec"]["ingress"] for port in rule["ports"]
    ]


def component_peer(name: str) -> Manifest:
    return {
        "podSelector": {
            "matchLabels": {
                "app.kubernetes.io/name": "crm",
                "app.kubernetes.io/instance": RELEASE,
                "app.kubernetes.io/component": name,
            }
        }
    }


def test_grpc_services_admit_only_their_callers_and_prometheus(chart: helm.Chart) -> None:
    manifests = render(chart)
    prometheus = chart.values["networkPolicy"]["metricsFrom"]

    for name in ("customer", "sales"):
        policy = find(manifests, "NetworkPolicy", f"{FULLNAME}-{name}")
        assert ingress_ports_by_peer(policy) == [
            ("grpc", [component_peer("gateway")]),
            ("metrics", prometheus),
        ]


def test_the_gateway_admits_the_ingress_controller_and_reaches_its_backends(
    chart: helm.Chart,
) -> None:
    policy = find(render(chart), "NetworkPolicy", f"{FULLNAME}-gateway")

    assert ingress_ports_by_peer(policy) == [
        ("http", chart.values["networkPolicy"]["ingressFrom"]),
        ("http", chart.values["networkPolicy"]["metricsFrom"]),
    ]
    egress = policy["spec"]["egress"]
    assert {
        "to": [component_peer("customer")],
        "ports": [{"port": 50061, "protocol": "TCP"}],
    } in egress
    assert {
        "to": [component_peer("sales")],
        "ports": [{"port": 50062, "protocol": "TCP"}],
    } in egress


@pytest.mark.parametrize("bundled", [False, True], ids=["external", "bundled"])
def test_every_service_reaches_postgresql_and_nats(chart: helm.Chart, bundled: bool) -> None:
    manifests = render(chart, bundled_backends() if bundled else None)

    for name in services_of(chart):
        egress = find(manifests, "NetworkPolicy", f"{FULLNAME}-{name}")["spec"]["egress"]
        by_port = {rule["ports"][0]["port"]: rule for rule in egress}
        for port, app in ((5432, "postgresql"), (4222, "nats")):
            if bundled:
                selector = by_port[port]["to"][0]["podSelector"]["matchLabels"]
                assert selector == {
                    "app.kubernetes.io/name": app,
                    "app.kubernetes.io/instance": RELEASE,
                }
            else:
                assert "to" not in by_port[port]  # narrowed by networkPolicy.<backend>.to


# --- values.schema.json ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"services": {"customer": {"replicas": -1}}}, "/services/customer/replicas"),
        ({"services": {"sales": {"image": {"repository": None}}}}, "repository"),
        (
            {"services": {"sales": {"image": {"repository": ""}}}},
            "/services/sales/image/repository",
        ),
        ({"services": {"gateway": {"ports": {"http": 70000}}}}, "/services/gateway/ports/http"),
        ({"services": {"customer": {"ports": {"grpc": None}}}}, "grpc"),
        ({"services": {"customer": {"protocol": "soap"}}}, "/services/customer/protocol"),
        ({"services": {"customer": {"autoscaling": {"maxReplicas": 0}}}}, "maxReplicas"),
        ({"services": {"customer": {"env": {"DATABASE_URL": "x"}}}}, "DATABASE_URL"),
        ({"services": {"customer": {"replicaCount": 2}}}, "replicaCount"),
        ({"securityContext": {"readOnlyRootFilesystem": False}}, "readOnlyRootFilesystem"),
        ({"podSecurityContext": {"runAsNonRoot": False}}, "runAsNonRoot"),
        ({"secrets": {"create": True, "principalSecret": "short"}}, "principalSecret"),
        ({"externalNats": {"url": "http://nats:4222"}}, "/externalNats/url"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
        ({"otlp": {"traceSampleRatio": 1.5}}, "/otlp/traceSampleRatio"),
    ],
)
def test_bad_values_are_refused_by_the_schema(
    chart: helm.Chart, values: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(helm.HelmValuesError, match=re.escape(complaint)):
        render(chart, values)


# --- secrets, dashboards, alerts -------------------------------------------------------


PLANTED_SECRETS = [*SECRET_VALUES.values(), *DATABASE_PASSWORDS.values(), ADMIN["password"]]


def test_secret_values_land_in_the_secret_and_nowhere_else(chart: helm.Chart) -> None:
    manifests = render(chart, everything_on())

    secret = json.dumps(find(manifests, "Secret", f"{FULLNAME}-secrets")["stringData"])
    assert all(planted in secret for planted in PLANTED_SECRETS)
    others = [m for m in manifests if m["kind"] != "Secret"]
    assert any(m["kind"] == "ConfigMap" for m in others)
    for manifest in others:
        text = json.dumps(manifest)
        for planted in PLANTED_SECRETS:
            assert planted not in text, (manifest["kind"], manifest["metadata"]["name"])


def test_bundled_postgresql_gets_a_role_and_database_per_service(chart: helm.Chart) -> None:
    manifests = render(chart, bundled_backends())

    init = find(manifests, "Secret", f"{RELEASE}-crm-postgresql-initdb")["stringData"]
    script = init["crm-databases.sql"]
    urls = find(manifests, "Secret", f"{FULLNAME}-secrets")["stringData"]
    for name in services_of(chart):
        # The quote is doubled for SQL; the URL escapes what would end the userinfo.
        assert f"CREATE ROLE crm_{name} LOGIN PASSWORD 'role-pass-{name}-it''s-@:/ok';" in script
        assert f"CREATE DATABASE crm_{name} OWNER crm_{name};" in script
        assert urls[f"{name}-database-url"] == (
            f"postgresql+asyncpg://crm_{name}:role-pass-{name}-it%27s-%40%3A%2Fok"
            f"@{RELEASE}-postgresql:5432/crm_{name}"
        )
        job = find(manifests, "Job", f"{FULLNAME}-{name}-migrate")
        # The bundled server starts with the release: the first install migrates after it.
        assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"
    sales = container_of(manifests, "Deployment", f"{FULLNAME}-sales")
    env = {e["name"]: e.get("value") for e in sales["env"]}
    assert env["CRM_SALES_NATS_URL"] == f"nats://{RELEASE}-nats:4222"


def exported_metric_names() -> set[str]:
    """Every sample name the suite's processes can expose (prometheus_client families)."""
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.update(family.name + s for s in suffixes.get(family.type, [""]))
    return names


def metric_names_in(text: str) -> set[str]:
    return set(re.findall(r"\b(crm_[a-z_]+)\b", text))


def test_dashboards_and_alerts_use_the_metrics_the_services_export(chart: helm.Chart) -> None:
    manifests = render(chart, everything_on())
    dashboards = find(manifests, "ConfigMap", f"{FULLNAME}-dashboards")["data"]
    rules = find(manifests, "PrometheusRule", FULLNAME)
    dashboard_text = "".join(json.dumps(json.loads(d)) for d in dashboards.values())
    used = metric_names_in(dashboard_text) | metric_names_in(json.dumps(rules))

    assert used <= exported_metric_names()
    for needed in (
        "crm_http_requests_total",
        "crm_http_request_duration_seconds_bucket",
        "crm_grpc_server_handled_total",
        "crm_grpc_server_handling_seconds_bucket",
        "crm_outbox_backlog",
        "crm_outbox_oldest_unpublished_age_seconds",
        "crm_consumer_lag",
        "crm_consumer_dead_letters_total",
        "crm_db_pool_connections",
    ):
        assert needed in metric_names_in(dashboard_text), needed
    alerts = {rule["alert"] for group in rules["spec"]["groups"] for rule in group["rules"]}
    assert {"CrmOutboxStalled", "CrmDeadLetters", "CrmHttpErrorRate", "CrmHttpLatencyP99"} <= alerts
