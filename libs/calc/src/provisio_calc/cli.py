"""`provisio calc`: the plan engine on files (PLANS.md, "the offline contract").

Exit 0 on success (exceptions are data); 2 with a message naming the file, line and
field for bad input.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from provisio_calc.engine import calculate
from provisio_calc.inputs import Activity, Deal, FxRate, InputInvalid, Payee, Quota
from provisio_calc.numbers import parse_decimal
from provisio_calc.periods import zone
from provisio_calc.plan import Plan, PlanInvalid, PlanProblem, parse_documents, validate_plan
from provisio_calc.render import render_csv, render_json, render_table
from provisio_calc.versions import succession_problems


class BadInput(Exception):
    """A message naming file, line and field; the CLI exits 2 with it."""


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read: {exc}") from None


def _document_nodes(text: str) -> list[Any]:
    """The YAML node of each non-empty document of a plan file (JSON is one document)."""
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        return []
    return [n for n in nodes if n is not None and not (isinstance(n, yaml.ScalarNode) and n.value == "")]


def _plan_line(node: Any, path: str) -> int | None:
    """The 1-based source line of a problem path like components[2].tiers.bands[1].to."""
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


def _problem_messages(path: str, node: Any, problems: list[PlanProblem], *, multi: bool = False) -> list[str]:
    """`file:line: path: message` per problem; in a multi-document file a problem of the
    whole document points at the document's first line."""
    messages = []
    for problem in problems:
        line = _plan_line(node, problem.path) if problem.path or multi else None
        where = f"{path}:{line}" if line else path
        messages.append(f"{where}: {problem.path or '(plan)'}: {problem.message}")
    return messages


@dataclass(frozen=True)
class _Version:
    path: str
    node: Any
    plan: Plan
    multi: bool  # one of several documents in its file


def _read_versions(path: str) -> list[_Version]:
    """Every plan document of one file (a YAML file may hold several, `---` between them)."""
    text = _read(path)
    try:
        documents = parse_documents(text, filename=path)
    except PlanInvalid as exc:
        raise BadInput("\n".join(_problem_messages(path, None, exc.problems))) from None
    nodes = _document_nodes(text)
    if len(nodes) != len(documents):
        nodes = [None] * len(documents)
    if not documents:
        raise BadInput(f"{path}: (plan): the file holds no plan document")
    multi = len(documents) > 1
    versions, messages = [], []
    for document, node in zip(documents, nodes, strict=True):
        try:
            versions.append(_Version(path, node, validate_plan(document), multi))
        except PlanInvalid as exc:
            messages.extend(_problem_messages(path, node, exc.problems, multi=multi))
    if messages:
        raise BadInput("\n".join(messages))
    return versions


def _labelled(versions: list[_Version]) -> list[_Version]:
    """Oldest first: by `version` when every document gives an integer one (distinct), in
    the order given when none gives one (then numbered 1, 2, ... for explanations)."""
    given = [v for v in versions if v.plan.version is not None]
    if given and len(given) != len(versions):
        missing = next(v for v in versions if v.plan.version is None)
        where = f"{missing.path}:{missing.node.start_mark.line + 1}" if missing.node else missing.path
        raise BadInput(f"{where}: version: give every version of the plan a version, or none")
    if not given:
        return [
            _Version(v.path, v.node, v.plan.model_copy(update={"version": n}), v.multi)
            for n, v in enumerate(versions, start=1)
        ]
    seen: dict[object, _Version] = {}
    for v in versions:
        if v.plan.version in seen:
            line = _plan_line(v.node, "version")
            raise BadInput(
                f"{v.path}{f':{line}' if line else ''}: version: version {v.plan.version} appears twice"
            )
        seen[v.plan.version] = v
    if all(isinstance(v.plan.version, int) for v in versions):
        return sorted(versions, key=lambda v: v.plan.version if isinstance(v.plan.version, int) else 0)
    return versions


def read_plans(paths: list[str]) -> list[Plan]:
    """Load and validate the plan versions (one file or several, each with one document or
    several): every problem becomes one `file:line: path: message`. Several versions must
    be of one plan (same id, currency, timezone and pay_frequency); oldest first."""
    versions = [v for path in paths for v in _read_versions(path)]
    if len(versions) == 1:
        return [versions[0].plan]
    ordered = _labelled(versions)
    messages = []
    for i, version in enumerate(ordered):
        problems = succession_problems([v.plan for v in ordered[:i]], version.plan)
        messages.extend(_problem_messages(version.path, version.node, problems, multi=version.multi))
    if messages:
        raise BadInput("\n".join(messages))
    return [v.plan for v in ordered]


def read_plan(path: str) -> Plan:
    """Load and validate a file holding one plan document (`read_plans` for versions)."""
    versions = _read_versions(path)
    if len(versions) != 1:
        raise BadInput(f"{path}: (plan): holds {len(versions)} plan documents where one is expected")
    return versions[0].plan


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
    parser.add_argument(
        "--plan",
        required=True,
        action="append",
        help="plan document (YAML or JSON); give it again, or use a multi-document YAML, "
        "for several versions of one plan",
    )
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
    versions = read_plans(args.plan)
    plan = versions[-1]
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
            versions if len(versions) > 1 else plan,
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
