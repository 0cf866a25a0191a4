"""Plan documents: reading YAML/JSON without floats, defaults, and path-named problems."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from provisio_calc import PlanInvalid, PlanProblem, load_plan

EXAMPLE = Path(__file__).parents[1] / "examples" / "ae-2027.yaml"

BASE = """
id: p
currency: USD
period: quarter
effective: {from: 2027-01-01, to: 2027-12-31}
components:
"""


def problems(text: str) -> list[PlanProblem]:
    with pytest.raises(PlanInvalid) as caught:
        load_plan(text)
    return caught.value.problems


def paths(text: str) -> set[str]:
    return {p.path for p in problems(text)}


def test_the_plans_md_example_loads_with_its_numbers_exact() -> None:
    plan = load_plan(EXAMPLE.read_text())
    assert plan.id == "ae-2027"
    assert plan.timezone == "Europe/Oslo"
    assert plan.rounding == "half_up"
    bands = plan.components[0].tiers.bands  # type: ignore[union-attr]
    assert [b.rate for b in bands] == [Decimal("0.10"), Decimal("0.15"), Decimal("0.20")]
    assert plan.components[0].cap == Decimal("60000")
    assert plan.draw is not None and plan.draw.recoverable is True


def test_document_round_trips() -> None:
    plan = load_plan(EXAMPLE.read_text())
    document = plan.document()
    assert load_plan(document) == plan
    assert load_plan(json.dumps(document)) == plan
    assert document["components"][0]["tiers"]["bands"][0]["rate"] == "0.10"


def test_unquoted_and_quoted_numbers_are_the_same_value() -> None:
    text = BASE + "  - {id: c, kind: commission, rate: 0.10}\n"
    quoted = BASE + '  - {id: c, kind: commission, rate: "0.10"}\n'
    assert load_plan(text).components[0].rate == load_plan(quoted).components[0].rate
    # 0.1 + 0.2 through a float would not be 0.3; read from text it is.
    many = BASE + "  - {id: c, kind: commission, rate: 0.30000000000000000001}\n"
    assert load_plan(many).components[0].rate == Decimal("0.30000000000000000001")


def test_json_numbers_are_read_from_text() -> None:
    doc = {
        "id": "p",
        "currency": "USD",
        "period": "month",
        "effective": {"from": "2027-01-01", "to": "2027-12-31"},
        "components": [{"id": "c", "kind": "commission", "rate": "X"}],
    }
    text = json.dumps(doc).replace('"X"', "0.07000000000000000001")
    assert load_plan(text).components[0].rate == Decimal("0.07000000000000000001")


def test_defaults() -> None:
    plan = load_plan(BASE + "  - {id: c, kind: commission, rate: 0.1}\n")
    assert (plan.timezone, plan.pay_frequency, plan.rounding) == ("UTC", "month", "half_up")
    assert plan.components[0].credit == ("owner", "splits")
    assert plan.clawback is None and plan.draw is None


def test_a_float_in_a_parsed_mapping_is_refused() -> None:
    doc = load_plan(BASE + "  - {id: c, kind: commission, rate: 0.1}\n").document()
    doc["components"][0]["rate"] = 0.1
    with pytest.raises(PlanInvalid) as caught:
        load_plan(doc)
    assert caught.value.problems[0].path == "components[0].rate"
    assert "float" in caught.value.problems[0].message


def test_required_fields_are_named() -> None:
    found = paths("name: x\ncomponents: []\n")
    assert {"id", "currency", "period", "effective"} <= found


def test_every_problem_is_listed_with_its_path() -> None:
    text = (
        BASE
        + """
  - {id: a, kind: commission, rate: abc}
  - id: b
    kind: commission
    tiers:
      bands:
        - {to: 100, rate: 0.1}
        - {to: 90, rate: 0.2}
        - {rate: 0.3}
  - id: c
    kind: commission
    tiers:
      bands:
        - {rate: 0.1}
        - {to: 100, rate: 0.2}
  - {id: d, kind: commission, measure: {metric: revenue}, rate: 0.1}
  - {id: e, kind: spif, window: {from: 2027-02-01, to: 2027-01-31}, per_deal: 10}
  - {id: f, kind: commission, treshold: 50, rate: 0.1}
draw: {per: month}
"""
    )
    found = paths(text)
    assert {
        "components[0].rate",
        "components[1].tiers.bands[1].to",
        "components[2].tiers.bands[0].to",
        "components[2].tiers.bands[1].to",
        "components[3].measure.metric",
        "components[4].window",
        "components[5].treshold",
        "draw.amount",
    } <= found


def test_overlapping_and_non_contiguous_bands_with_from() -> None:
    text = (
        BASE
        + """
  - id: a
    kind: commission
    tiers:
      basis: value
      bands:
        - {from: 0, to: 100, rate: 0.1}
        - {from: 90, to: 200, rate: 0.2}
        - {from: 250, rate: 0.3}
