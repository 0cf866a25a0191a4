"""The alerts: every expression parses, every alert has unit tests that pass, a runbook
section and the labels routing needs; the PrometheusRule carries exactly these rules."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import promql_parser as pq
import yaml

from .conftest import DEPLOY, ROOT, alert_rules, all_promql
from .promql_eval import Evaluator, Storage, run_rule_tests

RULES = DEPLOY / "prometheus" / "rules.yml"
RULE_TESTS = DEPLOY / "prometheus" / "rules.test.yml"
RUNBOOK = ROOT / "docs" / "runbook.md"
# The alerts issue 11 asks for.
REQUIRED = {
    "ProvisioPayoutBatchUnsettled",
    "ProvisioServiceDown",
    "ProvisioNotReady",
    "ProvisioConsumerLagGrowing",
    "ProvisioOutboxStuck",
    "ProvisioDeadLetters",
    "ProvisioWebhookRefusalSpike",
    "ProvisioCalcExceptions",
    "ProvisioWebhookToStatementLatencyHigh",  # "p99 latency over budget"
}


def test_every_promql_expression_of_the_rules_and_dashboards_parses() -> None:
    failures = []
    for where, expr in all_promql():
        try:
            pq.parse(expr)
        except ValueError as exc:
            failures.append(f"{where}: {exc}")
    assert failures == [], "\n".join(failures)
    assert len(all_promql()) > 30


def test_every_alert_has_a_severity_a_summary_and_a_runbook_section() -> None:
    anchors = _runbook_anchors()
    names = [rule["alert"] for rule in alert_rules()]
    assert set(names) >= REQUIRED, REQUIRED - set(names)
    assert len(names) == len(set(names))
    for rule in alert_rules():
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        path, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert path == "docs/runbook.md" and anchor in anchors, (rule["alert"], anchor, sorted(anchors))


def test_every_alert_is_unit_tested_and_the_tests_pass() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    tested = {check["alertname"] for test in tests for check in test["alert_rule_test"]}
    firing = {
        check["alertname"] for test in tests for check in test["alert_rule_test"] if check.get("exp_alerts")
    }
    names = {rule["alert"] for rule in alert_rules()}
    assert tested == names and firing == names, (names - tested, names - firing)
    assert run_rule_tests(RULE_TESTS) == []


def test_promtool_agrees_where_it_is_installed() -> None:
    """promtool itself, on the same files, when it is on PATH (Debian/Ubuntu: apt-get install
    prometheus). The harness above always runs; on a machine with promtool both must pass."""
    promtool = shutil.which("promtool")
    commands = [["check", "rules", str(RULES)], ["test", "rules", str(RULE_TESTS)]] if promtool else []
    for command in commands:
        result = subprocess.run(
            [str(promtool), *command], capture_output=True, text=True, check=False, timeout=60
        )
        assert result.returncode == 0, f"promtool {' '.join(command)}:\n{result.stdout}{result.stderr}"


def test_the_harness_fails_a_wrong_expectation(tmp_path: Path) -> None:
    doc = yaml.safe_load(RULE_TESTS.read_text())
    doc["rule_files"] = [str(RULES)]
    check = doc["tests"][0]["alert_rule_test"][1]  # ProvisioServiceDown firing at 5m
    assert check["exp_alerts"]
    check["exp_alerts"] = []
    wrong = tmp_path / "wrong.test.yml"
    wrong.write_text(yaml.safe_dump(doc))
    [failure] = run_rule_tests(wrong)
    assert "ProvisioServiceDown at 5m" in failure


def test_the_harness_computes_rates_and_quantiles_as_prometheus_does() -> None:
    storage = Storage()
    step = 15_000  # a scrape every 15 s
    steady = [15.0 * i for i in range(20)]  # 60 per minute
    reset = [15.0 * i for i in range(12)] + [15.0 * i for i in range(8)]  # restarts at 3 min
    storage.add(
        {"__name__": "c_total", "job": "steady"}, [(i * step, v, False) for i, v in enumerate(steady)]
    )
    storage.add({"__name__": "c_total", "job": "reset"}, [(i * step, v, False) for i, v in enumerate(reset)])
    for le, count in (("0.1", 50.0), ("0.5", 90.0), ("+Inf", 100.0)):
        storage.add({"__name__": "h_bucket", "le": le}, [(0, 0.0, False), (240_000, count, False)])
    evaluator = Evaluator(storage)
    at = 240_000
    rates = dict(evaluator.instant("rate(c_total[4m])", at))  # type: ignore[arg-type]
    # Samples in (0 s, 240 s]: 225 over 225 s, extrapolated to the window's start.
    assert rates[(("job", "steady"),)] == 1.0
    # Across the reset the increase between the last sample before it and 0 is lost.
    assert abs(rates[(("job", "reset"),)] - 210 * 240 / 225 / 240) < 1e-12
    [(_, p90)] = evaluator.instant("histogram_quantile(0.9, rate(h_bucket[5m]))", at)  # type: ignore[misc]
    assert abs(p90 - 0.5) < 1e-9  # linear inside the (0.1, 0.5] bucket
    [(_, p95)] = evaluator.instant("histogram_quantile(0.95, rate(h_bucket[5m]))", at)  # type: ignore[misc]
    assert p95 == 0.5  # in the +Inf bucket: the highest finite bound
    assert evaluator.instant('absent(c_total{job="other"})', at) == [((("job", "other"),), 1.0)]
    assert evaluator.instant('absent(c_total{job="steady"})', at) == []


def test_the_prometheusrule_carries_exactly_the_rules_file() -> None:
    generated = yaml.safe_load((DEPLOY / "k8s" / "base" / "monitoring" / "prometheusrule.yaml").read_text())
    assert generated["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]


def _runbook_anchors() -> set[str]:
    """GitHub's anchors of the runbook's headings."""
    anchors = set()
    for line in RUNBOOK.read_text().splitlines():
        if match := re.match(r"^#{1,6}\s+(.*)$", line):
            slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
            anchors.add(slug)
    return anchors
