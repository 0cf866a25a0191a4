"""Bulk import: CSV files in the `provisio calc` formats (PLANS.md), read and checked
row by row. Every problem is reported with its row (the file's line number, the header
being line 1); nothing here writes.

- payees: `id,name,manager,roles,team,territories` (`roles`, `territories` split on `|`)
- quotas: `payee,period,amount`
- targets: `subject,kpi,period,value`
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from provisio_common.money import MoneyError, parse_amount
from quota_service.domain.payees import PAYEE_ID, PayeeIn, manager_problem
from quota_service.domain.quotas import quota_problems
from quota_service.domain.subjects import parse_subject
from quota_service.domain.targets import target_problems

PAYEE_COLUMNS = ("id", "name", "manager", "roles", "team", "territories")
QUOTA_COLUMNS = ("payee", "period", "amount")
TARGET_COLUMNS = ("subject", "kpi", "period", "value")


@dataclass(frozen=True)
class RowError:
    """One problem of an imported file: its line (1 = the header), the column, what is wrong."""

    row: int
    field: str
    message: str


Rows = list[tuple[int, dict[str, str]]]


def read_csv(text: str, required: tuple[str, ...], allowed: tuple[str, ...]) -> tuple[Rows, list[RowError]]:
    """The data rows of a CSV text with their line numbers (blank rows skipped), or the
    header's problems: a required column missing, or a column not in the format."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = [h.strip() for h in reader.fieldnames or []]
    except csv.Error as exc:
        return [], [RowError(1, "header", f"not CSV: {exc}")]
    reader.fieldnames = header
    errors = [RowError(1, c, "missing column") for c in required if c not in header]
    errors += [
        RowError(1, c, f"not a column of this format ({','.join(allowed)})")
        for c in header
        if c not in allowed
    ]
    if errors:
        return [], errors
    rows: Rows = []
    try:
        for row in reader:
            if None in row:
                errors.append(RowError(reader.line_num, "row", "has more values than the header"))
                continue
            values = {k: (v or "").strip() for k, v in row.items()}
            if any(values.values()):
                rows.append((reader.line_num, values))
    except csv.Error as exc:
        errors.append(RowError(reader.line_num, "row", f"not CSV: {exc}"))
    return rows, errors


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split("|") if part.strip()]


def _payee_body(values: dict[str, str], existing: dict[str, Any] | None) -> dict[str, Any]:
    """The payee a row describes: the columns it has replace those fields (an empty cell
    means none, and `rep` for roles); fields without a column keep what is stored."""
    body = {k: v for k, v in (existing or {}).items() if k != "id"}
    if "name" in values and (values["name"] or existing is None):
        body["name"] = values["name"]
    if "manager" in values:
        body["manager"] = values["manager"] or None
    if "roles" in values:
        body["roles"] = _split(values["roles"]) or ["rep"]
    if "team" in values:
        body["team"] = values["team"] or None
    if "territories" in values:
        body["territories"] = _split(values["territories"])
    return body


def payee_rows(
    rows: Rows, existing: Mapping[str, dict[str, Any]], managers: Mapping[str, str | None]
) -> tuple[list[tuple[int, str, PayeeIn]], list[RowError]]:
    """Each row as the payee it creates or replaces, or every row's problems: a bad id, an
    id given twice, a field the payee model refuses, an unknown manager (neither stored nor
    in the file), a management loop over the stored and imported hierarchy together."""
    errors: list[RowError] = []
    parsed: list[tuple[int, str, PayeeIn]] = []
    seen: dict[str, int] = {}
    for line, values in rows:
        payee_id = values.get("id", "")
        if not PAYEE_ID.match(payee_id):
            errors.append(RowError(line, "id", "letters, digits, . _ - only (and not empty)"))
            continue
        if payee_id in seen:
            errors.append(RowError(line, "id", f"payee {payee_id} is also on line {seen[payee_id]}"))
            continue
        seen[payee_id] = line
        if payee_id not in existing and not values.get("name"):
            errors.append(RowError(line, "name", "is required for a new payee"))
            continue
        try:
            payee = PayeeIn.model_validate(_payee_body(values, existing.get(payee_id)))
        except ValidationError as exc:
            errors += [
                RowError(line, str(e["loc"][0]) if e["loc"] else "row", e["msg"]) for e in exc.errors()
            ]
            continue
        parsed.append((line, payee_id, payee))
    hierarchy = {**managers, **{payee_id: payee.manager for _, payee_id, payee in parsed}}
    for line, payee_id, payee in parsed:
        problem = manager_problem(payee_id, payee.manager, hierarchy)
        if problem is not None:
            errors.append(RowError(line, "manager", problem))
    return parsed, errors


def _amount(line: int, field: str, text: str, errors: list[RowError]) -> Decimal | None:
    try:
        return parse_amount(text)
    except MoneyError as exc:
        errors.append(RowError(line, field, str(exc)))
        return None


def quota_rows(
    rows: Rows, payees: Collection[str]
) -> tuple[list[tuple[int, str, str, Decimal]], list[RowError]]:
    """Each row as (line, payee, period, amount), or every row's problems: an unknown payee,
    a bad period or amount, the same payee and period with another amount on another line."""
    errors: list[RowError] = []
    parsed: list[tuple[int, str, str, Decimal]] = []
    seen: dict[tuple[str, str], tuple[int, Decimal]] = {}
    for line, values in rows:
        payee, period = values["payee"], values["period"]
        before = len(errors)
        if payee not in payees:
            errors.append(RowError(line, "payee", f"no payee {payee!r}"))
        amount = _amount(line, "amount", values["amount"], errors)
        if amount is not None:
            errors += [RowError(line, e["field"], e["message"]) for e in quota_problems(period, amount)]
        if len(errors) > before or amount is None:
            continue
        known = seen.get((payee, period))
        if known is not None:
            if known[1] != amount:
                errors.append(
                    RowError(line, "amount", f"another quota for {payee} {period} is on line {known[0]}")
                )
            continue
        seen[(payee, period)] = (line, amount)
        parsed.append((line, payee, period, amount))
    return parsed, errors


def target_rows(
    rows: Rows, payees: Collection[str], teams: Collection[str]
) -> tuple[list[tuple[int, str, str, str, Decimal]], list[RowError]]:
    """Each row as (line, subject, kpi, period, value), or every row's problems: a bad or
    unknown subject, KPI, period or value, the same target with another value on another line."""
    errors: list[RowError] = []
    parsed: list[tuple[int, str, str, str, Decimal]] = []
    seen: dict[tuple[str, str, str], tuple[int, Decimal]] = {}
    for line, values in rows:
        subject, kpi, period = values["subject"], values["kpi"], values["period"]
        before = len(errors)
        value = _amount(line, "value", values["value"], errors)
        problems = target_problems(subject, kpi, period, value if value is not None else Decimal(0))
        errors += [RowError(line, e["field"], e["message"]) for e in problems]
        parsed_subject = parse_subject(subject)
        if parsed_subject is not None:
            known = payees if parsed_subject.kind == "payee" else teams
            if parsed_subject.id not in known:
                errors.append(RowError(line, "subject", f"no {parsed_subject.kind} {parsed_subject.id!r}"))
        if len(errors) > before or value is None:
            continue
        held = seen.get((subject, kpi, period))
        if held is not None:
            if held[1] != value:
                errors.append(
                    RowError(
                        line, "value", f"another target for {subject} {kpi} {period} is on line {held[0]}"
                    )
                )
            continue
        seen[(subject, kpi, period)] = (line, value)
        parsed.append((line, subject, kpi, period, value))
    return parsed, errors
