"""`make up` starts Prometheus with docker compose's scrape config and rules (when a
`prometheus` binary is on PATH): the config it writes differs only in the targets."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from provisio_cli.stack import SERVICES, Stack, prometheus_config

from .conftest import DEPLOY


def test_make_up_scrapes_the_local_ports_with_the_compose_jobs_and_rules(tmp_path: Path) -> None:
    ports = {name: 9100 + i for i, name in enumerate(SERVICES)}
    local = prometheus_config(ports)
    compose = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert local["rule_files"] == [str(DEPLOY / "prometheus" / "rules.yml")]
    for mine, theirs in zip(local["scrape_configs"], compose["scrape_configs"], strict=True):
        assert mine["static_configs"][0]["targets"] == [f"127.0.0.1:{ports[mine['job_name']]}"]
        mine["static_configs"][0]["targets"] = theirs["static_configs"][0]["targets"]
        assert mine == theirs
    assert {k: v for k, v in local.items() if k != "rule_files"} == {
        k: v for k, v in compose.items() if k != "rule_files"
    }
    # promtool, where installed, accepts the written file (rules included).
    promtool = shutil.which("promtool")
    if promtool:
        path = tmp_path / "prometheus.yml"
        path.write_text(yaml.safe_dump(local))
        result = subprocess.run(
            [promtool, "check", "config", str(path)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_without_a_prometheus_binary_make_up_says_how_to_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert Stack(tmp_path).start_prometheus() is None
    out = capsys.readouterr().out
    assert "apt-get install prometheus" in out and "prometheus.io/download" in out
