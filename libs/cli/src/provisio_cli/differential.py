"""Differential check: the running system computes what the engine computes.

A seeded random scenario (a plan, payees in a hierarchy, quotas with gaps, fx rates and
10-30 deals with 1-4 snapshots each) goes through the real services: reference data by
REST to quota-service, every deal snapshot as a signed webhook to deal-ingest in shuffled
order, with CRM retries (the same webhook-id again) and duplicate snapshots (the same data
under a new webhook-id). Once the system has settled (`run_scenario` says exactly when),
calc-engine's ledger, payout-service's statements and calc-engine's exceptions are
compared to the cent (full precision) with libs/calc `calculate` on the same inputs, where
each deal's revisions are numbered 1..n in `changed_at` order: that is what the services
must reproduce whatever the arrival order.

`as_of` is the real current UTC date, because calc-engine evaluates "as of today" (its
reconciliation uses today's UTC date); every date in a scenario lies in 2024-12..2026-06,
so the outcome does not depend on the day the check runs (unless a run crosses midnight
UTC, or runs before July 2026).

Everything a scenario creates is namespaced (plan `diff-<ns>`, payees `<ns>-...`, CRM
references `hubspot:<ns>...`, deal source `diff<ns>`, webhook-ids `<ns>-...`), so several
seeds can share one stack. Fx rates are not namespaced (a rate is per day and currency
pair), so every scenario uses the same fixed table (`FX_TABLE`).

Pure part: `scenario`, `deliveries`, `offline_inputs`, `expected`, `compare`, `describe`.
Driving part (httpx, async): `run_scenario`, `check_seed` (in one of `MODES`: shuffled,
in-order, control). `provisio check-differential` (`run`) runs seeds against throwaway
stacks; tests/e2e/test_differential.py runs a few on the e2e stack.
"""

from __future__ import annotations

import asyncio
import calendar
import json
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from provisio_calc import (
    Deal,
    FxRate,
    Payee,
    Plan,
    PlanInvalid,
    Quota,
    calculate,
    load_plan,
    local_day,
    minor_units,
)
from provisio_calc.numbers import exact_sum, format_decimal
from provisio_common.webhooks import signed_headers

YEAR = 2025
TIMEZONES = ("UTC", "Europe/Oslo", "America/New_York")
PRODUCTS = ("widget-pro", "gadget", "service-pack")
LATEST_CHANGE = datetime(2026, 6, 30, tzinfo=UTC)  # every changed_at lies before this
ZERO = Decimal(0)

# One fixed table for every scenario: `from -> to` rates from a day on. The first day of
# each pair leaves earlier deals in that currency parked as `missing_fx`.
FX_TABLE: dict[tuple[str, str], tuple[tuple[date, str], ...]] = {
    ("EUR", "USD"): (
        (date(2025, 2, 10), "1.0825"),
        (date(2025, 6, 2), "1.1342"),
        (date(2025, 10, 1), "1.1718"),
    ),
    ("GBP", "USD"): ((date(2025, 3, 3), "1.2618"), (date(2025, 8, 1), "1.32755")),
    ("USD", "EUR"): ((date(2025, 2, 10), "0.9238"), (date(2025, 7, 1), "0.85171")),
    ("GBP", "EUR"): ((date(2025, 4, 1), "1.1953"),),
}
REFERENCE_TOPICS = ("plans.v1", "payees.v1", "quotas.v1", "fxrates.v1")
DEAL_TOPICS = ("deals.v1",)
MAX_SHOWN = 60  # differences printed per seed


# ------------------------------------------------------------------------------ the scenario


@dataclass(frozen=True)
class Scenario:
    """One seeded scenario: reference data, deal histories and the as-of day.

    `deals` maps each deal key (`source:external_id`) to its snapshots (the `data` object
    of deals.v1 without `revision`) in `changed_at` order; `crm_index` maps the CRM
    references in `crm_ids` to payee ids (what calc-engine resolves owners with).
    """

    seed: int
    namespace: str
    plan_id: str
    plan: dict[str, Any]
    payees: list[dict[str, Any]]
    quotas: list[tuple[str, str, str]]
    fx: list[tuple[date, str, str, str]]
    deals: dict[str, list[dict[str, Any]]]
    crm_index: dict[str, str]
    as_of: date

    @property
    def payee_ids(self) -> set[str]:
        """The ids of the scenario's payee list."""
        return {p["id"] for p in self.payees}


@dataclass(frozen=True)
class _People:
    payees: list[dict[str, Any]]
    reps: list[str]
    managers: list[str]
    refs: dict[str, str]  # payee id -> its CRM reference, for those that have one


def scenario(
    seed: int,
    *,
    namespace: str,
    histories: bool = True,
    as_of: date | None = None,
    deal_count: int | None = None,
    teams: int | None = None,
) -> Scenario:
    """The scenario of `seed`, everything named under `namespace` (letters and digits).

    With `histories=False` every deal keeps only its last snapshot (the same deals
    otherwise): the control case, where arrival order and history cannot matter.
    `as_of` defaults to today (UTC), like calc-engine. `deal_count` (default: 10-30,
    drawn) and `teams` (default: 1-2 managers, drawn) scale a scenario up, e.g. the fault
    suite's 2,000 deals over a dozen teams; left out, a seed's scenario is what it always was.
    """
    if not namespace.isalnum():
        raise ValueError(f"namespace must be letters and digits, got {namespace!r}")
    rng = random.Random(seed)
    plan_id = f"diff-{namespace}"
    plan = _plan(rng, namespace, plan_id)
    people = _people(rng, namespace, plan_id, teams)
    quotas = _quotas(rng, people, plan["period"])
    deals = _deals(rng, namespace, plan, people, deal_count)
    if not histories:
        deals = {key: history[-1:] for key, history in deals.items()}
    currencies = {snap["currency"] for history in deals.values() for snap in history}
    fx = [
        (day, source, plan["currency"], rate)
        for (source, target), rows in sorted(FX_TABLE.items())
        if target == plan["currency"] and source in currencies
        for day, rate in rows
    ]
    return Scenario(
        seed=seed,
        namespace=namespace,
        plan_id=plan_id,
        plan=plan,
        payees=people.payees,
        quotas=quotas,
        fx=fx,
        deals=deals,
        crm_index={ref: payee for payee, ref in people.refs.items()},
        as_of=as_of or datetime.now(UTC).date(),
    )


