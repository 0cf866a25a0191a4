"""`GET /explain/{payee}/{period}`: a line's arithmetic as `provisio calc --explain` prints it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from calc_engine.domain.plan_lines import overlaps
from provisio_calc import CalcException

# The one renderer of `--explain` text lives in libs/calc; calc-engine shows the same lines.
from provisio_calc.render import explain_lines


def arithmetic(explanation: Mapping[str, Any]) -> list[str]:
    """The `--explain` text of a line: formula, quota, bands, threshold, bar, cap, rank,
    each credit and each dated entry, one string per printed line."""
    return explain_lines(dict(explanation))


def payee_exceptions(
    exceptions: Iterable[CalcException], payee: str, days: tuple[date, date], deals: Iterable[str]
) -> list[CalcException]:
    """What kept the payee's lines of these days from being computed: their missing quotas
    in an overlapping period, and the exceptions of the deals the run loaded that name them."""
    loaded = set(deals)
    shown = []
    for exc in exceptions:
        if exc.payee != payee:
            continue
        in_period = exc.deal is None and exc.period is not None and overlaps(exc.period, *days)
        if in_period or exc.deal in loaded:
            shown.append(exc)
    return shown
