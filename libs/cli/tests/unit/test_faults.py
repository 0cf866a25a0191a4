"""The pure parts of the fault suite (`provisio_cli.faults`): how the stream is cut, how
the reference data is split, and how differences are counted as lost or double-counted."""

from __future__ import annotations

from decimal import Decimal

from provisio_cli.differential import Delivery, Expected, StatementRow, View, scenario
from provisio_cli.fault_checks import tally
from provisio_cli.faults import FAULTS, reference_puts, slices


def test_slices_cover_the_stream_once_in_order() -> None:
    items = [Delivery(f"m{n}", f"d{n % 7}", {}) for n in range(23)]
    parts = slices(items, len(FAULTS))
    assert len(parts) == len(FAULTS)
    assert [d for part in parts for d in part] == items
    assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_a_scaled_scenario_has_the_deals_and_teams_asked_for() -> None:
    scen = scenario(13, namespace="u13", deal_count=120, teams=5)
    assert len(scen.deals) == 120
    managers = [p for p in scen.payees if p["id"].startswith("u13-m")]
    assert len(managers) == 5
    first, later = reference_puts(scen)
    assert first[0].path == f"/plans/{scen.plan_id}"
    assert len(first) == 1 + len(scen.payees)
    assert len(later) == len(scen.quotas) + len(scen.fx)


def _expected(deals: dict[str, str], earned: dict[tuple[str, str], str]) -> Expected:
    return Expected(
        currency="USD",
        ledger={},
        statements={k: StatementRow(Decimal(v), Decimal(0), None) for k, v in earned.items()},
        exceptions=set(),
        deals={k: Decimal(v) for k, v in deals.items()},
    )


def test_short_counts_as_lost_and_over_as_double_counted() -> None:
    want = _expected({"a": "100", "b": "50", "c": "0"}, {("r1", "2025-01"): "150"})
    seen = _expected({"a": "100", "b": "100", "d": "-5"}, {("r1", "2025-01"): "120"})
    view = View(seen.ledger, seen.statements, seen.exceptions, seen.deals)
    # b over (double), d short of 0 (lost), the statement short (lost); a equal, c absent = 0
    assert tally(want, view) == (2, 1)
    assert tally(want, View({}, want.statements, set(), want.deals)) == (0, 0)
