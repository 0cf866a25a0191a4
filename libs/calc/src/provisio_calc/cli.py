"""`provisio calc`: the plan engine on files (PLANS.md, "the offline contract").

Exit 0 on success (exceptions are data); 2 with a message naming the file, line and
field for bad input.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import fields
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from provisio_calc.engine import calculate
from provisio_calc.inputs import Activity, Deal, FxRate, InputInvalid, Payee, Quota
from provisio_calc.numbers import parse_decimal
from provisio_calc.periods import zone
from provisio_calc.plan import Plan, PlanInvalid, load_plan
from provisio_calc.render import render_csv, render_json, render_table


class BadInput(Exception):
    """A message naming file, line and field; the CLI exits 2 with it."""


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read: {exc}") from None


def _plan_line(text: str, path: str) -> int | None:
    """The 1-based source line of a problem path like components[2].tiers.bands[1].to."""
    try:
        node: Any = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    parts: list[str | int] = []
    for token in path.replace("]", "").replace("[", ".").split("."):
        if token:
            parts.append(int(token) if token.isdigit() else token)
    line: int = node.start_mark.line + 1
    for part in parts:
        child = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key, value in node.value:
                if getattr(key, "value", None) == part:
                    child = value
                    line = key.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def read_plan(path: str) -> Plan:
    """Load and validate the plan file; every problem becomes one `file:line: path: message`."""
    text = _read(path)
    try:
        return load_plan(text, filename=path)
    except PlanInvalid as exc:
        messages = []
        for problem in exc.problems:
            line = _plan_line(text, problem.path) if problem.path else None
            where = f"{path}:{line}" if line else path
            messages.append(f"{where}: {problem.path or '(plan)'}: {problem.message}")
        raise BadInput("\n".join(messages)) from None


def _jsonl(path: str) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for number, raw in enumerate(_read(path).splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw, parse_float=Decimal)
        except ValueError as exc:
            raise BadInput(f"{path}:{number}: not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise BadInput(f"{path}:{number}: each line must be a JSON object")
        rows.append((number, data))
    return rows


def _first_difference(a: object, b: object) -> str:
    for f in fields(a):  # type: ignore[arg-type]
        if getattr(a, f.name) != getattr(b, f.name):
            return f.name
    return "?"


def read_deals(path: str) -> list[Deal]:
    """DEALS.jsonl: one snapshot per line; differing snapshots with one revision are bad input."""
    deals = []
    seen: dict[tuple[str, int], tuple[int, Deal]] = {}
    for number, data in _jsonl(path):
        try:
            deal = Deal.from_dict(data)
        except InputInvalid as exc:
            raise BadInput(f"{path}:{number}: {exc.field}: {exc.message}") from None
        known = seen.get((deal.key, deal.revision))
        if known is not None and known[1] != deal:
            field = _first_difference(known[1], deal)
            raise BadInput(
                f"{path}:{number}: {field}: deal {deal.key} revision {deal.revision} differs "
                f"from line {known[0]} (same revision, different snapshot)"
            )
        seen.setdefault((deal.key, deal.revision), (number, deal))
        deals.append(deal)
    return deals


def read_activities(path: str) -> list[Activity]:
    """ACTIVITIES.jsonl: one activity per line; differing repeats of one key are bad input."""
    activities = []
    seen: dict[str, tuple[int, Activity]] = {}
    for number, data in _jsonl(path):
        try:
            activity = Activity.from_dict(data)
        except InputInvalid as exc:
            raise BadInput(f"{path}:{number}: {exc.field}: {exc.message}") from None
        known = seen.get(activity.key)
        if known is not None and known[1] != activity:
            field = _first_difference(known[1], activity)
            raise BadInput(f"{path}:{number}: {field}: activity {activity.key} differs from line {known[0]}")
        seen.setdefault(activity.key, (number, activity))
        activities.append(activity)
    return activities


def _csv(path: str, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(_read(path).splitlines())
    header = reader.fieldnames or []
    missing = [c for c in required if c not in header]
    if missing:
        raise BadInput(f"{path}:1: {missing[0]}: missing column (expected {','.join(required)})")
    rows = []
    for row in reader:
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        rows.append((reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}))
    return rows


def _number(path: str, line: int, field: str, text: str) -> Decimal:
    try:
        return parse_decimal(text)
    except ValueError as exc:
        raise BadInput(f"{path}:{line}: {field}: {exc}") from None


def _day(path: str, line: int, field: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"{path}:{line}: {field}: not a date (YYYY-MM-DD): {text!r}") from None


def read_payees(path: str) -> list[Payee]:
    """PAYEES.csv: id,name,manager,roles,team,territories (roles, territories split on |)."""
    payees: dict[str, Payee] = {}
    for line, row in _csv(path, ("id",)):
        payee_id = row.get("id", "")
        if not payee_id:
            raise BadInput(f"{path}:{line}: id: is required")
        if payee_id in payees:
            raise BadInput(f"{path}:{line}: id: payee {payee_id} appears twice")
        roles = tuple(r for r in row.get("roles", "").split("|") if r) or ("rep",)
        territories = tuple(t for t in row.get("territories", "").split("|") if t)
        payees[payee_id] = Payee(
            payee_id,
            row.get("name", ""),
            row.get("manager") or None,
            roles,
            row.get("team") or None,
            territories,
        )
    return list(payees.values())


def read_quotas(path: str) -> list[Quota]:
    """QUOTAS.csv: payee,period,amount."""
    quotas: list[Quota] = []
    seen: dict[tuple[str, str], tuple[int, Decimal]] = {}
    for line, row in _csv(path, ("payee", "period", "amount")):
        if not row["payee"]:
            raise BadInput(f"{path}:{line}: payee: is required")
        amount = _number(path, line, "amount", row["amount"])
        try:
            quota = Quota(row["payee"], row["period"], amount)
        except InputInvalid as exc:
            raise BadInput(f"{path}:{line}: {exc.field}: {exc.message}") from None
        known = seen.get((quota.payee, quota.period))
        if known is not None and known[1] != amount:
            raise BadInput(
                f"{path}:{line}: amount: a different quota for {quota.payee} {quota.period} "
                f"is on line {known[0]}"
            )
        seen.setdefault((quota.payee, quota.period), (line, amount))
        quotas.append(quota)
    return quotas


def read_fx(path: str) -> list[FxRate]:
    """FX.csv: date,from,to,rate (1 from = rate to)."""
    rates: list[FxRate] = []
    seen: dict[tuple[date, str, str], tuple[int, Decimal]] = {}
    for line, row in _csv(path, ("date", "from", "to", "rate")):
        day = _day(path, line, "date", row["date"])
        rate = _number(path, line, "rate", row["rate"])
        if rate <= 0:
            raise BadInput(f"{path}:{line}: rate: must be above 0")
        for field in ("from", "to"):
            code = row[field]
            if len(code) != 3 or not code.isalpha() or not code.isupper():
                raise BadInput(f"{path}:{line}: {field}: not an ISO 4217 code: {code!r}")
        key = (day, row["from"], row["to"])
        known = seen.get(key)
        if known is not None and known[1] != rate:
            raise BadInput(f"{path}:{line}: rate: a different rate for the same day is on line {known[0]}")
        seen.setdefault(key, (line, rate))
        rates.append(FxRate(day, row["from"], row["to"], rate))
    return rates


def build_parser() -> argparse.ArgumentParser:
    """The `provisio calc` argument parser."""
    parser = argparse.ArgumentParser(
        prog="provisio calc", description="Dry-run a commission plan on files (PLANS.md)."
    )
    parser.add_argument("--plan", required=True, help="plan document (YAML or JSON)")
    parser.add_argument("--deals", required=True, help="DEALS.jsonl: deals.v1 snapshots")
    parser.add_argument("--payees", help="PAYEES.csv: id,name,manager,roles,team,territories")
    parser.add_argument("--quotas", help="QUOTAS.csv: payee,period,amount")
    parser.add_argument("--fx", help="FX.csv: date,from,to,rate")
    parser.add_argument("--activities", help="ACTIVITIES.jsonl: activities.v1 data")
    parser.add_argument("--as-of", dest="as_of", help="YYYY-MM-DD (default: today in the plan's timezone)")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
    parser.add_argument("--explain", action="store_true", help="show each line's arithmetic")
    return parser


def run(args: argparse.Namespace) -> str:
    """Read every input (plan first), calculate, render. Raises BadInput."""
    plan = read_plan(args.plan)
    if args.as_of:
        try:
            as_of = date.fromisoformat(args.as_of)
        except ValueError:
            raise BadInput(f"--as-of: not a date (YYYY-MM-DD): {args.as_of!r}") from None
    else:
        as_of = datetime.now(zone(plan.timezone)).date()
    deals = read_deals(args.deals)
    payees = read_payees(args.payees) if args.payees else None
    quotas = read_quotas(args.quotas) if args.quotas else []
    fx = read_fx(args.fx) if args.fx else []
    activities = read_activities(args.activities) if args.activities else []
    try:
        result = calculate(
            plan,
            deals,
            payees=payees,
            quotas=quotas,
            fx=fx,
            activities=activities,
            as_of=as_of,
            explain=args.explain,
        )
    except InputInvalid as exc:
        raise BadInput(f"{args.deals}: {exc.field}: {exc.message}") from None
    if args.format == "json":
        return render_json(result, explain=args.explain)
    if args.format == "csv":
        return render_csv(result, explain=args.explain)
    return render_table(result, explain=args.explain)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `provisio calc`; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    try:
        output = run(args)
    except BadInput as exc:
        print(f"provisio calc: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