def _money(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


def _plan(rng: random.Random, ns: str, plan_id: str) -> dict[str, Any]:
    """A plan document that load_plan accepts (drawn again while it does not)."""
    while True:
        period = rng.choice(["quarter", "quarter", "month"])
        doc: dict[str, Any] = {
            "id": plan_id,
            "name": f"Differential {ns}",
            "currency": rng.choice(["USD", "EUR"]),
            "timezone": rng.choice(TIMEZONES),
            "period": period,
            "pay_frequency": "month",
            "effective": {"from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31"},
            "components": _components(rng, period),
        }
        if rng.random() < 0.3:
            doc["rounding"] = rng.choice(["half_up", "half_even", "down"])
        if rng.random() < 0.65:
            doc["clawback"] = {"window_days": rng.randint(30, 120)}
        if rng.random() < 0.25:
            doc["draw"] = {
                "amount": rng.choice(["500", "750.50", "1200"]),
                "per": "month",
                "recoverable": rng.random() < 0.6,
            }
        try:
            load_plan(json.dumps(doc))
        except PlanInvalid:
            continue
        return doc


def _tiers(rng: random.Random, period: str) -> dict[str, Any]:
    """The main commission: attainment tiers (2-3 bands), maybe a threshold and a cap."""
    cuts = sorted(rng.sample([50, 80, 100, 120, 150], rng.choice([1, 2])))
    rates = sorted(rng.sample(["0.04", "0.06", "0.08", "0.1", "0.125", "0.15"], len(cuts) + 1), key=Decimal)
    bands: list[dict[str, Any]] = [{"to": cut, "rate": rate} for cut, rate in zip(cuts, rates, strict=False)]
    bands.append({"rate": rates[-1]})
    comp: dict[str, Any] = {
        "id": "core",
        "kind": "commission",
        "measure": {"metric": "amount"},
        "tiers": {"basis": "attainment", "method": rng.choice(["marginal", "retroactive"]), "bands": bands},
    }
    if rng.random() < 0.5:
        comp["measure"]["deal_types"] = ["new", "upsell"]
    if rng.random() < 0.3:
        comp["threshold"] = rng.choice([30, 40, 50])
    if rng.random() < 0.3:
        comp["cap"] = "6000" if period == "quarter" else "2500"
    return comp


def _extra_components(rng: random.Random) -> list[dict[str, Any]]:
    """A random subset of the other component shapes (no contests)."""
    start = rng.randint(1, 10)
    end = min(12, start + rng.randint(0, 2))
    last = calendar.monthrange(YEAR, end)[1]
    pool: list[dict[str, Any]] = [
        {
            "id": "renewals",
            "kind": "commission",
            "measure": {"metric": "amount", "deal_types": ["renewal"]},
            "rate": rng.choice(["0.03", "0.025"]),
        },
        {
            "id": "per-deal",
            "kind": "commission",
            "measure": {"metric": "amount", "deal_types": ["new"]},
            "per_deal": rng.choice(["150", "175.25"]),
        },
        {
            "id": "club",
            "kind": "bonus",
            "when": {"attainment_at_least": rng.choice([60, 80, 100, 110])},
            "amount": rng.choice(["1500", "2500.50"]),
        },
        {
            "id": "spif",
            "kind": "spif",
            "window": {"from": f"{YEAR}-{start:02d}-01", "to": f"{YEAR}-{end:02d}-{last:02d}"},
            "measure": {"metric": "amount", **({"products": ["widget-pro"]} if rng.random() < 0.5 else {})},
            **({"per_deal": "300"} if rng.random() < 0.5 else {"rate": "0.015"}),
        },
        {
            "id": "override",
            "kind": "commission",
            "applies_to": {"roles": ["manager"]},
            "credit": ["team_rollup"],
            "measure": {"metric": "amount"},
            "rate": rng.choice(["0.01", "0.0125"]),
        },
        {
            "id": "accelerator",
            "kind": "commission",
            "target_incentive": rng.choice(["5000", "4500"]),
            "tiers": {
                "basis": "attainment",
                "method": "marginal",
                "bands": [{"to": 100, "multiplier": "1"}, {"multiplier": rng.choice(["1.5", "2"])}],
            },
        },
        {
            "id": "volume",
            "kind": "commission",
            "tiers": {
                "basis": "value",
                "method": rng.choice(["marginal", "retroactive"]),
                "bands": [{"to": "20000", "rate": "0.01"}, {"rate": "0.02"}],
            },
        },
    ]
    return [c for c in pool if rng.random() < 0.45]


def _components(rng: random.Random, period: str) -> list[dict[str, Any]]:
    return [_tiers(rng, period), *_extra_components(rng)]


def _people(rng: random.Random, ns: str, plan_id: str, team_count: int | None = None) -> _People:
    """Managers (role manager, maybe under a second-level manager) over 2-4 reps each;
    `team_count` managers when given (else 1, or 1-2 under a second-level manager)."""
    assignment = [{"plan": plan_id}]
    payees: list[dict[str, Any]] = []
    top: str | None = None
    if rng.random() < 0.5:
        top = f"{ns}-vp"
        payees.append({"id": top, "name": "VP Sales", "roles": ["manager"], "assignments": assignment})
    teams = team_count if team_count is not None else rng.choice([1, 2]) if top else 1
    managers: list[str] = []
    reps: list[str] = []
    refs: dict[str, str] = {}
    rep_docs: list[dict[str, Any]] = []
    for t in range(1, teams + 1):
        manager = f"{ns}-m{t}"
        managers.append(manager)
        payees.append(
            {
                "id": manager,
                "name": f"Manager {t}",
                "manager": top,
                "roles": ["manager"],
                "assignments": assignment,
            }
        )
        for i in range(1, rng.randint(2, 4) + 1):
            rep = f"{ns}-r{t}{i}"
            reps.append(rep)
            doc: dict[str, Any] = {"id": rep, "name": f"Rep {t}.{i}", "manager": manager, "roles": ["rep"]}
            if rng.random() < 0.6:
                refs[rep] = f"hubspot:{ns}u{t}{i}"
                doc["crm_ids"] = [refs[rep]]
            doc["assignments"] = assignment
            rep_docs.append(doc)
    return _People(payees + rep_docs, reps, managers, refs)


def _quarter_amount(rng: random.Random) -> int:
    return rng.randrange(15_000, 60_001, 2_500)


def _quota_rows(rng: random.Random, payee: str, period: str) -> list[tuple[str, str, str]]:
    """One payee's quota rows: exact rows, finer rows that tile, gaps, coarse rows."""
    quarters = [f"{YEAR}-Q{q}" for q in range(1, 5)]
    months = [f"{YEAR}-{m:02d}" for m in range(1, 13)]
    if period == "month":
        style = rng.choices(["months", "gap", "quarters", "year+months"], weights=[55, 25, 5, 15])[0]
        rows = {m: rng.randrange(5_000, 20_001, 500) for m in months}
        if style == "gap":
            del rows[rng.choice(months)]
        elif style == "quarters":  # a coarser quota is never divided: every month is missing
            rows = {q: _quarter_amount(rng) for q in quarters}
        elif style == "year+months":
            rows[str(YEAR)] = sum(rows.values())
    else:
        style = rng.choices(
            ["quarters", "tile", "gap", "year", "year+quarters"], weights=[45, 20, 15, 5, 15]
        )[0]
        rows = {q: _quarter_amount(rng) for q in quarters}
        if style == "tile":  # one quarter given as its three months
            q = rng.randint(1, 4)
            del rows[f"{YEAR}-Q{q}"]
            rows.update(
                {f"{YEAR}-{(q - 1) * 3 + m:02d}": rng.randrange(5_000, 20_001, 500) for m in (1, 2, 3)}
            )
        elif style == "gap":
            del rows[rng.choice(quarters)]
        elif style == "year":  # never divided: every quarter is missing
            rows = {str(YEAR): 4 * _quarter_amount(rng)}
        elif style == "year+quarters":
            rows[str(YEAR)] = sum(rows.values()) + 10_000
    return [(payee, p, str(amount)) for p, amount in sorted(rows.items())]


def _quotas(rng: random.Random, people: _People, period: str) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for payee in [*people.managers, *people.reps]:
        rows.extend(_quota_rows(rng, payee, period))
    return rows


# ------------------------------------------------------------------------------ deals


def _random_day(rng: random.Random, month: int) -> date:
    return date(YEAR, month, rng.randint(1, calendar.monthrange(YEAR, month)[1]))


def _iso(moment: datetime, rng: random.Random) -> str:
    """A timestamp with its offset, sometimes written with `Z` when the offset is 0."""
    text = moment.isoformat()
    return text.replace("+00:00", "Z") if rng.random() < 0.5 else text


def _close_bare(rng: random.Random, zone: ZoneInfo) -> tuple[str, datetime]:
    day = _random_day(rng, rng.randint(1, 12))
    return day.isoformat(), datetime(day.year, day.month, day.day, 12, tzinfo=zone)


def _close_offset(rng: random.Random, zone: ZoneInfo) -> tuple[str, datetime]:
    offset = timezone(timedelta(hours=rng.choice([0, -5, -4, 1, 2, 9])))
    day = _random_day(rng, rng.randint(1, 12))
    moment = datetime(
        day.year, day.month, day.day, rng.randint(0, 23), rng.choice([0, 15, 30, 45]), tzinfo=offset
    )
    return _iso(moment, rng), moment


def _close_local_midnight(rng: random.Random, zone: ZoneInfo) -> tuple[str, datetime]:
    """Local midnight at a month start in the plan timezone, or the second before it."""
    month = rng.choice([1, 2, 4, 4, 7, 7, 10, 10, 12])
    moment = datetime(YEAR, month, 1, tzinfo=zone)
    if month > 1 and rng.random() < 0.4:
        last = calendar.monthrange(YEAR, month - 1)[1]
        moment = datetime(YEAR, month - 1, last, 23, 59, 59, tzinfo=zone)
    return moment.isoformat(), moment


def _close_utc_edge(rng: random.Random, zone: ZoneInfo) -> tuple[str, datetime]:
    """23:30 local on a month's last day written in UTC, or UTC midnight on a month's first."""
    month = rng.choice([3, 3, 6, 6, 9, 12, 5])
    if rng.random() < 0.5:
        last = calendar.monthrange(YEAR, month)[1]
        moment = datetime(YEAR, month, last, 23, 30, tzinfo=zone).astimezone(UTC)
    else:
        moment = datetime(YEAR, month % 12 + 1, 1, tzinfo=UTC)
    return moment.isoformat().replace("+00:00", "Z"), moment


def _close_naive(rng: random.Random, zone: ZoneInfo) -> tuple[str, datetime]:
    """Late on a month's last day in UTC, written `+00:00`: what was once sent without an
    offset (UTC by rule 1); the doors now refuse a timestamp without one (422)."""
    month = rng.randint(1, 12)
    naive = datetime(YEAR, month, calendar.monthrange(YEAR, month)[1], rng.choice([22, 23]), 30)
    moment = naive.replace(tzinfo=UTC)
    return moment.isoformat(), moment


def _close_outside(rng: random.Random, zone: ZoneInfo) -> tuple[str, datetime]:
    """Around the ends of `effective` (some just inside in the plan timezone)."""
    text = rng.choice(
        [
            "2024-12-31",
            "2026-01-01",
            "2024-12-31T23:30:00-05:00",
            "2026-01-01T00:30:00+01:00",
            "2025-12-31T23:30:00Z",
        ]
    )
    if len(text) == 10:
        day = date.fromisoformat(text)
        return text, datetime(day.year, day.month, day.day, 12, tzinfo=zone)
    return text, datetime.fromisoformat(text.replace("Z", "+00:00"))


_CLOSE_MAKERS: dict[str, Callable[[random.Random, ZoneInfo], tuple[str, datetime]]] = {
    "bare": _close_bare,
    "offset": _close_offset,
    "midnight": _close_local_midnight,
    "utc_edge": _close_utc_edge,
    "naive": _close_naive,
    "outside": _close_outside,
}
_CLOSE_WEIGHTS = {"bare": 30, "offset": 25, "midnight": 16, "utc_edge": 14, "naive": 6, "outside": 4}


def _close(rng: random.Random, zone: ZoneInfo) -> tuple[str, datetime]:
    kind = rng.choices(list(_CLOSE_WEIGHTS), weights=list(_CLOSE_WEIGHTS.values()))[0]
    return _CLOSE_MAKERS[kind](rng, zone)


def _person(rng: random.Random, payee: str, people: _People) -> str:
    """How a deal names a payee: its CRM reference when it has one (mostly), else its id."""
    ref = people.refs.get(payee)
    return ref if ref is not None and rng.random() < 0.75 else payee


def _owner(rng: random.Random, ns: str, n: int, people: _People) -> str:
    roll = rng.random()
    if roll < 0.04:
        return f"hubspot:{ns}x{n}"  # a CRM user nobody has: unknown_payee
    if roll < 0.06:
        return f"{ns}-ghost"  # a bare id not on the payee list
    if roll < 0.16:
        return rng.choice(people.managers)
    return _person(rng, rng.choice(people.reps), people)


def _splits(rng: random.Random, people: _People) -> list[dict[str, str]]:
    roll = rng.random()
    if roll > 0.3 or len(people.reps) < 2:
        return []
    if roll < 0.03:
        shares = ["0.5", "0.4"]  # sums to 0.9: bad_split
    elif roll < 0.17 or len(people.reps) < 3:
        shares = rng.choice([["0.6", "0.4"], ["0.5", "0.5"], ["0.75", "0.25"]])
    else:
        shares = ["0.5", "0.25", "0.25"]
    chosen = rng.sample(people.reps, len(shares))
    return [{"payee": _person(rng, p, people), "share": s} for p, s in zip(chosen, shares, strict=True)]


def _lines(rng: random.Random, cents: int) -> list[dict[str, str]]:
    if rng.random() > 0.35:
        return []
    first = cents if rng.random() < 0.5 else cents * rng.randint(30, 70) // 100
    parts = [(rng.choice(PRODUCTS), first)]
    if first < cents:
        parts.append((rng.choice(PRODUCTS), cents - first))
    return [
        {"product": p, "amount": _money(c), "margin": _money(c * rng.randint(20, 45) // 100)}
        for p, c in parts
    ]


def _first_snapshot(
    rng: random.Random, ns: str, n: int, plan: Mapping[str, Any], people: _People
) -> tuple[dict[str, Any], datetime]:
    """A deal's won snapshot (no changed_at yet) and its close instant."""
    zone = ZoneInfo(plan["timezone"])
    close_text, close_instant = _close(rng, zone)
    others = [c for (c, target) in FX_TABLE if target == plan["currency"]]
    currency = plan["currency"] if rng.random() < 0.8 else rng.choice(others)
    cents = rng.randint(100_000, 4_000_000) + rng.choice([0, 0, 1, 49, 50, 99])
    data = {
        "source": f"diff{ns}",
        "external_id": f"D{n:02d}",
        "status": "won",
        "amount": _money(cents),
        "currency": currency,
        "close_date": close_text,
        "owner": _owner(rng, ns, n, people),
        "splits": _splits(rng, people),
        "lines": _lines(rng, cents),
        "type": rng.choice(["new", "new", "renewal", "upsell"]),
    }
    return data, close_instant


def _change(
    rng: random.Random, current: dict[str, Any], first: dict[str, Any], people: _People
) -> dict[str, Any]:
    """The content of the next revision: a reversal, a reduction, an increase, a new owner, a re-win."""
    cents = int(Decimal(current["amount"]) * 100)
    if current["status"] != "won":
        return {**current, "status": "won", "amount": rng.choice([first["amount"], _money(cents + 12_345)])}
    kind = rng.choices(
        ["cancel", "lost", "open", "reduce", "increase", "owner"], weights=[35, 10, 5, 25, 15, 10]
    )[0]
    if kind == "cancel":
        return {**current, "status": "cancelled"}
    if kind == "lost":
        return {**current, "status": "lost"}
    if kind == "open":
        return {**current, "status": "open"}
    if kind == "reduce":
        return {**current, "amount": _money(cents * rng.randint(40, 90) // 100)}
    if kind == "increase":
        return {**current, "amount": _money(cents * rng.randint(110, 150) // 100)}
    candidates = [
        p for p in [*people.reps, *people.managers] if current["owner"] not in (p, people.refs.get(p))
    ]
    return {**current, "owner": _person(rng, rng.choice(candidates), people)}


def _change_time(
    rng: random.Random, previous: datetime, close_day: date, window: int | None, zone: ZoneInfo
) -> datetime:
    """When the next revision is made: inside, outside or exactly at the edge of the window
    (in the plan timezone), at a local hour that may be midnight."""
    if window is None:
        return previous + timedelta(days=rng.randint(1, 200), hours=rng.randint(0, 23))
    where = rng.choice(["inside", "inside", "outside", "edge_in", "edge_out"])
    days = {
        "inside": rng.randint(1, max(1, window - 1)),
        "outside": rng.randint(window + 2, window + 90),
        "edge_in": window,
        "edge_out": window + 1,
    }[where]
    target = close_day + timedelta(days=days)
    moment = datetime(
        target.year, target.month, target.day, rng.choice([0, 9, 17, 23]), rng.choice([0, 30]), tzinfo=zone
    )
    return moment if moment > previous else previous + timedelta(hours=1)


def _history(
    rng: random.Random, ns: str, n: int, plan: Mapping[str, Any], people: _People
) -> list[dict[str, Any]]:
    """One deal's snapshots in changed_at order (changed_at explicit and strictly increasing)."""
    zone = ZoneInfo(plan["timezone"])
    first, close_instant = _first_snapshot(rng, ns, n, plan, people)
    won_at = close_instant + timedelta(hours=rng.randint(0, 72), minutes=rng.randint(0, 59))
    snapshots: list[tuple[dict[str, Any], datetime]] = []
    if rng.random() < 0.15:  # open before it was won
        opened = {**first, "status": "open", "amount": _money(int(Decimal(first["amount"]) * 90))}
        snapshots.append((opened, close_instant - timedelta(days=rng.randint(3, 40))))
    snapshots.append((first, won_at))
    window = plan.get("clawback", {}).get("window_days")
    close_day = local_day(first["close_date"], plan["timezone"])
    count = rng.choices([0, 1, 2], weights=[45, 35, 20])[0]
    current, at = first, won_at
    for _ in range(count):
        current = _change(rng, current, first, people)
        at = _change_time(rng, at, close_day, window, zone)
        if at >= LATEST_CHANGE:
            break
        snapshots.append((current, at))
    return [
        {**data, "changed_at": _iso(moment.astimezone(rng.choice([zone, UTC])), rng)}
        for data, moment in snapshots
    ]


def _deals(
    rng: random.Random, ns: str, plan: Mapping[str, Any], people: _People, count: int | None = None
) -> dict[str, list[dict[str, Any]]]:
    deals: dict[str, list[dict[str, Any]]] = {}
    for n in range(1, (count if count is not None else rng.randint(10, 30)) + 1):
        history = _history(rng, ns, n, plan, people)
        deals[f"{history[0]['source']}:{history[0]['external_id']}"] = history
    return deals


# ------------------------------------------------------------------------------ deliveries


@dataclass(frozen=True, eq=False)
class Delivery:
    """One webhook delivery: its webhook-id, the deal it carries, and whether it is a CRM
    retry of an earlier delivery (same webhook-id; must be answered 200 duplicate)."""

    msg_id: str
    deal: str
    data: dict[str, Any]
    retry: bool = False


def deliveries(scenario: Scenario, rng: random.Random, *, shuffle: bool = True) -> list[Delivery]:
    """Every snapshot once, in shuffled order (across and within deals), plus CRM retries
    (the same webhook-id later) and duplicate snapshots (the same data under a new
    webhook-id later). With `shuffle=False`: every snapshot once, in changed_at order."""
    firsts = [
        Delivery(f"{scenario.namespace}-{key.partition(':')[2]}-{k}", key, data)
        for key, history in scenario.deals.items()
        for k, data in enumerate(history, start=1)
    ]
    if not shuffle:
        return firsts
    order = list(firsts)
    rng.shuffle(order)
    out = list(order)
    for original in order:
        roll = rng.random()
        if roll >= 0.35:
            continue
        position = next(i for i, d in enumerate(out) if d is original)
        again = (
            Delivery(original.msg_id, original.deal, original.data, retry=True)
            if roll < 0.2
            else Delivery(original.msg_id + "-again", original.deal, original.data)
        )
        out.insert(rng.randint(position + 1, len(out)), again)
    return out


# ------------------------------------------------------------------------------ expected


@dataclass(frozen=True)
class StatementRow:
    """One (payee, pay period) of a statement: `payable` is the rounded string, or None
    when it is not compared (a plan with a draw: payout-service does not apply draws)."""

    earned: Decimal
    non_cash: Decimal
    payable: str | None


ExceptionKey = tuple[str, str, str, str]
"""(kind, payee, deal, detail): detail only for missing_quota (it names component and period)."""


@dataclass(frozen=True)
class Expected:
    """What the engine says, reduced to what the services show."""

    currency: str
    ledger: dict[tuple[str, str, str], Decimal]
    statements: dict[tuple[str, str], StatementRow]
    exceptions: set[ExceptionKey]
    deals: dict[str, Decimal] = field(default_factory=dict)  # each deal's sum over every line


@dataclass(frozen=True)
class OfflineInputs:
    """The engine's inputs for a scenario (deals with revisions, owners resolved)."""

    plan: Plan
    deals: list[Deal]
    payees: list[Payee]
    quotas: list[Quota]
    fx: list[FxRate]


def _resolved(data: Mapping[str, Any], index: Mapping[str, str]) -> dict[str, Any]:
    """Owner and split payees as payee ids where a payee lists the CRM reference."""
    return {
        **data,
        "owner": index.get(data["owner"], data["owner"]),
        "splits": [{**s, "payee": index.get(s["payee"], s["payee"])} for s in data.get("splits", [])],
    }


def offline_inputs(scenario: Scenario) -> OfflineInputs:
    """The scenario as `calculate` inputs: revisions 1..n in changed_at order per deal."""
    deals = [
        Deal.from_dict({**_resolved(data, scenario.crm_index), "revision": revision})
        for history in scenario.deals.values()
        for revision, data in enumerate(history, start=1)
    ]
    payees = [
        Payee(id=p["id"], name=p["name"], manager=p.get("manager"), roles=tuple(p["roles"]))
        for p in scenario.payees
    ]
    return OfflineInputs(
        plan=load_plan(json.dumps(scenario.plan)),
        deals=deals,
        payees=payees,
        quotas=[Quota(payee, period, Decimal(amount)) for payee, period, amount in scenario.quotas],
        fx=[FxRate(day, source, target, Decimal(rate)) for day, source, target, rate in scenario.fx],
    )


def _minor(amount: Decimal, currency: str) -> str:
    """An already-rounded amount with exactly the currency's minor digits (as statements show it)."""
    return format(amount.quantize(Decimal(1).scaleb(-minor_units(currency))), "f")


def exception_key(kind: str, payee: str | None, deal: str | None, detail: str) -> ExceptionKey:
    """How an exception is compared."""
    return (kind, payee or "", deal or "", detail if kind == "missing_quota" else "")


def expected(scenario: Scenario) -> Expected:
    """`calculate` on the scenario's inputs, reduced to ledger sums, statements and exceptions.

    Lines and payouts of payees not on the payee list are left out (the service drops the
    lines of payees not assigned to the plan), and so are their missing_quota exceptions.
    """
    inputs = offline_inputs(scenario)
    plan = inputs.plan
    result = calculate(
        plan,
        inputs.deals,
        payees=inputs.payees,
        quotas=inputs.quotas,
        fx=inputs.fx,
        as_of=scenario.as_of,
        explain=False,
    )
    known = scenario.payee_ids
    per_deal: dict[str, list[Decimal]] = {}
    for ln in result.lines:
        for entry in ln.entries if ln.payee in known else ():
            if entry.deal is not None:
                per_deal.setdefault(entry.deal, []).append(entry.amount)
    return Expected(
        currency=plan.currency,
        deals={deal: exact_sum(amounts) for deal, amounts in per_deal.items()},
        ledger={(ln.payee, ln.component, ln.period): ln.earned for ln in result.lines if ln.payee in known},
        statements={
            (p.payee, p.pay_period): StatementRow(
                p.earned, p.non_cash, None if plan.draw is not None else _minor(p.payable, plan.currency)
            )
            for p in result.payouts
            if p.payee in known
        },
        exceptions={
            exception_key(e.kind, e.payee, e.deal, e.detail)
            for e in result.exceptions
            if not (e.kind == "missing_quota" and e.payee not in known)
        },
    )


# ------------------------------------------------------------------------------ observed


@dataclass(frozen=True)
class Urls:
    """Base URLs of the four services."""

    ingest: str
    calc: str
    quota: str
    payout: str

    def all(self) -> list[str]:
        """Every service URL."""
        return [self.ingest, self.calc, self.quota, self.payout]


@dataclass(frozen=True)
class Credentials:
    """An admin bearer token and the generic webhook door's secret."""

    admin_token: str
    webhook_secret: str


@dataclass(frozen=True)
class View:
    """What the services show for one scenario at one moment."""

    ledger: dict[tuple[str, str, str], Decimal]
    statements: dict[tuple[str, str], StatementRow]
    exceptions: set[ExceptionKey]
    deals: dict[str, Decimal] = field(default_factory=dict)  # each deal's ledger sum


@dataclass
class Observed:
    """The settled view, plus every problem met on the way (wrong answers, no settling)."""

    view: View
    problems: list[str] = field(default_factory=list)
    deliveries: int = 0
    settle_s: float = 0.0


@dataclass
class _Sent:
    reference_events: int = 0  # quota-service's 201 answers: one event each
    deal_events: int = 0  # deal-ingest's new_revision answers: one deals.v1 event each
    accepted: set[str] = field(default_factory=set)  # deals deal-ingest took a snapshot of
    problems: list[str] = field(default_factory=list)
    taken: list[Delivery] = field(default_factory=list)  # the deliveries deal-ingest took, in order


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_metrics(texts: Iterable[str]) -> Samples:
    """Prometheus text samples of several /metrics pages, deduplicated by name and labels
    (services in one process share one registry)."""
    samples: Samples = {}
    for text in texts:
        for line in text.splitlines():
            match = _SAMPLE.match(line)
            if match is None or line.startswith("#"):
                continue
            labels = frozenset(_LABEL.findall(match.group(2) or ""))
            try:
                samples[(match.group(1), labels)] = float(match.group(3))
            except ValueError:
                continue
    return samples


def _sum(samples: Samples, name: str, **where: str | tuple[str, ...]) -> float | None:
    """The sum of the samples of `name` whose labels match; None when there is none at all."""
    total: float | None = None
    for (sample_name, labels), value in samples.items():
        if sample_name != name:
            continue
        found = dict(labels)
        if all(found.get(k) in ((v,) if isinstance(v, str) else v) for k, v in where.items()):
            total = (total or 0.0) + value
    return total


def _finished(samples: Samples) -> dict[str, float] | None:
    """Events calc-engine's consumer has finished with (applied, duplicate or dead-lettered),
    on the reference topics and on deals.v1; None when the metric is not there at all."""
    counts = {}
    for group, topics in (("reference", REFERENCE_TOPICS), ("deal", DEAL_TOPICS)):
        total = _sum(
            samples,
            "provisio_consumer_messages_total",
            service="calc-engine",
            topic=topics,
            outcome=("applied", "duplicate", "dead_lettered"),
        )
        counts[group] = total or 0.0
    if _sum(samples, "provisio_consumer_messages_total") is None:
        return None
    return counts


def _dead_lettered(samples: Samples) -> float:
    return _sum(samples, "provisio_consumer_messages_total", outcome="dead_lettered") or 0.0


class _Client:
    """The calls the check makes, with the admin token.

    With `patience_s`, a request is sent again like a CRM retries a delivery, for up to
    that long: while the connection fails (the service is down) or the answer is 502, 503
    or 504 (its database is down); the fault suite's stream uses it."""

    def __init__(
        self, http: httpx.AsyncClient, urls: Urls, creds: Credentials, *, patience_s: float = 0.0
    ) -> None:
        self.http = http
        self.urls = urls
        self.creds = creds
        self.admin = {"Authorization": f"Bearer {creds.admin_token}"}
        self.patience_s = patience_s

    async def request(self, method: str, url: str, **kwargs: Any) -> tuple[httpx.Response, int]:
        """One request, sent again (at most twice, or for `patience_s`) when the connection
        fails, e.g. a keep-alive connection the server closed meanwhile; returns the answer
        and the number of attempts. Every call the check makes may be repeated safely (PUTs
        are idempotent, a webhook is sent again with its webhook-id)."""
        deadline = time.monotonic() + self.patience_s
        attempt = 0
        while True:
            attempt += 1
            patient = time.monotonic() < deadline
            try:
                response = await self.http.request(method, url, **kwargs)
            except httpx.TransportError:
                if attempt >= 3 and not patient:
                    raise
                await asyncio.sleep(min(0.2 * attempt, 1.0))
                continue
            if response.status_code in (502, 503, 504) and patient:
                await asyncio.sleep(min(0.2 * attempt, 1.0))
                continue
            return response, attempt

    async def put(self, url: str, body: Any, sent: _Sent) -> None:
        headers = {**self.admin, "content-type": "application/json"}
        r, _ = await self.request("PUT", url, content=json.dumps(body), headers=headers)
        if r.status_code == 201:
            sent.reference_events += 1
        elif r.status_code != 200:
            sent.problems.append(f"PUT {url} answered {r.status_code}: {r.text[:300]}")

    async def get(self, url: str) -> Any:
        r, _ = await self.request("GET", url, headers=self.admin)
        if r.status_code != 200:
            raise _NotReady(f"GET {url} answered {r.status_code}: {r.text[:200]}")
        return r.json()

    async def metrics(self) -> Samples:
        texts = []
        for base in self.urls.all():
            r, _ = await self.request("GET", f"{base}/metrics")
            texts.append(r.text if r.status_code == 200 else "")
        return parse_metrics(texts)

    async def deliver(self, delivery: Delivery, sent: _Sent) -> None:
        """Sign and send one delivery; a CRM retry must be answered 200 duplicate, any
        other delivery 202 (or 200 duplicate when the connection failed after it was taken)."""
        body = json.dumps({"type": "deal.snapshot", "data": delivery.data}).encode()
        headers = {
            "content-type": "application/json",
            **signed_headers(self.creds.webhook_secret, delivery.msg_id, body),
        }
        r, attempts = await self.request(
            "POST", f"{self.urls.ingest}/webhooks/generic", content=body, headers=headers
        )
        outcome = _outcome(r)
        duplicate = r.status_code == 200 and outcome == "duplicate"
        if delivery.retry and not duplicate:
            sent.problems.append(
                f"retry of webhook-id {delivery.msg_id} answered {r.status_code} {r.text[:200]} "
                "(expected 200 duplicate)"
            )
        elif not delivery.retry and r.status_code != 202 and not (duplicate and attempts > 1):
            sent.problems.append(f"delivery {delivery.msg_id} answered {r.status_code}: {r.text[:300]}")
        if r.status_code == 202 or (duplicate and attempts > 1):
            sent.accepted.add(delivery.deal)
            sent.taken.append(delivery)
        if r.status_code == 202 and outcome == "new_revision":
            sent.deal_events += 1


def _outcome(response: httpx.Response) -> str | None:
    """The `outcome` of a webhook answer, if it is a JSON object that has one."""
    try:
        answer = response.json()
    except ValueError:
        return None
    outcome = answer.get("outcome") if isinstance(answer, dict) else None
    return outcome if isinstance(outcome, str) else None


class _NotReady(Exception):
    """A read that failed; the poll is not settled."""


async def _send_reference_data(client: _Client, scenario: Scenario, sent: _Sent) -> None:
    """Plan, payees (managers first), quotas and fx rates to quota-service."""
    quota = client.urls.quota
    await client.put(f"{quota}/plans/{scenario.plan_id}", scenario.plan, sent)
    for payee in scenario.payees:
        body = {k: v for k, v in payee.items() if k != "id" and v is not None}
        await client.put(f"{quota}/payees/{payee['id']}", body, sent)
    for payee_id, period, amount in scenario.quotas:
        await client.put(f"{quota}/quotas/{payee_id}/{period}", {"amount": amount}, sent)
    for day, source, target, rate in scenario.fx:
        await client.put(f"{quota}/fx-rates/{day.isoformat()}/{source}/{target}", {"rate": rate}, sent)


@dataclass(frozen=True)
class _Poll:
    view: View
    waiting: list[str]


async def _read_view(
    client: _Client, scenario: Scenario
) -> tuple[View, dict[str, int], dict[str, int], list[str]]:
    """Ledger sums, statements and exceptions of the scenario; entry counts per payee in
    the ledger and on the statements; problems (a failed read, a wrong currency). A read
    that fails leaves its part out, so the rest still shows."""
    urls = client.urls
    parts: dict[tuple[str, str, str], list[Decimal]] = {}
    per_deal: dict[str, list[Decimal]] = {}
    ledger_count: dict[str, int] = {}
    statements: dict[tuple[str, str], StatementRow] = {}
    statement_count: dict[str, int] = {}
    problems: list[str] = []

    async def read(url: str) -> Any:
        try:
            return await client.get(url)
        except _NotReady as exc:
            problems.append(str(exc))
            return None

    for payee in sorted(scenario.payee_ids):
        entries = await read(f"{urls.calc}/ledger?payee={payee}&limit=5000")
        if entries is not None:
            if len(entries) >= 5000:
                problems.append(f"ledger of {payee} has 5000 entries or more: the read is truncated")
            ledger_count[payee] = len(entries)
            for e in entries:
                if e["plan"] == scenario.plan_id:
                    parts.setdefault((payee, e["component"], e["period"]), []).append(Decimal(e["amount"]))
                    if e["deal"] is not None:
                        per_deal.setdefault(e["deal"], []).append(Decimal(e["amount"]))
        answer = await read(f"{urls.payout}/statements/{payee}")
        for row in answer["pay_periods"] if answer is not None else []:
            statement_count[payee] = statement_count.get(payee, 0) + row["entries"]
            if row["currency"] != scenario.plan["currency"]:
                problems.append(f"statement {payee} {row['pay_period']} is in {row['currency']}")
                continue
            statements[(payee, row["pay_period"])] = StatementRow(
                Decimal(row["earned"]), Decimal(row["non_cash"]), row["payable"]
            )
    listed = await read(f"{urls.calc}/exceptions")
    exceptions = {
        exception_key(e["kind"], e["payee"], e["deal"], e["detail"])
        for e in listed or []
        if _ours(scenario, e)
    }
    ledger = {key: exact_sum(amounts) for key, amounts in parts.items()}
    deals = {deal: exact_sum(amounts) for deal, amounts in per_deal.items()}
    return View(ledger, statements, exceptions, deals), ledger_count, statement_count, problems


def _ours(scenario: Scenario, e: Mapping[str, Any]) -> bool:
    """An exception listed under the scenario's plan about its deals or its payees (a
    missing_quota only for a payee on the list)."""
    if e["plan"] != scenario.plan_id:
        return False
    if e["kind"] == "missing_quota":
        return e["payee"] in scenario.payee_ids
    return e["deal"] in scenario.deals or e["payee"] in scenario.payee_ids


async def _poll(client: _Client, scenario: Scenario, sent: _Sent, baseline: dict[str, float] | None) -> _Poll:
    """One look at the system: the view, and why it is not settled yet (empty: it may be)."""
    waiting: list[str] = []
    held = {d["deal"] for d in await client.get(f"{client.urls.calc}/deals")}
    unseen = sorted(sent.accepted - held)
    if unseen:
        waiting.append(f"calc-engine does not list {len(unseen)} deal(s) yet (e.g. {unseen[0]})")
    samples = await client.metrics()
    finished = _finished(samples)
    if finished is not None and baseline is not None:
        for group, published in (("reference", sent.reference_events), ("deal", sent.deal_events)):
            done = finished[group] - baseline[group]
            if done < published:
                waiting.append(f"calc-engine finished {done:.0f} of {published} {group} events")
    backlog = _sum(samples, "provisio_outbox_backlog_rows")
    if backlog:
        waiting.append(f"{backlog:.0f} outbox row(s) not yet published")
    view, ledger_count, statement_count, problems = await _read_view(client, scenario)
    lagging = [p for p in ledger_count if ledger_count[p] != statement_count.get(p, 0)]
    if lagging:
        waiting.append(f"payout-service has not every ledger entry of {', '.join(lagging)}")
    return _Poll(view, waiting + problems)


async def _settle(
    client: _Client,
    scenario: Scenario,
    sent: _Sent,
    baseline: dict[str, float] | None,
    timeout_s: float,
    interval_s: float,
    also: Callable[[], Awaitable[list[str]]] | None = None,
) -> tuple[View, list[str]]:
    """Poll until two consecutive polls at least `interval_s` apart both find nothing to
    wait for and show the same view. Gives up (returning the last view and why it is not
    settled) after `timeout_s` without any progress (a poll that differs from the one
    before), or after 10 x `timeout_s` in all: a busy stack may take long, a stuck one not.
    `also` adds reasons to wait of the caller's own (the fault suite's)."""
    started = time.monotonic()
    last_progress = started
    previous: _Poll | None = None
    while True:
        try:
            poll = await _poll(client, scenario, sent, baseline)
            if also is not None:
                poll = _Poll(poll.view, poll.waiting + await also())
        except (_NotReady, httpx.HTTPError, ValueError) as exc:
            poll = _Poll(previous.view if previous else View({}, {}, set()), [str(exc)])
        if not poll.waiting and previous is not None and not previous.waiting and poll.view == previous.view:
            return poll.view, []
        now = time.monotonic()
        if poll != previous:
            last_progress = now
        if now - last_progress > timeout_s or now - started > 10 * timeout_s:
            reasons = poll.waiting or ["the ledger, statements or exceptions kept changing"]
            return poll.view, [f"did not settle after {now - started:.0f}s: {'; '.join(reasons)}"]
        previous = poll
        await asyncio.sleep(interval_s)


async def run_scenario(
    urls: Urls,
    creds: Credentials,
    scenario: Scenario,
    rng: random.Random,
    *,
    shuffle: bool = True,
    timeout_s: float = 60.0,
    interval_s: float = 0.5,
) -> Observed:
    """Send the scenario through the services and read what they computed once settled.

    Reference data goes to quota-service (admin token), then every delivery of
    `deliveries(scenario, rng)` to deal-ingest's generic door, one at a time, signed.

    Settled means, in two consecutive polls `interval_s` apart: (1) calc-engine's
    `GET /deals` lists every deal deal-ingest accepted; (2) calc-engine's consumer has
    finished (applied, duplicate or dead-lettered; `provisio_consumer_messages_total`,
    counted from before the scenario) at least as many deals.v1 events as deal-ingest
    answered `new_revision`, and at least as many plans/payees/quotas/fxrates events as
    quota-service answered 201 (each publishes one event; calc-engine applies an event in
    the same transaction as the ledger entries it causes, and counts it after the commit);
    (3) no outbox has unpublished rows
    (`provisio_outbox_backlog_rows`); (4) payout-service shows as many entries on each
    payee's statements as calc-engine's ledger has for that payee; and (5) the ledger sums,
    statements and exceptions are identical in both polls.
    """
    async with httpx.AsyncClient(timeout=30) as http:
        client = _Client(http, urls, creds)
        sent = _Sent()
        before = await client.metrics()
        baseline = _finished(before) or {"reference": 0.0, "deal": 0.0}  # no sample yet: none finished
        dead_before = _dead_lettered(before)
        await _send_reference_data(client, scenario, sent)
        plan = deliveries(scenario, rng, shuffle=shuffle)
        for delivery in plan:
            await client.deliver(delivery, sent)
        missing = sorted(set(scenario.deals) - sent.accepted)
        if missing:
            sent.problems.append(f"deal-ingest accepted no snapshot of {', '.join(missing)}")
        started = time.monotonic()
        view, unsettled = await _settle(client, scenario, sent, baseline, timeout_s, interval_s)
        settle_s = time.monotonic() - started
        dead = _dead_lettered(await client.metrics()) - dead_before
    problems = sent.problems + unsettled
    if dead > 0:
        problems.append(f"{dead:.0f} message(s) were dead-lettered while the scenario ran (see GET /dlq)")
    return Observed(view, problems, len(plan), settle_s)


# ------------------------------------------------------------------------------ compare


def _text(value: Decimal) -> str:
    return format_decimal(value)


def compare(expected: Expected, observed: Observed) -> list[str]:
    """Every difference, human readable: the key, what the engine says, what the services show.

    A key only one side has counts as 0 on the other (a line that earns 0 may have no
    ledger entry; a pay period whose entries net to 0 may show or not). Ledger sums per
    (payee, component, period) and per deal (over every line) and statement
    `earned`/`non_cash` are compared exactly, `payable` as the rounded string.
    """
    out = [f"service: {p}" for p in observed.problems]
    view = observed.view
    for key in sorted(set(expected.ledger) | set(view.ledger)):
        want, got = expected.ledger.get(key, ZERO), view.ledger.get(key, ZERO)
        if want != got:
            out.append(f"ledger {'/'.join(key)}: expected {_text(want)}, observed {_text(got)}")
    for deal in sorted(set(expected.deals) | set(view.deals)):
        want, got = expected.deals.get(deal, ZERO), view.deals.get(deal, ZERO)
        if want != got:
            out.append(f"deal {deal}: expected {_text(want)}, observed {_text(got)}")
    zero = _minor(ZERO, expected.currency)
    for pay_key in sorted(set(expected.statements) | set(view.statements)):
        want_row = expected.statements.get(pay_key, StatementRow(ZERO, ZERO, zero))
        got_row = view.statements.get(pay_key, StatementRow(ZERO, ZERO, zero))
        name = f"statement {pay_key[0]} {pay_key[1]}"
        if want_row.earned != got_row.earned:
            out.append(f"{name} earned: expected {_text(want_row.earned)}, observed {_text(got_row.earned)}")
        if want_row.non_cash != got_row.non_cash:
            out.append(
                f"{name} non_cash: expected {_text(want_row.non_cash)}, observed {_text(got_row.non_cash)}"
            )
        if want_row.payable is not None and want_row.payable != got_row.payable:
            out.append(f"{name} payable: expected {want_row.payable}, observed {got_row.payable}")
    for exc in sorted(expected.exceptions - view.exceptions):
        out.append(f"exception missing: {_exception_text(exc)}")
    for exc in sorted(view.exceptions - expected.exceptions):
        out.append(f"exception unexpected: {_exception_text(exc)}")
    return out


def _exception_text(key: ExceptionKey) -> str:
    kind, payee, deal, detail = key
    parts = [kind, f"payee={payee or '-'}", f"deal={deal or '-'}"]
    return " ".join([*parts, f"({detail})"] if detail else parts)


def describe(scenario: Scenario) -> list[str]:
    """The scenario in a few lines (plan, people, deal histories), to read a failure."""
    plan = scenario.plan
    lines = [
        f"plan {scenario.plan_id}: {plan['currency']} {plan['period']} tz={plan['timezone']} "
        f"clawback={plan.get('clawback')} draw={plan.get('draw')} "
        f"components={[c['id'] for c in plan['components']]}",
        "payees: " + ", ".join(f"{p['id']}<{p.get('manager') or '-'}>" for p in scenario.payees),
    ]
    for key, history in scenario.deals.items():
        steps = [
            f"{d['status']} {d['amount']} {d['currency']} owner={d['owner']} close={d['close_date']} "
            f"changed={d['changed_at']}"
            for d in history
        ]
        lines.append(f"{key}: " + " | ".join(steps))
    return lines


MODES: dict[str, tuple[bool, bool]] = {
    "shuffled": (True, True),
    "in-order": (True, False),
    "control": (False, False),
}
"""mode -> (histories, shuffle). `shuffled`: the check; `in-order`: every snapshot once in
changed_at order (no retries, no duplicates); `control`: only each deal's last snapshot,
in order (arrival order and history cannot matter: a check of the harness itself)."""


async def check_seed(
    urls: Urls,
    creds: Credentials,
    seed: int,
    *,
    namespace: str | None = None,
    mode: str = "shuffled",
    timeout_s: float = 60.0,
) -> tuple[Scenario, Observed, list[str]]:
    """Build seed's scenario, run it through the services, compare with the engine."""
    histories, shuffle = MODES[mode]
    scen = scenario(seed, namespace=namespace or f"s{seed}", histories=histories)
    observed = await run_scenario(
        urls, creds, scen, random.Random(seed * 7919 + 17), shuffle=shuffle, timeout_s=timeout_s
    )
    return scen, observed, compare(expected(scen), observed)


# ------------------------------------------------------------------------------ the command


def run(
    seeds: int,
    first: int = 1,
    *,
    timeout_s: float = 60.0,
    mode: str = "shuffled",
    verbose: bool = False,
    per_stack: int = 10,
) -> int:
    """`provisio check-differential`: run `seeds` seeds from `first` in `mode` (see MODES),
    each batch of `per_stack` seeds on a new throwaway stack (like `provisio bench`; every
    deal event recomputes every plan held, so one stack for many seeds gets slower and
    slower); print OK or the differences per seed (with `verbose`, the failing scenario
    too); 1 if any seed differs."""
    chosen = list(range(first, first + seeds))
    failed: list[int] = []
    size = max(per_stack, 1)
    for start in range(0, len(chosen), size):
        batch = chosen[start : start + size]

        def work(urls: Urls, creds: Credentials, batch: list[int] = batch) -> list[int]:
            return asyncio.run(_run_seeds(urls, creds, batch, timeout_s, mode, verbose))

        failed += _on_throwaway_stack(work)
    print(f"{len(failed)} of {len(chosen)} seed(s) differ" + (f": {failed}" if failed else ""))
    return 1 if failed else 0


def _on_throwaway_stack(work: Callable[[Urls, Credentials], list[int]]) -> list[int]:
    """Start a stack on free ports in a temporary state folder, run `work`, stop the
    stack (by pid) and delete the folder."""
    from provisio_cli.bench import throwaway_stack
    from provisio_common.auth import mint_token

    with throwaway_stack("provisio-differential-") as stack:
        started = stack.start_processes()
        urls = Urls(
            started["deal-ingest"],
            started["calc-engine"],
            started["quota-service"],
            started["payout-service"],
        )
        secret = stack.config()["webhook_secrets"]["generic"]
        return work(urls, Credentials(mint_token(stack.settings(), "admin", "admin"), secret))


async def _run_seeds(
    urls: Urls, creds: Credentials, seeds: Iterable[int], timeout_s: float, mode: str, verbose: bool
) -> list[int]:
    """Run each seed on one stack, print its outcome; return the seeds that differ."""
    failed = []
    for seed in seeds:
        scen, observed, differences = await check_seed(urls, creds, seed, mode=mode, timeout_s=timeout_s)
        summary = (
            f"{len(scen.deals)} deals, {observed.deliveries} deliveries, settled in {observed.settle_s:.1f}s"
        )
        if not differences:
            print(f"seed {seed}: OK ({summary})", flush=True)
            continue
        failed.append(seed)
        print(f"seed {seed}: {len(differences)} difference(s) ({summary})", flush=True)
        for line in differences[:MAX_SHOWN]:
            print(f"  {line}")
        if len(differences) > MAX_SHOWN:
            print(f"  ... and {len(differences) - MAX_SHOWN} more")
        if verbose:
            for line in describe(scen):
                print(f"    {line}")
    return failed
