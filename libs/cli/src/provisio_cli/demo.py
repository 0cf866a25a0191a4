"""The demo CRM of `make up`: a small company (a manager, four reps, a plan, quotas)
and ~50 signed deal webhooks over the current quarter, one of them later cancelled; then
the payout cycle up to payroll: the quarter's first pay period closed, its batch built and
approved by a second admin, waiting for payroll to pull it; and a dispute: a rep questions
one of their entries, an admin accepts it with an adjustment a second admin approves.

Idempotent: plans, payees and quotas are PUTs, and every webhook has a fixed
`webhook-id`, so a second `make up` re-sends nothing new and duplicates nothing; the
payout steps look at what is there first and carry on from it.
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from provisio_common.auth import mint_token
from provisio_common.settings import ProvisioSettings
from provisio_common.webhooks import signed_headers

COMPANY = "Northwind Analytics"
MANAGER = "mgr-ada"
REPS = ["rep-ben", "rep-cleo", "rep-dan", "rep-eve"]
PRODUCTS = ["widget-pro", "widget-lite", "analytics-suite"]
PAYROLL_IDS = {MANAGER: "EMP-1001", **{rep: f"EMP-{1002 + n}" for n, rep in enumerate(REPS)}}


def quarter_of(day: date) -> tuple[str, date]:
    """The quarter `day` falls in ("2027-Q1") and that quarter's first day."""
    q = (day.month - 1) // 3
    return f"{day.year}-Q{q + 1}", date(day.year, 3 * q + 1, 1)


def plan_yaml(today: date) -> str:
    """An AE plan with an accelerator, renewals, a club bonus, a spif in the quarter's first
    month and a manager override (PLANS.md)."""
    _, first = quarter_of(today)
    spif_end = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return f"""id: ae-demo
name: Account Executive (demo)
currency: USD
timezone: UTC
period: quarter
pay_frequency: month
effective: {{from: {today.year}-01-01, to: {today.year}-12-31}}
components:
  - id: new-business
    kind: commission
    applies_to: {{roles: [rep]}}
    measure: {{metric: amount, deal_types: [new, upsell]}}
    tiers:
      basis: attainment
      method: marginal
      bands:
        - {{to: 100, rate: "0.08"}}
        - {{to: 150, rate: "0.12"}}
        - {{rate: "0.15"}}
  - id: renewals
    kind: commission
    applies_to: {{roles: [rep]}}
    measure: {{metric: amount, deal_types: [renewal]}}
    rate: "0.03"
  - id: club
    kind: bonus
    applies_to: {{roles: [rep]}}
    measure: {{metric: amount, deal_types: [new, upsell]}}
    when: {{attainment_at_least: 100}}
    amount: "5000"
  - id: widget-spif
    kind: spif
    applies_to: {{roles: [rep]}}
    window: {{from: {first.isoformat()}, to: {spif_end.isoformat()}}}
    measure: {{metric: amount, products: [widget-pro]}}
    per_deal: "250"
  - id: manager-override
    kind: commission
    applies_to: {{roles: [manager]}}
    measure: {{metric: amount}}
    credit: [team_rollup]
    rate: "0.02"
clawback: {{window_days: 90}}
"""


def demo_deals(today: date) -> list[dict[str, Any]]:
    """~50 deterministic deals between the quarter's first day and today."""
    quarter, first = quarter_of(today)
    rng = random.Random(f"provisio-demo-{quarter}")
    span = max((today - first).days, 0)
    deals = []
    for n in range(1, 51):
        close = first + timedelta(days=rng.randint(0, span))
        amount = Decimal(rng.randrange(2_000_00, 60_000_00)) / 100
        deals.append(
            {
                "external_id": f"{quarter}-D{n:03d}",
                "status": "won",
                "amount": str(amount),
                "currency": "USD",
                "close_date": close.isoformat(),
                "owner": f"generic:{REPS[n % len(REPS)]}",
                "type": rng.choice(["new", "new", "upsell", "renewal"]),
                "customer": f"Customer {n}",
                "lines": [{"product": rng.choice(PRODUCTS), "amount": str(amount)}],
            }
        )
    return deals


