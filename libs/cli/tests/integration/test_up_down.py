"""`provisio up` / `down` as a user runs them: real processes, real ports, real demo."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from provisio_cli.demo import quarter_of
from provisio_common.embedded import free_port

PROVISIO = [sys.executable, "-m", "provisio_cli.main"]
DEMO_SALESFORCE_ORG_ID = "00D000000000001EAA"
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


async def pg_login(port: int, password: str | None) -> bool:
    try:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=port, user="postgres", password=password, database="postgres"
        )
    except asyncpg.InvalidPasswordError:
        return False
    await conn.close()
    return True


def outsider_earns(stack: dict[str, Any], state: Path, env: dict[str, str]) -> None:
    """A payee outside the demo, on the demo plan, with a deal of their own."""
    admin = {"Authorization": f"Bearer {stack['tokens']['admin']}"}
    payee = {"name": "Outsider", "crm_ids": ["generic:outsider"],
             "assignments": [{"plan": "ae-demo", "valid_from": f"{date.today().year}-01-01"}]}  # fmt: skip
    quota = stack["services"]["quota-service"]
    r = httpx.put(f"{quota}/payees/outsider", json=payee, headers=admin, timeout=10)
    assert r.is_success, r.text
    quarter, _ = quarter_of(date.today())
    r = httpx.put(f"{quota}/quotas/outsider/{quarter}", json={"amount": "100000"}, headers=admin, timeout=10)
    assert r.is_success, r.text
    deal = {"external_id": "OUT-1", "status": "won", "amount": "5000.00", "currency": "USD",
            "close_date": date.today().isoformat(), "owner": "generic:outsider", "type": "new"}  # fmt: skip
    path = state.parent / "outsider.json"
    path.write_text(json.dumps(deal))
    sent = run(["send-deal", "--state", str(state), str(path)], env)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    ledger = f"{stack['services']['calc-engine']}/ledger?payee=outsider"

    deadline = time.monotonic() + 60
    while not httpx.get(ledger, headers=admin, timeout=10).json():
        exceptions = httpx.get(f"{stack['services']['calc-engine']}/exceptions", headers=admin, timeout=10)
        assert time.monotonic() < deadline, f"the outsider's deal was never credited: {exceptions.text}"
        time.sleep(0.5)


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
    # The CRM samples sent below are dated 2027: let deal-ingest take a changed_at that far ahead.
    env["PROVISIO_CHANGED_AT_MAX_AHEAD_S"] = str(10 * 365 * 24 * 3600)
    try:
        up = run(["up", "--state", str(state)], env)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "curl" in up.stdout and "/statements/" in up.stdout
        stack = json.loads((state / "stack.json").read_text())
        assert set(stack["services"]) == {"deal-ingest", "calc-engine", "quota-service", "payout-service"}
        assert set(stack["tokens"]) == {"admin", "admin2", "manager", "rep", "other_rep", "payroll", "ops"}
        secrets = stack["webhook_secrets"]
        assert set(secrets) == {"generic", "hubspot", "salesforce", "salesforce-outbound", "pipedrive"}
        assert secrets["generic"].startswith("whsec_") and ":" in secrets["pipedrive"]
        assert secrets["salesforce-outbound"].startswith(f"{DEMO_SALESFORCE_ORG_ID}:")
        assert "config.json" in up.stdout and "Postgres password" in up.stdout
        for secret_file in ("config.json", "stack.json"):
            assert stat.S_IMODE((state / secret_file).stat().st_mode) == 0o600
        # Postgres asks for the generated password (scram), which the services use.
        config = json.loads((state / "config.json").read_text())
        assert asyncio.run(pg_login(config["ports"]["postgres"], config["pg_password"]))
        assert not asyncio.run(pg_login(config["ports"]["postgres"], None))
        # Every door is configured: the CLI signs a sample the way each CRM does.
        samples = Path(__file__).resolve().parents[4] / "services" / "deal-ingest" / "tests" / "samples"
        for door, sample in [
            ("pipedrive", "pipedrive_deal_won.json"),
            ("salesforce", "salesforce_callout.json"),
            ("hubspot", "hubspot_batch.json"),
            ("salesforce-outbound", "salesforce_outbound.xml"),
        ]:
            path = samples / sample
            if door == "salesforce-outbound":  # the demo org's message, with its basic auth
                path = state.parent / sample
                xml = (samples / sample).read_text().replace("00D5g000004AbCdEAK", DEMO_SALESFORCE_ORG_ID)
                path.write_text(xml)
            sent = run(["send-deal", "--state", str(state), "--door", door, str(path)], env)
            assert sent.returncode == 0, f"{door}: {sent.stdout} {sent.stderr}"
        # Someone outside the demo earns too: a second `up` must still settle (on the demo's own).
        outsider_earns(stack, state, env)
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
