"""The demo CRM of `make up`, against the services of docker compose (`--profile demo`).

Loads the demo company (plan, payees, quotas, ~50 signed deal webhooks), prints tokens and a
curl, then keeps the dashboards alive: every PROVISIO_DEMO_EVERY_S seconds (0: never) it
sends a new revision of one demo deal, and now and then a delivery with a bad signature
(refused with 401, as a CRM with a stale secret would).

Runs in the Provisio image: `python /demo/demo.py` with the services' environment.
"""

from __future__ import annotations

import json
import os
import random
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx

from provisio_cli.demo import demo_deals, run_demo
from provisio_common.auth import Role, mint_token
from provisio_common.settings import ProvisioSettings
from provisio_common.webhooks import new_secret, signed_headers

SERVICES = ("deal-ingest", "calc-engine", "quota-service", "payout-service")


def service_urls() -> dict[str, str]:
    """Each service at its compose name (PROVISIO_DEMO_<SERVICE>_URL overrides one)."""
    return {
        name: os.environ.get(f"PROVISIO_DEMO_{name.upper().replace('-', '_')}_URL", f"http://{name}:8080")
        for name in SERVICES
    }


def send(client: httpx.Client, url: str, secret: str, msg_id: str, data: dict[str, Any]) -> int:
    """POST one signed generic delivery; returns the status code."""
    body = json.dumps({"type": "deal.snapshot", "data": data}).encode()
    headers = {"content-type": "application/json", **signed_headers(secret, msg_id, body)}
    return client.post(f"{url}/webhooks/generic", content=body, headers=headers).status_code


def trickle(urls: dict[str, str], secret: str, every_s: float, rng: random.Random) -> None:
    """Forever: a new revision of a random demo deal; one delivery in ten badly signed."""
    deals = demo_deals(datetime.now(UTC).date())
    wrong_secret = new_secret()
    with httpx.Client(timeout=15) as client:
        for n in range(1, 10**9):
            time.sleep(every_s)
            deal = dict(rng.choice(deals))
            deal["amount"] = str(
                (Decimal(deal["amount"]) * Decimal(rng.choice(["0.9", "1.1"]))).quantize(Decimal("0.01"))
            )
            deal["changed_at"] = datetime.now(UTC).isoformat()
            deal["close_date"] = date.fromisoformat(deal["close_date"]).isoformat()
            status = send(client, urls["deal-ingest"], secret, f"demo-trickle-{time.time_ns()}", deal)
            if n % 10 == 0:
                send(client, urls["deal-ingest"], wrong_secret, f"demo-refused-{n}", deal)
            print(f"demo: revised {deal['external_id']} ({status})", flush=True)


def main() -> int:
    """Load the demo, print how to use it, then trickle deals."""
    settings = ProvisioSettings()
    urls = service_urls()
    secret = os.environ["PROVISIO_GENERIC_WEBHOOK_SECRETS"].split(",")[0].strip()
    demo = run_demo(settings, urls, secret)
    print(f"demo: {demo['deals']} deals for {demo['company']} went through", flush=True)
    who: list[tuple[Role, str]] = [("admin", "admin"), ("manager", demo["manager"]), ("rep", demo["rep"])]
    for role, sub in [*who, ("ops", "ops")]:
        print(f"  token {role:<8} {mint_token(settings, sub, role)}", flush=True)
    rep_token = mint_token(settings, demo["rep"], "rep")
    print(f"  curl -s -H 'Authorization: Bearer {rep_token}' http://127.0.0.1:8104/statements/{demo['rep']}")
    every_s = float(os.environ.get("PROVISIO_DEMO_EVERY_S", "5"))
    if every_s > 0:
        trickle(urls, secret, every_s, random.Random(7))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