def multi_year_deal(today: date) -> dict[str, Any]:
    """A three-year contract (`contract_months` 36) closed on the quarter's first day: its
    commission is capitalized and amortized over 36 months (payout-service's accounting)."""
    quarter, first = quarter_of(today)
    return {
        "external_id": f"{quarter}-M001",
        "status": "won",
        "amount": "90000.00",
        "currency": "USD",
        "close_date": first.isoformat(),
        "changed_at": f"{first.isoformat()}T12:00:00+00:00",
        "owner": f"generic:{REPS[1]}",
        "type": "new",
        "customer": "Contoso (3-year contract)",
        "lines": [{"product": "analytics-suite", "amount": "90000.00"}],
        "contract_months": 36,
        "contract_start": first.isoformat(),
    }


def run_demo(settings: ProvisioSettings, urls: dict[str, str], secret: str) -> dict[str, Any]:
    """Load the demo company (plan, payees, quotas) and send its deal webhooks; returns who is who."""
    today = datetime.now(UTC).date()
    quarter, _ = quarter_of(today)
    admin = {"Authorization": f"Bearer {mint_token(settings, 'admin', 'admin')}"}
    quota = urls["quota-service"]
    with httpx.Client(timeout=15) as client:
        _ok(
            client.put(
                f"{quota}/plans/ae-demo",
                content=plan_yaml(today),
                headers={**admin, "content-type": "application/yaml"},
            )
        )
        assignment = [{"plan": "ae-demo", "valid_from": f"{today.year}-01-01"}]
        _ok(
            client.put(
                f"{quota}/payees/{MANAGER}",
                headers=admin,
                json={
                    "name": "Ada Lovelace",
                    "roles": ["manager"],
                    "crm_ids": [f"generic:{MANAGER}"],
                    "payroll_id": PAYROLL_IDS[MANAGER],
                    "assignments": assignment,
                },
            )
        )
        for rep in REPS:
            _ok(
                client.put(
                    f"{quota}/payees/{rep}",
                    headers=admin,
                    json={
                        "name": rep.removeprefix("rep-").title(),
                        "manager": MANAGER,
                        "crm_ids": [f"generic:{rep}"],
                        "payroll_id": PAYROLL_IDS[rep],
                        "assignments": assignment,
                    },
                )
            )
            _ok(client.put(f"{quota}/quotas/{rep}/{quarter}", headers=admin, json={"amount": "200000"}))
        deals = demo_deals(today)
        for deal in deals:
            changed = datetime.combine(date.fromisoformat(deal["close_date"]), datetime.min.time(), UTC)
            _send(
                client,
                urls["deal-ingest"],
                secret,
                f"demo-{deal['external_id']}-r1",
                {**deal, "changed_at": changed.isoformat()},
            )
        cancelled = deals[-1]
        _send(
            client,
            urls["deal-ingest"],
            secret,
            f"demo-{cancelled['external_id']}-cancel",
            {**cancelled, "status": "cancelled", "changed_at": f"{today.isoformat()}T12:00:00+00:00"},
        )
        expected = {f"generic:{d['external_id']}": 1 for d in deals}
        expected[f"generic:{cancelled['external_id']}"] = 2
        multi_year = multi_year_deal(today)
        _send(client, urls["deal-ingest"], secret, f"demo-{multi_year['external_id']}-r1", multi_year)
        expected[f"generic:{multi_year['external_id']}"] = 1
        expected |= load_planning(client, urls, admin, secret, today)
        _wait_until_settled(client, urls, admin, expected)
        admin2 = {"Authorization": f"Bearer {mint_token(settings, 'admin2', 'admin')}"}
        payout = run_payout_demo(client, urls["payout-service"], admin, admin2, today)
        as_rep = {"Authorization": f"Bearer {mint_token(settings, REPS[1], 'rep')}"}
        dispute = run_dispute_demo(client, urls["payout-service"], REPS[1], as_rep, admin, admin2)
    return {
        "rep": REPS[1],
        "other_rep": REPS[2],
        "manager": MANAGER,
        "deals": len(deals) + 1,
        "company": COMPANY,
        # The commission-expense report over the quarter so far (the multi-year deal amortizes).
        "accounting": {"from": quarter_of(today)[1].strftime("%Y-%m"), "to": today.strftime("%Y-%m")},
        **payout,
        **dispute,
    }


