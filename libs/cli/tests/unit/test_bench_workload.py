"""The benchmark's workload: a valid realistic plan, a hierarchy of 1,000 payees, and a
mixed stream whose changes and cancellations follow the deals they touch."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from provisio_calc import Deal, Payee, Quota, calculate, load_plan
from provisio_cli.bench import earning
from provisio_cli.bench_workload import hierarchy, plan_yaml, quarter_of, quotas_csv, reps, stream

TODAY = date(2026, 12, 2)


def test_quarters() -> None:
    assert quarter_of(date(2026, 12, 2)) == (date(2026, 10, 1), date(2026, 12, 31), "2026-Q4")
    assert quarter_of(date(2027, 2, 28)) == (date(2027, 1, 1), date(2027, 3, 31), "2027-Q1")
    assert quarter_of(date(2027, 6, 30))[2] == "2027-Q2"


def test_the_plan_is_valid_with_retroactive_tiers_a_rollup_override_and_a_spif() -> None:
    plan = load_plan(plan_yaml(TODAY))
    kinds = {c.id: c.kind for c in plan.components}
    assert kinds == {"new-business": "commission", "manager-override": "commission", "widget-spif": "spif"}
    assert "method: retroactive" in plan_yaml(TODAY)
    assert "credit: [team_rollup]" in plan_yaml(TODAY)


def test_the_hierarchy_is_a_vp_over_managers_over_reps() -> None:
    people = hierarchy(1000)
    assert len(people) == len({p.id for p in people}) == 1000
    ids = [p.id for p in people]
    # A manager is listed before everyone who reports to them.
    assert all(p.manager is None or ids.index(p.manager) < ids.index(p.id) for p in people)
    assert [p.id for p in people if p.manager is None] == ["vp"]
    assert len(reps(people)) == 950
    assert quotas_csv(people, TODAY).count("\n") == 951
    assert quotas_csv(people, TODAY).splitlines()[1] == "rep-0000,2026-Q4,60000"


def test_the_stream_mixes_new_changed_and_cancelled_deals_in_order() -> None:
    owners = reps(hierarchy(100))
    events = stream(1000, owners, TODAY, seed=3, start=datetime(2026, 12, 2, tzinfo=UTC))
    kinds = [e.kind for e in events]
    assert 0.6 < kinds.count("new") / 1000 < 0.8
    assert kinds.count("changed") > 100 and kinds.count("cancelled") > 50
    seen: set[str] = set()
    cancelled: set[str] = set()
    for event in events:
        if event.kind == "new":
            assert event.deal not in seen
            seen.add(event.deal)
        else:  # touches a deal sent before and not cancelled yet
            assert event.deal in seen and event.deal not in cancelled
        if event.kind == "cancelled":
            cancelled.add(event.deal)
        assert event.data["external_id"] == event.deal and event.data["owner"] in owners
    stamps = [e.data["changed_at"] for e in events]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert set(earning(events)) == {f"generic:{d}" for d in seen - cancelled}
    # The same seed gives the same stream.
    assert stream(1000, owners, TODAY, seed=3, start=datetime(2026, 12, 2, tzinfo=UTC)) == events


def test_the_engine_pays_the_stream_under_the_plan() -> None:
    people = hierarchy(60, managers=4)
    owners = reps(people)
    events = stream(300, owners, TODAY, seed=5, start=datetime(2026, 12, 2, tzinfo=UTC))
    latest: dict[str, dict[str, object]] = {}
    for n, event in enumerate(events):
        latest[event.deal] = {**event.data, "source": "generic", "revision": n + 1}
    deals = [Deal.from_dict(d) for d in latest.values()]
    payees = [Payee(p.id, manager=p.manager, roles=p.roles) for p in people]
    quotas = [Quota(rep, "2026-Q4", Decimal(60000)) for rep in owners]
    result = calculate(load_plan(plan_yaml(TODAY)), deals, payees=payees, quotas=quotas, as_of=TODAY)
    components = {line.component for line in result.lines}
    assert components == {"new-business", "manager-override", "widget-spif"}
    assert {line.payee for line in result.lines if line.component == "manager-override"} >= {"vp"}
