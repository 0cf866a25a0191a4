"""The benchmark's workload (issue #10 item 6), pure: a realistic plan, a payee hierarchy
with quotas, and a seeded mixed stream of deal events (new, changed, cancelled).

- Plan: attainment tiers paid retroactively (crossing 100% re-rates the whole period), a
  2% manager override on the team's roll-up (every manager above the rep), and a spif on
  one product for the current quarter.
- Payees: one VP over managers over reps (1,000 in all by default), a quota per rep for
  the current quarter.
- Stream: new deals closing today, changes of earlier ones (a new amount), cancellations.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from provisio_cli.demo import quarter_of as demo_quarter

PLAN_ID = "bench"
SPIF_PRODUCT = "widget-pro"
EventKind = Literal["new", "changed", "cancelled"]


def quarter_of(day: date) -> tuple[date, date, str]:
    """The first and last day of `day`'s quarter, and its name (`2026-Q4`)."""
    name, first = demo_quarter(day)
    following = date(first.year + (first.month == 10), (first.month + 2) % 12 + 1, 1)
    return first, following - timedelta(days=1), name


def plan_yaml(today: date) -> str:
    """The benchmark plan, effective for `today`'s year."""
    first, last, _ = quarter_of(today)
    return f"""id: {PLAN_ID}
currency: USD
period: quarter
pay_frequency: month
effective: {{from: {today.year}-01-01, to: {today.year}-12-31}}
components:
  - id: new-business
    kind: commission
    measure: {{metric: amount, deal_types: [new, upsell]}}
    credit: [owner]
    tiers:
      basis: attainment
      method: retroactive
      bands:
        - {{to: 100, rate: "0.08"}}
        - {{to: 150, rate: "0.12"}}
        - {{rate: "0.15"}}
  - id: manager-override
    kind: commission
    applies_to: {{roles: [manager]}}
    measure: {{metric: amount}}
    credit: [team_rollup]
    rate: "0.02"
  - id: widget-spif
    kind: spif
    window: {{from: {first.isoformat()}, to: {last.isoformat()}}}
    measure: {{metric: amount, products: [{SPIF_PRODUCT}]}}
    per_deal: "250"
"""


@dataclass(frozen=True)
class Payee:
    """One payee of the hierarchy."""

    id: str
    manager: str | None
    roles: tuple[str, ...]


def hierarchy(count: int = 1000, managers: int = 49) -> list[Payee]:
    """One VP, `managers` managers under the VP, and reps under the managers (`count` in all),
    managers first (a payee's manager is always listed before it)."""
    people = [Payee("vp", None, ("manager",))]
    people += [Payee(f"mgr-{m:03d}", "vp", ("manager",)) for m in range(managers)]
    people += [
        Payee(f"rep-{r:04d}", f"mgr-{r % managers:03d}", ("rep",)) for r in range(count - 1 - managers)
    ]
    return people


def reps(people: list[Payee]) -> list[str]:
    """The ids of the payees who own deals."""
    return [p.id for p in people if "rep" in p.roles]


def payee_body(payee: Payee) -> dict[str, Any]:
    """`PUT /payees/{id}`'s body: on the benchmark plan."""
    body: dict[str, Any] = {"name": payee.id, "roles": list(payee.roles), "assignments": [{"plan": PLAN_ID}]}
    if payee.manager is not None:
        body["manager"] = payee.manager
    return body


def quotas_csv(people: list[Payee], today: date, amount: int = 60_000) -> str:
    """`POST /import/quotas`'s body: every rep's quota for the current quarter."""
    _, _, period = quarter_of(today)
    return "payee,period,amount\n" + "".join(f"{rep},{period},{amount}\n" for rep in reps(people))


@dataclass(frozen=True)
class DealEvent:
    """One webhook of the stream: its kind and the generic door's `data`."""

    kind: EventKind
    deal: str  # the external id
    data: dict[str, Any]


def stream(
    count: int,
    owners: list[str],
    today: date,
    *,
    seed: int = 10,
    prefix: str = "B",
    changed: float = 0.2,
    cancelled: float = 0.1,
    start: datetime | None = None,
) -> list[DealEvent]:
    """`count` events: new deals, and changes and cancellations of deals sent earlier in
    the stream (shares `changed` and `cancelled`), each with a later `changed_at`."""
    rnd = random.Random(seed)
    clock = start or datetime.now(UTC)
    events: list[DealEvent] = []
    live: dict[str, dict[str, Any]] = {}
    for n in range(count):
        clock += timedelta(milliseconds=1)
        roll = rnd.random()
        if live and roll < cancelled:
            deal = rnd.choice(sorted(live))
            data = dict(live.pop(deal), status="cancelled", changed_at=clock.isoformat())
            events.append(DealEvent("cancelled", deal, data))
            continue
        if live and roll < cancelled + changed:
            deal = rnd.choice(sorted(live))
            amount = f"{rnd.randrange(1_000, 50_000)}.{rnd.randrange(100):02d}"
            lines = [dict(line, amount=amount) for line in live[deal]["lines"]]
            data = live[deal] = dict(live[deal], amount=amount, lines=lines, changed_at=clock.isoformat())
            events.append(DealEvent("changed", deal, dict(data)))
            continue
        deal = f"{prefix}-{n}"
        amount = f"{rnd.randrange(1_000, 50_000)}.{rnd.randrange(100):02d}"
        product = SPIF_PRODUCT if rnd.random() < 0.3 else "platform"
        data = {
            "external_id": deal,
            "status": "won",
            "amount": amount,
            "currency": "USD",
            "close_date": today.isoformat(),
            "changed_at": clock.isoformat(),
            "owner": rnd.choice(owners),
            "type": "new" if rnd.random() < 0.8 else "upsell",
            "lines": [{"product": product, "amount": amount, "margin": "0"}],
        }
        live[deal] = data
        events.append(DealEvent("new", deal, dict(data)))
    return events
