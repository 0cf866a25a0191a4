"""The full recompute's shortcuts give exactly what the long way gives."""

from __future__ import annotations

import dataclasses
import random
from datetime import date
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

import pytest

from provisio_calc import Entry, load_plan
from provisio_calc.contest import awards
from provisio_calc.earning import ceiling, earn
from provisio_calc.numbers import EXACT
from provisio_calc.result import make_entry
from provisio_calc.testing import make_plan

AE = load_plan((Path(__file__).parents[1] / "examples" / "ae-2027.yaml").read_text())
TIERS = [{"to": 100, "rate": "0.10"}, {"to": 150, "rate": "0.15"}, {"rate": "0.20"}]


def test_make_entry_builds_the_entry_the_dataclass_builds() -> None:
    assert [f.name for f in dataclasses.fields(Entry)] == ["day", "amount", "deal"]
    for deal in ("crm:1", None):
        fast = make_entry(date(2027, 1, 15), Decimal("12.50"), deal)
        slow = Entry(date(2027, 1, 15), Decimal("12.50"), deal)
        assert fast == slow and repr(fast) == repr(slow) and hash(fast) == hash(slow)
        with pytest.raises(dataclasses.FrozenInstanceError):
            fast.amount = Decimal(0)  # type: ignore[misc]


def test_a_capped_component_or_a_fixed_bonus_has_a_ceiling_and_the_others_none() -> None:
    ceilings = {comp.id: ceiling(comp) for comp in AE.components}
    assert ceilings == {
        "new-business": Decimal("60000"),
        "renewals": None,  # a flat rate without a cap grows without bound
        "club": Decimal("5000"),
        "widget-spif": None,
        "q1-contest": None,
        "manager-override": None,
    }


@pytest.mark.parametrize(
    ("component", "expected"),
    [
        ({"kind": "bonus", "when": {"attainment_at_least": 100}, "amount": "500", "cap": "300"}, "300"),
        ({"kind": "commission", "rate": "0.1", "cap": "900", "threshold": 50}, "900"),
        ({"kind": "commission", "per_deal": "25", "cap": "100"}, "100"),
        ({"kind": "commission", "tiers": {"method": "retroactive", "bands": TIERS}, "cap": "900"}, None),
        ({"kind": "bonus", "when": {"attainment_at_least": 100}, "rate_of_excess": "0.1"}, None),
    ],
)
def test_ceiling_per_kind(component: dict[str, Any], expected: str | None) -> None:
    (comp,) = make_plan({"id": "c", **component}).components
    assert ceiling(comp) == (None if expected is None else Decimal(expected))


@pytest.mark.parametrize(
    "component",
    [
        {"kind": "commission", "tiers": {"bands": TIERS}, "threshold": 50, "cap": "16000"},
        {
            "kind": "commission",
            "target_incentive": "10000",
            "tiers": {"bands": [{"to": 100, "multiplier": "1"}, {"multiplier": "1.5"}]},
            "cap": "12000",
        },
        {"kind": "bonus", "when": {"attainment_at_least": 120}, "amount": "5000"},
        {"kind": "commission", "per_deal": "25", "cap": "100"},
    ],
)
def test_once_at_its_ceiling_more_credit_leaves_earnings_unchanged(component: dict[str, Any]) -> None:
    (comp,) = make_plan({"id": "c", **component}).components
    top = ceiling(comp)
    assert top is not None
    quota = Decimal("100000")
    reached = False
    with localcontext(EXACT):
        for step in range(1, 400):
            earned = earn(comp, Decimal("1013.37") * step, Decimal(step), quota)
            assert earned <= top
            if reached:
                assert earned == top
            reached = reached or earned == top
    assert reached


def test_contest_awards_rank_ties_as_the_full_ranking_does() -> None:
    # Only the leaders are sorted; every payee's rank must still be 1 + those strictly above.
    plan = make_plan(
        {
            "id": "c",
            "kind": "contest",
            "window": {"from": "2027-01-01", "to": "2027-03-31"},
            "rank_by": {"metric": "deals"},
            "prizes": [{"rank": r, "amount": a} for r, a in ((1, "300"), (2, "200"), (4, "50"))],
        }
    )
    (comp,) = plan.components
    rnd = random.Random(5)
    for _ in range(200):
        values = {f"p{i}": Decimal(rnd.randrange(-2, 6)) for i in range(rnd.randrange(0, 12))}
        won = [(a.payee, a.rank, a.value) for a in awards(comp, values, date(2027, 3, 31))]
        entrants = sorted((p for p, v in values.items() if v > 0), key=lambda p: (-values[p], p))
        ranks = {p: 1 + sum(values[q] > values[p] for q in entrants) for p in entrants}
        assert won == [(p, ranks[p], values[p]) for p in entrants if ranks[p] in (1, 2, 4)]
