"""deploy/k8s: both overlays render; every built-in object passes kubernetes-validate --strict
for current Kubernetes versions; every custom resource passes the openAPIV3Schema of its CRD
(deploy/schemas); and the manifests say what issue 11 asks (probes, security, topics equal to
the catalogue, autoscaling within the partitions, network flows, secrets by reference)."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

from calc_engine.consumers.spec import consumers as calc_consumers
from provisio_common.topics import CATALOGUE

from .conftest import DEPLOY, OVERLAYS, service_databases

Objects = dict[str, list[dict[str, Any]]]
# The newest Kubernetes that kubernetes-validate 1.37.0 has schemas for; and the oldest, where
# one object of each kind is checked too (every API version used exists there).
KUBERNETES = "1.37.0"
OLDEST_KUBERNETES = "1.34.0"
SERVICES = tuple(service_databases())
CUSTOM = {
    ("kafka.strimzi.io/v1", "Kafka"),
    ("kafka.strimzi.io/v1", "KafkaNodePool"),
    ("kafka.strimzi.io/v1", "KafkaTopic"),
    ("postgresql.cnpg.io/v1", "Cluster"),
    ("postgresql.cnpg.io/v1", "Database"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}


def _strict(schema: Any) -> Any:
    """Unknown fields are errors (what `kubectl apply` does with field validation Strict),
    except where the CRD preserves unknown fields."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _strict(value) for key, value in schema.items()}
    if (
        out.get("type") == "object"
        and "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def crd_validators() -> dict[tuple[str, str], jsonschema.Draft7Validator]:
    validators = {}
    for path in sorted((DEPLOY / "schemas").glob("*.json")):
        schema = json.loads(path.read_text())
        key = (schema["properties"]["apiVersion"]["enum"][0], schema["properties"]["kind"]["enum"][0])
        # A well-formed schema (patterns are Go regular expressions, as in the CRDs: their
        # format is not checked as ECMA-262).
        jsonschema.Draft7Validator(jsonschema.Draft7Validator.META_SCHEMA).validate(schema)
        validators[key] = jsonschema.Draft7Validator(_strict(schema))
    return validators


def _of(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def test_every_custom_resource_kind_has_a_vendored_schema() -> None:
    assert set(crd_validators()) == CUSTOM
    readme = (DEPLOY / "schemas" / "README.md").read_text()
    for path in (DEPLOY / "schemas").glob("*.json"):
        assert path.name in readme, f"{path.name} is not described in deploy/schemas/README.md"


def test_built_in_objects_pass_kubernetes_validate_strict(overlays: Objects) -> None:
    failures, validated, kinds = [], 0, set()
    unique = {json.dumps(obj, sort_keys=True): obj for objects in overlays.values() for obj in objects}
    for obj in unique.values():  # an object both overlays render alike is validated once
        kind = (obj["apiVersion"], obj["kind"])
        if kind in CUSTOM:
            continue
        versions = [KUBERNETES] if kind in kinds else [KUBERNETES, OLDEST_KUBERNETES]
        kinds.add(kind)
        for version in versions:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except ValidationError as exc:
                failures.append(f"{obj['kind']}/{obj['metadata']['name']} ({version}): {exc.caught.message}")
            except SchemaNotFoundError:
                failures.append(f"{obj['kind']} {obj['apiVersion']}: no schema in Kubernetes {version}")
        validated += 1
    assert failures == [], "\n".join(failures)
    assert validated >= 30


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_pass_their_crd_schemas(overlays: Objects, overlay: str) -> None:
    validators = crd_validators()
    failures, seen = [], set()
    for obj in overlays[overlay]:
        key = (obj["apiVersion"], obj["kind"])
        if key not in CUSTOM:
            continue
        seen.add(key)
        for error in validators[key].iter_errors(obj):
            path = "/".join(str(p) for p in error.absolute_path)
            failures.append(f"{obj['kind']}/{obj['metadata']['name']} at {path}: {error.message}")
    assert failures == [], "\n".join(failures)
    assert seen == CUSTOM


def test_the_validators_reject_broken_objects(overlays: Objects) -> None:
    deployment = copy.deepcopy(_of(overlays["dev"], "Deployment")["calc-engine"])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}  # typo
    with pytest.raises(ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)
    topic = copy.deepcopy(_of(overlays["dev"], "KafkaTopic")["deals.v1"])
    topic["spec"]["partition"] = 6  # typo
    topic["spec"]["partitions"] = 0  # below the minimum
    errors = list(crd_validators()[("kafka.strimzi.io/v1", "KafkaTopic")].iter_errors(topic))
    assert len(errors) == 2


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kafka_topics_equal_the_catalogue(overlays: Objects, overlay: str) -> None:
    topics = {
        t["spec"].get("topicName", name): t["spec"]
        for name, t in _of(overlays[overlay], "KafkaTopic").items()
    }
    expected = {}
    for topic in CATALOGUE:
        expected[topic.name] = (topic.partitions, "compact" if topic.compacted else "delete")
        expected[topic.dlq] = (1, "delete")
    assert {n: (s["partitions"], s["config"]["cleanup.policy"]) for n, s in topics.items()} == expected
    for resource in _of(overlays[overlay], "KafkaTopic").values():
        assert resource["metadata"]["labels"]["strimzi.io/cluster"] == "provisio-kafka"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kafka_runs_kraft_node_pools_and_replicates_as_the_overlay_says(
    overlays: Objects, overlay: str
) -> None:
    [kafka] = _of(overlays[overlay], "Kafka").values()
    [pool] = _of(overlays[overlay], "KafkaNodePool").values()
    assert sorted(pool["spec"]["roles"]) == ["broker", "controller"]
    config = kafka["spec"]["kafka"]["config"]
    replicas = pool["spec"]["replicas"]
    assert config["default.replication.factor"] == replicas == (3 if overlay == "prod" else 1)
    assert config["min.insync.replicas"] == (2 if overlay == "prod" else 1)
    assert config["auto.create.topics.enable"] is False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_deployments_are_probed_limited_and_locked_down(overlays: Objects, overlay: str) -> None:
    deployments = _of(overlays[overlay], "Deployment")
    assert set(deployments) == set(SERVICES)
    databases = service_databases()
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        [container] = pod["containers"]
        assert container["args"] == [name]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert "memory" in container["resources"]["limits"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for c in [*pod["containers"], *pod["initContainers"]]:
            security = c["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, (name, c["name"])
            assert security["allowPrivilegeEscalation"] is False, (name, c["name"])
            assert security["capabilities"]["drop"] == ["ALL"]
            assert c["image"] == deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        env = {e["name"]: e for e in container["env"]}
        assert env["PROVISIO_DATABASE"]["value"] == databases[name]
        # Secrets only by reference: no literal value of a secret anywhere.
        for secret_var in ("PROVISIO_JWT_SECRET", "PROVISIO_PG_PASSWORD"):
            assert "secretKeyRef" in env[secret_var]["valueFrom"], (name, secret_var)
    ingest_env = {
        e["name"]: e for e in deployments["deal-ingest"]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert (
        ingest_env["PROVISIO_GENERIC_WEBHOOK_SECRETS"]["valueFrom"]["secretKeyRef"]["name"]
        == "provisio-secrets"
    )
    assert not _of(overlays[overlay], "Secret"), "no Secret objects (and no secret values) in the repo"
    budgets = _of(overlays[overlay], "PodDisruptionBudget")
    assert set(budgets) == set(SERVICES)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_autoscaling_stays_within_the_partitions(overlays: Objects, overlay: str) -> None:
    hpas = _of(overlays[overlay], "HorizontalPodAutoscaler")
    assert set(hpas) == {"deal-ingest", "calc-engine"}
    partitions = {t.name: t.partitions for t in CATALOGUE}
    calc_topics = {topic for spec in calc_consumers() for topic in spec.topics}
    assert hpas["calc-engine"]["spec"]["maxReplicas"] <= max(partitions[t] for t in calc_topics)
    deployments = _of(overlays[overlay], "Deployment")
    for name in hpas:
        assert "replicas" not in deployments[name]["spec"], f"{name}: replicas belong to its autoscaler"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_allow_only_the_designed_flows(overlays: Objects, overlay: str) -> None:
    policies = _of(overlays[overlay], "NetworkPolicy")
    component = {"app.kubernetes.io/component": "provisio-service"}
    # Every policy selects Provisio's pods only (some narrow it to named services).
    assert all(
        component.items() <= p["spec"]["podSelector"]["matchLabels"].items() for p in policies.values()
    )
    narrowed = {
        name: p["spec"]["podSelector"]
        for name, p in policies.items()
        if p["spec"]["podSelector"] != {"matchLabels": component}
    }
    producers = {
        "key": "app.kubernetes.io/name",
        "operator": "In",
        "values": ["deal-ingest", "quota-service"],
    }
    calc = {"matchLabels": {**component, "app.kubernetes.io/name": "calc-engine"}}
    # The one flow between services: calc-engine asks deal-ingest and quota-service (POST /recompute).
    assert narrowed == {
        "provisio-producers-from-calc-engine": {"matchLabels": component, "matchExpressions": [producers]},
        "provisio-calc-engine-to-producers": calc,
    }
    assert policies["provisio-producers-from-calc-engine"]["spec"]["ingress"] == [
        {"from": [{"podSelector": calc}], "ports": [{"port": "http", "protocol": "TCP"}]}
    ]
    assert policies["provisio-calc-engine-to-producers"]["spec"]["egress"] == [
        {
            "to": [{"podSelector": {"matchLabels": component, "matchExpressions": [producers]}}],
            "ports": [{"port": 8080, "protocol": "TCP"}],
        }
    ]
    deny = policies["provisio-default-deny"]["spec"]
    assert (
        sorted(deny["policyTypes"]) == ["Egress", "Ingress"]
        and "ingress" not in deny
        and "egress" not in deny
    )
    egress_ports = {
        port["port"]
        for p in policies.values()
        for rule in p["spec"].get("egress", [])
        for port in rule.get("ports", [])
    }
    assert egress_ports == ({53, 5432, 9092, 8080, 443} if overlay == "prod" else {53, 5432, 9092, 8080})
    [kafka] = _of(overlays[overlay], "Kafka").values()
    [listener] = kafka["spec"]["kafka"]["listeners"]
    assert listener["networkPolicyPeers"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/component": "provisio-service"}}}
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_postgres_has_one_database_and_role_per_service(overlays: Objects, overlay: str) -> None:
    [cluster] = _of(overlays[overlay], "Cluster").values()
    roles = {r["name"]: r for r in cluster["spec"]["managed"]["roles"]}
    databases = {d["spec"]["name"]: d["spec"] for d in _of(overlays[overlay], "Database").values()}
    assert set(databases) == set(service_databases().values()) == set(roles)
    for name, spec in databases.items():
        assert spec["owner"] == name and spec["cluster"]["name"] == cluster["metadata"]["name"]
    for service, database in service_databases().items():
        assert roles[database]["passwordSecret"]["name"] == f"provisio-pg-{service}"
    assert cluster["spec"]["instances"] == (3 if overlay == "prod" else 1)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_monitoring_scrapes_the_services_and_ships_rules_and_dashboards(
    overlays: Objects, overlay: str
) -> None:
    [monitor] = _of(overlays[overlay], "ServiceMonitor").values()
    services = _of(overlays[overlay], "Service")
    for service in services.values():
        assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        assert service["spec"]["ports"][0]["name"] == monitor["spec"]["endpoints"][0]["port"]
    assert monitor["spec"]["endpoints"][0]["honorLabels"] is True
    dashboards = {
        name: cm
        for name, cm in _of(overlays[overlay], "ConfigMap").items()
        if name.startswith("provisio-dashboard-")
    }
    assert len(dashboards) == 3
    for cm in dashboards.values():
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        [(file_name, text)] = cm["data"].items()
        assert text == (DEPLOY / "grafana" / "dashboards" / file_name).read_text()


def test_prod_uses_rs256_with_a_jwks_url_more_replicas_and_larger_resources(overlays: Objects) -> None:
    dev, prod = (_of(overlays[o], "ConfigMap")["provisio-config"]["data"] for o in ("dev", "prod"))
    assert dev["PROVISIO_JWT_ALGORITHM"] == "HS256"
    assert prod["PROVISIO_JWT_ALGORITHM"] == "RS256" and prod["PROVISIO_JWT_JWKS_URL"].startswith("https://")
    for name in ("quota-service", "payout-service"):
        assert (
            _of(overlays["prod"], "Deployment")[name]["spec"]["replicas"]
            > _of(overlays["dev"], "Deployment")[name]["spec"]["replicas"]
        )
    for name in ("deal-ingest", "calc-engine"):
        assert _of(overlays["prod"], "HorizontalPodAutoscaler")[name]["spec"]["minReplicas"] >= 2
    memory = {
        o: _of(overlays[o], "Deployment")["calc-engine"]["spec"]["template"]["spec"]["containers"][0][
            "resources"
        ]["limits"]["memory"]
        for o in OVERLAYS
    }
    assert (memory["dev"], memory["prod"]) == ("512Mi", "1Gi")
