"""provisio_calc: the pure commission plan engine of Provisio (PLANS.md).

No I/O, no framework: plans, inputs and an as-of date in; lines, payouts and
exceptions out. The calc-engine service and the offline `provisio calc` use it.
"""

from provisio_calc.crediting import BadSplit, direct_credits
from provisio_calc.engine import calculate
from provisio_calc.inputs import Activity, Deal, DealLine, FxRate, InputInvalid, Payee, Quota, Split
from provisio_calc.money import minor_units, round_money
from provisio_calc.periods import local_day, pay_period_of, period_of
from provisio_calc.plan import Component, Plan, PlanInvalid, PlanProblem, load_plan
from provisio_calc.result import CalcException, CalcResult, Entry, Line, Payout

__all__ = [
    "Activity",
    "BadSplit",
    "CalcException",
    "CalcResult",
    "Component",
    "Deal",
    "DealLine",
    "Entry",
    "FxRate",
    "InputInvalid",
    "Line",
    "Payee",
    "Payout",
    "Plan",
    "PlanInvalid",
    "PlanProblem",
    "Quota",
    "Split",
    "calculate",
    "direct_credits",
    "load_plan",
    "local_day",
    "minor_units",
    "pay_period_of",
    "period_of",
    "round_money",
]
