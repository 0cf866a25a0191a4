"""docker-compose.yml against the Compose Specification, and what issue 11 asks of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import check_jsonschema
import yaml
from click.testing import CliRunner, Result

from .conftest import DEPLOY, ROOT, service_databases

COMPOSE = ROOT / "docker-compose.yml"
SERVICES = ("deal-ingest", "calc-engine", "quota-service", "payout-service")


def _check_jsonschema(path: Path) -> Result:
    """`check-jsonschema --builtin-schema vendor.compose-spec <path>`: the Compose Specification
    schema that check-jsonschema vendors (offline), run in-process."""
    return CliRunner().invoke(check_jsonschema.main, ["--builtin-schema", "vendor.compose-spec", str(path)])


def _compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())  # resolves the << merge keys
    return doc


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    result = _check_jsonschema(COMPOSE)
    assert result.exit_code == 0 and "validation done" in result.output, result.output


def test_the_schema_check_rejects_a_broken_compose_file(tmp_path: Path) -> None:
    broken = _compose()
    broken["services"]["kafka"]["restart_policy"] = "always"  # not a Compose key
    broken["services"]["postgres"]["ports"] = "5432"  # a list, not a string
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    result = _check_jsonschema(path)
    assert result.exit_code == 1 and "restart_policy" in result.output, result.output


def test_every_port_is_published_on_loopback_only() -> None:
    published = []
    for name, service in _compose()["services"].items():
        for port in service.get("ports", []):
            assert isinstance(port, str) and port.startswith("127.0.0.1:"), (name, port)
            published.append(port)
    assert len(published) >= 8


def test_kafka_is_apache_kafka_in_kraft_mode_with_one_node() -> None:
    kafka = _compose()["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert "zookeeper" not in str(kafka).lower()


def test_postgres_18_with_one_database_per_service_from_an_init_script() -> None:
    postgres = _compose()["services"]["postgres"]
    assert postgres["image"].split(":")[1].split(".")[0] == "18"
    init = [v for v in postgres["volumes"] if v.endswith(":/docker-entrypoint-initdb.d:ro")]
    assert init == ["./deploy/compose/postgres-init:/docker-entrypoint-initdb.d:ro"]
    script = (DEPLOY / "compose" / "postgres-init" / "10-provisio-databases.sh").read_text()
    for database in service_databases().values():
        assert f"CREATE DATABASE {database} OWNER provisio;" in script


def test_the_services_use_one_image_real_kafka_and_the_idempotent_producer() -> None:
    services = _compose()["services"]
    for name in SERVICES:
        service = services[name]
        env = service["environment"]
        assert service["image"] == "provisio:local" and service["command"] == [name]
        assert env["PROVISIO_KAFKA_IDEMPOTENT_PRODUCER"] == "true"
        assert env["PROVISIO_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env["PROVISIO_PG_HOST"] == "postgres"
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
        assert "/readyz" in " ".join(service["healthcheck"]["test"])
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_prometheus_and_grafana_are_provisioned_from_deploy() -> None:
    services = _compose()["services"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert scrape["rule_files"] == ["rules.yml"]
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    assert set(jobs) == set(SERVICES)
    for name, job in jobs.items():
        assert job["honor_labels"] is True
        assert job["static_configs"] == [{"targets": [f"{name}:8080"], "labels": {"service": name}}]
    grafana = services["grafana"]["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards/provisio:ro" in grafana
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "provisio.yml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards/provisio"
    datasource = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    for volume in [*services["prometheus"]["volumes"], *grafana, *services["postgres"]["volumes"]]:
        source = volume.split(":")[0]
        assert not source.startswith("./") or (ROOT / source).exists(), volume


def test_the_demo_profile_runs_the_demo_crm_against_the_services() -> None:
    demo = _compose()["services"]["demo"]
    assert demo["profiles"] == ["demo"]
    assert demo["entrypoint"] == ["python", "/demo/demo.py"]
    assert "./deploy/compose/demo.py:/demo/demo.py:ro" in demo["volumes"]
    assert set(demo["depends_on"]) == set(SERVICES)
    assert all(
        others.get("profiles") is None for name, others in _compose()["services"].items() if name != "demo"
    )
