"""Shared helpers of the deploy validation tests (compose, Kubernetes, dashboards, rules).

Every validator runs offline. A tool that is missing fails its test with how to get it; none
is skipped. kubectl (for `kubectl kustomize`) is the one tool outside the virtualenv.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from calc_engine.settings import CalcSettings
from deal_ingest.settings import IngestSettings
from payout_service.settings import PayoutSettings
from provisio_common.settings import ServiceSettings
from quota_service.settings import QuotaSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = ("dev", "prod")
# `$__rate_interval` and friends are Grafana's, not PromQL: replaced before parsing.
GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
}


def service_databases() -> dict[str, str]:
    """Each service's database, as its settings class names it."""
    classes: dict[str, type[ServiceSettings]] = {
        "deal-ingest": IngestSettings,
        "calc-engine": CalcSettings,
        "quota-service": QuotaSettings,
        "payout-service": PayoutSettings,
    }
    return {name: str(cls.model_fields["database"].default) for name, cls in classes.items()}


def need(tool: str, how: str) -> str:
    """The path of `tool`, or a test failure saying how to install it (never a skip)."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"`{tool}` is not on PATH; it is required for this test: {how}", pytrace=False)
    return path


KUBECTL_HOW = (
    "install kubectl (it bundles kustomize): https://kubernetes.io/docs/tasks/tools/ "
    "or `apt-get install kubectl` from the Kubernetes apt repository"
)


def render_overlay(name: str) -> list[dict[str, Any]]:
    """`kubectl kustomize deploy/k8s/overlays/<name>`: every object of the overlay."""
    kubectl = need("kubectl", KUBECTL_HOW)
    result = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY / "k8s" / "overlays" / name)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {name} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="session")
def overlays() -> dict[str, list[dict[str, Any]]]:
    """Both overlays, rendered once per session."""
    return {name: render_overlay(name) for name in OVERLAYS}


def alert_rules() -> list[dict[str, Any]]:
    """Every rule of deploy/prometheus/rules.yml."""
    doc = yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def dashboard_files() -> list[Path]:
    return sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))


def _targets(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield from panel.get("targets", [])
        yield from _targets(panel.get("panels", []))


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, PromQL) of every dashboard target and query variable, Grafana variables replaced."""
    out: list[tuple[str, str]] = []
    for path in dashboard_files():
        dashboard = json.loads(path.read_text())
        for target in _targets(dashboard["panels"]):
            out.append((f"{path.name}: {target.get('refId')} {target['expr'][:60]}", target["expr"]))
        for variable in dashboard.get("templating", {}).get("list", []):
            if variable.get("type") != "query":
                continue
            query = variable["query"]
            text = query["query"] if isinstance(query, dict) else query
            match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", text.strip())
            assert match, f"{path.name}: variable {variable['name']}: only label_values(<selector>, <label>)"
            out.append((f"{path.name}: variable {variable['name']}", match.group(1)))
    return [(where, substitute(expr)) for where, expr in out]


def substitute(expr: str) -> str:
    """Grafana's interval variables replaced by durations; other `$var`s stay (they sit in
    label matcher strings, where PromQL accepts them)."""
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def all_promql() -> list[tuple[str, str]]:
    """Every PromQL expression of the rules and the dashboards."""
    rules = [(f"rules.yml: {r.get('alert') or r.get('record')}", str(r["expr"])) for r in alert_rules()]
    return rules + dashboard_queries()