"""
    )
    messages = {p.path: p.message for p in problems(text)}
    assert "overlapping" in messages["components[0].tiers.bands[1].from"]
    assert "non-contiguous" in messages["components[0].tiers.bands[2].from"]


@pytest.mark.parametrize(
    ("component", "path"),
    [
        # neither rate nor tiers nor per_deal
        ("{id: a, kind: commission}", "components[0]"),
        # two of them
        ("{id: a, kind: commission, rate: 0.1, per_deal: 5}", "components[0]"),
        # a bonus needs a bar and exactly one of amount / rate_of_excess
        ("{id: a, kind: bonus, amount: 5}", "components[0].when"),
        ("{id: a, kind: bonus, when: {attainment_at_least: 100}}", "components[0]"),
        # multiplier bands need target_incentive
        ("{id: a, kind: commission, tiers: {bands: [{multiplier: 1}]}}", "components[0].target_incentive"),
        # a band with both rate and multiplier
        (
            "{id: a, kind: commission, target_incentive: 1, tiers: {bands: [{rate: 1, multiplier: 1}]}}",
            "components[0].tiers.bands[0]",
        ),
        # threshold and cap do not apply to contests
        (
            "{id: a, kind: contest, window: {from: 2027-01-01, to: 2027-01-31}, cap: 5,"
            " prizes: [{rank: 1, amount: 5}]}",
            "components[0].cap",
        ),
        # a prize with amount is cash
        (
            "{id: a, kind: contest, window: {from: 2027-01-01, to: 2027-01-31},"
            " prizes: [{rank: 1, amount: 5, cash: false}]}",
            "components[0].prizes[0].cash",
        ),
        ("{id: a, kind: spif, rate: 0.1}", "components[0].window"),
        ("{id: a, kind: commission, rate: -0.1}", "components[0].rate"),
        ("{id: a, kind: commission, rate: .nan}", "components[0].rate"),
        ("{id: a, kind: commission, rate: 0.1, credit: [owner, boss]}", "components[0].credit[1]"),
    ],
)
def test_component_problems(component: str, path: str) -> None:
    assert path in paths(BASE + f"  - {component}\n")


def test_top_level_problems() -> None:
    text = """
id: p
currency: XYZ
timezone: Mars/Olympus
period: week
effective: {from: 2027-12-31, to: 2027-01-01}
components: [{id: a, kind: commission, rate: 0.1}, {id: a, kind: commission, rate: 0.2}]
clawback: {window_days: -1}
"""
    found = paths(text)
    assert "period" in found
    text = text.replace("period: week", "period: month")
    found = paths(text)
    assert {"currency", "timezone", "effective", "components[1].id", "clawback.window_days"} <= found


def test_not_yaml_at_all() -> None:
    assert problems("id: [unclosed")[0].path == ""
    assert problems("- just a list")[0].message.startswith("a plan is a mapping")


def test_window_timestamps_are_days_in_the_plan_timezone() -> None:
    text = BASE.replace("period: quarter", "period: quarter\ntimezone: Europe/Oslo") + (
        '  - {id: s, kind: spif, per_deal: 1, window: {from: "2027-01-31T23:30:00Z", to: "2027-02-28"}}\n'
    )
    window = load_plan(text).components[0].window
    assert window is not None and str(window.from_) == "2027-02-01"


ACCOUNTED = BASE + (
    "  - {id: c, kind: commission, rate: 0.1}\n"
    "  - {id: s, kind: spif, per_deal: 1, window: {from: 2027-01-01, to: 2027-03-31}}\n"
    "  - {id: b, kind: bonus, amount: 100, when: {attainment_at_least: 100}}\n"
)


def test_accounting_defaults_capitalize_commissions_and_spifs_with_the_expedient() -> None:
    plan = load_plan(ACCOUNTED + "accounting: {}\n")
    assert plan.accounting is not None
    assert plan.accounting.capitalized(plan.components) == {"c", "s"}
    assert (plan.accounting.default_term_months, plan.accounting.practical_expedient) == (None, True)
    assert load_plan(ACCOUNTED).accounting is None
    assert "accounting" not in load_plan(ACCOUNTED).document()


def test_accounting_settings_are_read_and_round_trip() -> None:
    text = ACCOUNTED + "accounting: {capitalize: [b], default_term_months: 24, practical_expedient: false}\n"
    plan = load_plan(text)
    assert plan.accounting is not None and plan.accounting.capitalized(plan.components) == {"b"}
    assert (plan.accounting.default_term_months, plan.accounting.practical_expedient) == (24, False)
    assert plan.document()["accounting"] == {
        "capitalize": ["b"],
        "default_term_months": 24,
        "practical_expedient": False,
    }
    assert load_plan(plan.document()) == plan


@pytest.mark.parametrize(
    ("accounting", "path"),
    [
        ("{capitalize: [c, nope]}", "accounting.capitalize[1]"),
        ("{capitalize: [c, c]}", "accounting.capitalize[1]"),
        ("{default_term_months: 0}", "accounting.default_term_months"),
        ("{default_term_months: 601}", "accounting.default_term_months"),
        ('{default_term_months: "24"}', "accounting.default_term_months"),
        ("{practical_expedient: maybe}", "accounting.practical_expedient"),
        ("{amortize: true}", "accounting.amortize"),
    ],
)
def test_accounting_problems_name_the_field(accounting: str, path: str) -> None:
    assert path in paths(ACCOUNTED + f"accounting: {accounting}\n")
