"""What deploy/generate.py writes is what is committed: the dashboards (grafana-foundation-sdk),
the KafkaTopics (the topic catalogue), the PrometheusRule (rules.yml), the service manifests."""

from __future__ import annotations

import importlib.util
import json

import pytest

from .conftest import DEPLOY, dashboard_files


def test_generated_files_equal_their_generator(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("provisio_deploy_generate", DEPLOY / "generate.py")
    assert spec is not None and spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    status = generate.main(["--check"])
    out = capsys.readouterr()
    assert status == 0, (
        "committed files differ from deploy/generate.py; run `.venv/bin/python deploy/generate.py`:\n"
        + out.out
        + out.err
    )


def test_dashboards_are_the_three_of_the_issue_with_their_rows() -> None:
    rows = {}
    for path in dashboard_files():
        dashboard = json.loads(path.read_text())
        assert dashboard["uid"] == f"provisio-{path.stem}"
        assert "provisio" in dashboard["tags"]
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: panel ids repeat"
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert variables["datasource"]["query"] == "prometheus"
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        rows[path.stem] = [panel["title"] for panel in dashboard["panels"] if panel["type"] == "row"]
    assert rows == {
        "pipeline": [
            "Webhooks in",
            "Webhook to statement",
            "Kafka",
            "Outboxes",
            "Dead letters and calculation exceptions",
            "HTTP",
        ],
        "payouts": ["Money, batches and pay periods", "Disputes", "Ledger in", "Statements and payroll out"],
        "service-health": ["Up and ready", "Resources", "Traffic"],
    }
