"""The pure comparisons behind /estimate and /simulate: bands and limits crossed in either
direction, and simulation rows across versions and currencies."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from calc_engine.domain.estimate import (
    BandCrossing,
    LimitCrossing,
    changed_document,
    line_changes,
)
from calc_engine.domain.simulation import SimulationRow, range_totals, simulation_rows, simulation_totals
from provisio_calc import Line, load_plan
from provisio_calc.result import Entry

PLAN = load_plan(
    {
        "id": "p",
        "currency": "USD",
        "period": "quarter",
        "effective": {"from": "2027-01-01", "to": "2027-12-31"},
        "components": [
            {
                "id": "c",
                "kind": "commission",
                "tiers": {
                    "basis": "value",
                    "method": "marginal",
                    "bands": [{"to": "100", "rate": "0.1"}, {"to": "200", "rate": "0.2"}, {"rate": "0.3"}],
                },
                "cap": "40",
            },
            {"id": "t", "kind": "commission", "rate": "0.1", "threshold": "50"},
        ],
    }
)


def line(component: str, value: str, earned: str, **explanation: Any) -> Line:
    return Line("ann", component, "2027-Q1", Decimal(value), None, Decimal(earned), True, explanation, ())


def bands(*indexes: int) -> list[dict[str, int]]:
    return [{"band": i} for i in indexes]


def test_a_fall_across_two_bands_lists_both_highest_first_and_the_cap_released() -> None:
    before = line("c", "250", "40", bands=bands(0, 1, 2), cap={"applied": True})
    after = line("c", "50", "5", bands=bands(0), cap={"applied": False})

    [change] = line_changes(PLAN, [before], [after])

    assert change.delta == Decimal(-35)
    assert change.bands_crossed == (
        BandCrossing(2, "value", Decimal(200), None, Decimal("0.3"), None, "down"),
        BandCrossing(1, "value", Decimal(100), Decimal(200), Decimal("0.2"), None, "down"),
    )
    assert change.limits_crossed == (LimitCrossing("cap", Decimal(40), "down"),)


def test_a_line_that_appears_starts_from_nothing_and_one_that_vanishes_ends_at_nothing() -> None:
    [new] = line_changes(PLAN, [], [line("t", "80", "8", quota="100", threshold={"met": True})])
    assert (new.value_before, new.earned_before, new.attainment_before, new.delta) == (
        Decimal(0),
        Decimal(0),
        Decimal(0),
        Decimal(8),
    )
    assert new.limits_crossed == (LimitCrossing("threshold", Decimal(50), "up"),)
    [gone] = line_changes(PLAN, [line("c", "10", "1", bands=bands(0))], [])
    assert (gone.value_after, gone.attainment_after, gone.delta, gone.bands_crossed) == (
        Decimal(0),
        None,
        Decimal(-1),
        (),
    )


def test_unchanged_lines_are_left_out_and_the_rest_follow_the_plan_order() -> None:
    same = line("t", "80", "8")
    changes = line_changes(PLAN, [same, line("c", "1", "0.1")], [line("c", "2", "0.2"), same])
    assert [c.component for c in changes] == ["c"]


def test_a_change_is_the_latest_revision_even_when_history_ends_in_the_future() -> None:
    held = [
        {
            "revision": 1,
            "status": "open",
            "amount": "1",
            "close_date": None,
            "changed_at": "2027-01-05T10:00:00Z",
        },
        {
            "revision": 2,
            "status": "open",
            "amount": "2",
            "close_date": None,
            "changed_at": "2999-01-01T00:00:00Z",
        },
    ]
    document = changed_document(held, {"amount": "3"}, date(2027, 3, 1))
    assert document["changed_at"] == "2999-01-01T00:00:00.000001+00:00"
    assert (document["status"], document["amount"], document["close_date"]) == ("won", "3", "2027-03-01")


def test_range_totals_sum_the_entries_dated_inside_the_range() -> None:
    entries = (Entry(date(2027, 1, 5), Decimal(10), "d1"), Entry(date(2027, 4, 5), Decimal(-4), "d1"))
    dated = Line("ann", "c", "2027-Q1", Decimal(0), None, Decimal(6), True, {}, entries)
    assert range_totals([dated], date(2027, 1, 1), date(2027, 12, 31)) == {("ann", "c"): Decimal(6)}
    assert range_totals([dated], date(2027, 4, 1), date(2027, 4, 30)) == {("ann", "c"): Decimal(-4)}
    assert range_totals([dated], date(2027, 2, 1), date(2027, 3, 31)) == {}


def test_rows_keep_every_digit_and_leave_the_difference_out_across_currencies() -> None:
    tiny = Decimal("0.0000000000000000000000000001")
    current = {("ann", "c"): Decimal("1000000000000"), ("bob", "gone"): Decimal(5)}
    more = Decimal("1000000000000.0000000000000000000000000001")  # 41 digits: beyond a default context
    draft = {("ann", "c"): more}
    rows = simulation_rows(current, draft, ["c", "gone"], ["c"], comparable=True)
    assert rows == [
        SimulationRow("ann", "c", Decimal("1000000000000"), more, tiny),
        SimulationRow("bob", "gone", Decimal(5), None, Decimal(-5)),
    ]
    assert simulation_totals(rows, comparable=True).difference == Decimal("-4.9999999999999999999999999999")
    apart = simulation_rows(current, draft, ["c", "gone"], ["c"], comparable=False)
    assert {r.difference for r in apart} == {None}
    assert simulation_totals(apart, comparable=False).difference is None
