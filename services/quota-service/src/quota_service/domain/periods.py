"""Quota periods: "2027", "2027-H1", "2027-Q1", "2027-01"."""

from __future__ import annotations

import re

PERIOD = re.compile(r"^\d{4}(-H[12]|-Q[1-4]|-(0[1-9]|1[0-2]))?$")
PERIOD_HINT = "use 2027, 2027-H1, 2027-Q1 or 2027-01"


def is_period(text: str) -> bool:
    return bool(PERIOD.match(text))