def run_payout_demo(
    client: httpx.Client, payout: str, admin: dict[str, str], admin2: dict[str, str], today: date
) -> dict[str, Any]:
    """The payout cycle up to payroll: close the quarter's first pay period (and any earlier
    one still open, in order), build its batch as `admin` and approve it as `admin2` (two
    people), and leave it for payroll to pull. Idempotent: a closed pay period and a batch
    already built are kept. Returns the pay period and the batch id (None: nothing to pay)."""
    _, first = quarter_of(today)
    pay_period = first.strftime("%Y-%m")  # the demo plan pays monthly
    for period in _json(client, f"{payout}/pay-periods", admin):
        if period["status"] == "open" and period["pay_period"] <= pay_period:
            _ok(client.post(f"{payout}/pay-periods/{period['pay_period']}/close", headers=admin))
    if not any(
        p["pay_period"] == pay_period and p["status"] == "closed"
        for p in _json(client, f"{payout}/pay-periods", admin)
    ):
        _ok(client.post(f"{payout}/pay-periods/{pay_period}/close", headers=admin))
    batch = next(
        (
            b
            for b in _json(client, f"{payout}/batches", admin)
            if b["pay_period"] == pay_period and b["status"] != "cancelled"
        ),
        None,
    )
    deadline = time.monotonic() + 30
    while batch is None or (
        batch["status"] == "draft" and batch["exceptions"] and time.monotonic() < deadline
    ):
        if batch is not None:  # payroll ids not replicated yet: build again in a moment
            _ok(client.post(f"{payout}/batches/{batch['id']}/cancel", headers=admin))
            time.sleep(0.5)
        built = client.post(f"{payout}/batches", headers=admin, json={"pay_period": pay_period})
        if built.status_code == 409 and "nothing to pay" in built.text:
            return {"pay_period": pay_period, "batch": None}
        _ok(built)
        batch = built.json()
    if batch["status"] == "draft":
        _ok(client.post(f"{payout}/batches/{batch['id']}/approve", headers=admin2))
    return {"pay_period": pay_period, "batch": batch["id"]}


DISPUTE_MESSAGE = "The widget-pro spif is missing on this deal."


def run_dispute_demo(
    client: httpx.Client,
    payout: str,
    rep_id: str,
    rep: dict[str, str],
    admin: dict[str, str],
    admin2: dict[str, str],
) -> dict[str, Any]:
    """A rep disputes one of their ledger entries (in the earliest pay period they have
    entries in); `admin` accepts it with a 250.00 adjustment (pending), `admin2` approves the
    adjustment (two people). Idempotent: the demo's dispute (found by its message) is carried
    on from where it stands, never opened twice. Returns its id (None: no entries yet)."""
    dispute = next(
        (
            d
            for d in _json(client, f"{payout}/disputes?payee={rep_id}", rep)
            if d["message"] == DISPUTE_MESSAGE
        ),
        None,
    )
    if dispute is None:
        periods = _json(client, f"{payout}/statements/{rep_id}", rep)["pay_periods"]
        pay_period = next((p["pay_period"] for p in periods if p["entries"]), None)
        if pay_period is None:
            return {"dispute": None}
        statement = _json(client, f"{payout}/statements/{rep_id}/{pay_period}", rep)
        line = next(line for line in statement["lines"] if line["entries"])
        opened = client.post(
            f"{payout}/disputes",
            headers=rep,
            json={
                "payee": rep_id,
                "pay_period": pay_period,
                "entry_id": line["entries"][0]["entry_id"],
                "component": line["component"],
                "message": DISPUTE_MESSAGE,
            },
        )
        _ok(opened)
        dispute = opened.json()
    if dispute["status"] == "open":
        resolved = client.post(
            f"{payout}/disputes/{dispute['id']}/resolve",
            headers=admin,
            json={
                "outcome": "accepted",
                "note": "Confirmed in the CRM: the spif is owed.",
                "adjustment": {"amount": "250.00", "currency": "USD"},
            },
        )
        _ok(resolved)
        dispute = resolved.json()
    adjustment = dispute["adjustment"]
    if adjustment is not None and adjustment["status"] == "pending":
        _ok(client.post(f"{payout}/adjustments/{adjustment['id']}/approve", headers=admin2))
    return {"dispute": dispute["id"]}


