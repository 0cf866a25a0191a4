"""`provisio up` / `down` as a user runs them: real processes, real ports, real demo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from provisio_common.embedded import free_port

PROVISIO = [sys.executable, "-m", "provisio_cli.main"]
PORT_VARS = [
    "PROVISIO_PG_PORT",
    "PROVISIO_BROKER_PORT",
    "PROVISIO_DEAL_INGEST_PORT",
    "PROVISIO_CALC_ENGINE_PORT",
    "PROVISIO_QUOTA_SERVICE_PORT",
    "PROVISIO_PAYOUT_SERVICE_PORT",
]


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PROVISIO, *args], env=env, capture_output=True, text=True, timeout=240)


def statements(stack: dict[str, object]) -> dict[str, object]:
    services, tokens, demo = stack["services"], stack["tokens"], stack["demo"]
    assert isinstance(services, dict) and isinstance(tokens, dict) and isinstance(demo, dict)
    response = httpx.get(
        f"{services['payout-service']}/statements/{demo['rep']}",
        headers={"Authorization": f"Bearer {tokens['rep']}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def ledger_size(stack: dict[str, object]) -> int:
    services, tokens = stack["services"], stack["tokens"]
    assert isinstance(services, dict) and isinstance(tokens, dict)
    response = httpx.get(
        f"{services['calc-engine']}/ledger?limit=5000",
        headers={"Authorization": f"Bearer {tokens['admin']}"},
        timeout=10,
    )
    return len(response.json())


def test_up_serves_demo_statements_down_stops_and_up_again_resumes_without_duplicates() -> None:
    state = Path(tempfile.mkdtemp(prefix="provisio-test-stack-")) / "state"
    env = {**os.environ, **{var: str(free_port()) for var in PORT_VARS}}
    try:
        up = run(["up", "--state", str(state)], env)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "curl" in up.stdout and "/statements/" in up.stdout
        stack = json.loads((state / "stack.json").read_text())
        assert set(stack["services"]) == {"deal-ingest", "calc-engine", "quota-service", "payout-service"}
        assert set(stack["tokens"]) == {"admin", "admin2", "manager", "rep", "other_rep", "payroll", "ops"}
        secrets = stack["webhook_secrets"]
        assert set(secrets) == {"generic", "hubspot", "salesforce", "pipedrive"}
        assert secrets["generic"].startswith("whsec_") and ":" in secrets["pipedrive"]
        # Every door is configured: the CLI signs a sample the way each CRM does.
        samples = Path(__file__).resolve().parents[4] / "services" / "deal-ingest" / "tests" / "samples"
        for door, sample in [
            ("pipedrive", "pipedrive_deal_won.json"),
            ("salesforce", "salesforce_callout.json"),
            ("hubspot", "hubspot_batch.json"),
        ]:
            sent = run(["send-deal", "--state", str(state), "--door", door, str(samples / sample)], env)
            assert sent.returncode == 0, f"{door}: {sent.stdout} {sent.stderr}"
        first = statements(stack)
        assert first["pay_periods"]
        entries = ledger_size(stack)
        # Re-publishing every outbox changes nothing downstream: consumers deduplicate.
        replay = run(["replay", "--state", str(state)], env)
        assert replay.returncode == 0 and "calc-engine:" in replay.stdout, replay.stderr
        time.sleep(3)
        assert statements(stack) == first
        assert ledger_size(stack) == entries

        pids = {p.name: int(p.read_text()) for p in (state / "pids").glob("*.pid")}
        assert len(pids.keys() - {"prometheus.pid"}) == 6

        down = run(["down", "--state", str(state)], env)
        assert down.returncode == 0, down.stderr
        assert not list((state / "pids").glob("*.pid"))
        for pid in pids.values():
            assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()

        again = run(["up", "--state", str(state)], env)
        assert again.returncode == 0, again.stdout + again.stderr
        stack = json.loads((state / "stack.json").read_text())
        # A new (empty) broker: the outboxes were re-published, consumers deduplicated.
        assert statements(stack) == first
        assert ledger_size(stack) == entries
    finally:
        run(["down", "--state", str(state)], env)
        shutil.rmtree(state.parent, ignore_errors=True)