def load_planning(
    client: httpx.Client, urls: dict[str, str], admin: dict[str, str], secret: str, today: date
) -> dict[str, int]:
    """Planning and insight (quota-service): team `east` (Ada and her reps), KPI targets at the
    input, middle and output levels for rep-cleo and the team, and CRM activity (calls,
    meetings, emails, demos; opportunities created this quarter, won, lost or open) so
    `GET /scorecards/...` shows all three levels. Returns the deals it sent, as `expected`."""
    quarter, first = quarter_of(today)
    span = max((today - first).days, 0)
    quota = urls["quota-service"]
    members = [{"payee": rep, "valid_from": first.isoformat()} for rep in REPS]
    team = {"name": "East", "lead": MANAGER, "members": members}
    _ok(client.put(f"{quota}/teams/east", headers=admin, json=team))
    targets = {
        f"payee:{REPS[1]}": {
            "calls": "40",
            "meetings": "12",
            "new_opportunities": "6",
            "win_rate": "0.5",
            "sales_cycle_days": "30",
            "revenue": "200000",
        },
        "team:east": {
            "calls": "160",
            "meetings": "48",
            "new_opportunities": "24",
            "win_rate": "0.5",
            "sales_cycle_days": "30",
            "revenue": "800000",
        },
    }
    for subject, values in targets.items():
        for kpi, value in values.items():
            _ok(
                client.put(f"{quota}/targets/{subject}/{kpi}/{quarter}", headers=admin, json={"value": value})
            )
    sent: dict[str, int] = {}
    for i, rep in enumerate(REPS):
        for n, status in enumerate(("won", "lost", "lost", "open", "open"), start=1):
            created = first + timedelta(days=(n * 11 + i * 5) % (span + 1))
            closed = min(created + timedelta(days=10 + 7 * n), today)
            deal = {
                "external_id": f"{quarter}-P{i}{n}",
                "status": status,
                "amount": str(10000 + 2500 * n),
                "currency": "USD",
                "created_date": created.isoformat(),
                "close_date": None if status == "open" else closed.isoformat(),
                "changed_at": f"{(created if status == 'open' else closed).isoformat()}T12:00:00+00:00",
                "owner": f"generic:{rep}",
                "type": "new",
                "lead_source": ("web", "partner", "event")[n % 3],
            }
            _send(client, urls["deal-ingest"], secret, f"demo-{deal['external_id']}-r1", deal)
            sent[f"generic:{deal['external_id']}"] = 1
        for kind, count in (("call", 9 + 2 * i), ("meeting", 3 + i), ("email", 12), ("demo", 1 + i % 2)):
            for k in range(count):
                day = first + timedelta(days=(k * 3 + i) % (span + 1))
                activity = {
                    "external_id": f"{quarter}-A{i}-{kind}-{k}",
                    "kind": kind,
                    "owner": f"generic:{rep}",
                    "occurred_at": f"{day.isoformat()}T10:00:00+00:00",
                }
                _send(
                    client,
                    urls["deal-ingest"],
                    secret,
                    f"demo-{activity['external_id']}",
                    activity,
                    "activity",
                )
    return sent


def _send(
    client: httpx.Client,
    url: str,
    secret: str,
    msg_id: str,
    data: dict[str, Any],
    kind: str = "deal.snapshot",
) -> None:
    body = json.dumps({"type": kind, "data": data}).encode()
    headers = {"content-type": "application/json", **signed_headers(secret, msg_id, body)}
    _ok(client.post(f"{url}/webhooks/generic", content=body, headers=headers))


def _ok(response: httpx.Response) -> None:
    if not response.is_success:
        raise SystemExit(
            f"demo: {response.request.method} {response.request.url} -> "
            f"{response.status_code} {response.text}"
        )


def _wait_until_settled(
    client: httpx.Client, urls: dict[str, str], admin: dict[str, str], expected: dict[str, int]
) -> None:
    """Wait until calc-engine holds every demo revision and payout-service shows every
    ledger entry calc-engine posted for the demo's own people, so the printed curl shows
    final numbers. Only the demo's deals and payees are looked at: whatever else the stack
    holds (deals sent by hand, other payees) never keeps a second `make up` from settling."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        held = {d["deal"]: d["revision"] for d in _json(client, f"{urls['calc-engine']}/deals", admin)}
        if all(held.get(deal, 0) >= revision for deal, revision in expected.items()):
            posted = {
                payee: len(_json(client, f"{urls['calc-engine']}/ledger?payee={payee}&limit=5000", admin))
                for payee in [MANAGER, *REPS]
            }
            shown = {
                payee: sum(
                    period["entries"]
                    for period in _json(client, f"{urls['payout-service']}/statements/{payee}", admin)[
                        "pay_periods"
                    ]
                )
                for payee in [MANAGER, *REPS]
            }
            if any(posted.values()) and shown == posted:
                return
        time.sleep(0.5)
    raise SystemExit("demo: the numbers did not settle within 90s; see `make logs`")


def _json(client: httpx.Client, url: str, headers: dict[str, str]) -> Any:
    response = client.get(url, headers=headers)
    _ok(response)
    return response.json()
