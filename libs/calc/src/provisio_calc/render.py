"""Renderings of a CalcResult: json, csv (the lines) and a table for people."""

from __future__ import annotations

import csv
import io
import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from provisio_calc.numbers import format_decimal
from provisio_calc.result import CalcResult

LINE_COLUMNS = ("payee", "component", "period", "value", "attainment", "earned", "cash")
PAYOUT_COLUMNS = (
    "payee",
    "pay_period",
    "earned",
    "draw_topup",
    "recovered",
    "balance",
    "payable",
    "non_cash",
)


def render_json(result: CalcResult, *, explain: bool = True) -> str:
    """The PLANS.md json shape, pretty-printed, keys in contract order."""
    data = result.to_dict()
    if not explain:
        for line in data["lines"]:
            line["explanation"] = _brief(line["explanation"])
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _brief(explanation: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in explanation.items() if k not in ("credits", "entries")}


def render_csv(result: CalcResult, *, explain: bool = False) -> str:
    """The lines as CSV (same columns as json `lines`; explanation as JSON with --explain)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    versioned = result.versions > 1
    header = [*LINE_COLUMNS, *(["plan_version"] if versioned else []), *(["explanation"] if explain else [])]
    writer.writerow(header)
    for line in result.lines:
        row = line.to_dict()
        cells = [
            "" if row[c] is None else str(row[c]).lower() if c == "cash" else row[c] for c in LINE_COLUMNS
        ]
        if versioned:
            cells.append(_version(line.explanation))
        if explain:
            cells.append(json.dumps(row["explanation"], ensure_ascii=False, separators=(",", ":")))
        writer.writerow(cells)
    return out.getvalue()


def _table(rows: list[list[str]], header: list[str], numeric: set[int]) -> list[str]:
    widths = [len(h) for h in header]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

    def fmt(row: list[str]) -> str:
        cells = [
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    return [fmt(header), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)]


def explain_lines(explanation: dict[str, Any]) -> list[str]:
    """The arithmetic of one line as the text lines `provisio calc --explain` prints under it."""
    out = []
    formula = explanation.get("formula")
    if formula:
        out.append(f"formula: {formula}")
    if explanation.get("quota") is not None:
        out.append(f"quota: {explanation['quota']}")
    for band in explanation.get("bands", []):
        how = f"rate {band['rate']}" if "rate" in band else f"multiplier {band['multiplier']}"
        upper = band.get("to", "inf")
        out.append(
            f"band {band['band']} [{band['from']}, {upper}): {how} * {band['slice']} = {band['earned']}"
        )
    if "threshold" in explanation:
        t = explanation["threshold"]
        out.append(f"threshold {t['percent']}%: {'met' if t['met'] else 'not met, earns 0'}")
    if "bar" in explanation:
        b = explanation["bar"]
        out.append(f"bar {b['attainment_at_least']}%: {'met' if b['met'] else 'not met'}")
    if "cap" in explanation and explanation["cap"]["applied"]:
        c = explanation["cap"]
        out.append(f"cap {c['amount']} applied (uncapped {c['uncapped']})")
    if "rank" in explanation:
        out.append(f"rank {explanation['rank']}: {json.dumps(explanation['prize'])}")
    for credit in explanation.get("credits", []):
        if "deal" in credit:
            fx = f" * fx {credit['fx_rate']}" if "fx_rate" in credit else ""
            out.append(
                f"credit {credit['deal']} r{credit['revision']} closed {credit['close_day']}: "
                f"{credit['amount']} {credit['currency']}{fx}, share {credit['share']} -> {credit['value']}"
            )
        else:
            out.append(f"credit activity {credit['activity']}, share {credit['share']}")
    for entry in explanation.get("entries", []):
        out.append(f"entry {entry['day']}: {entry['amount']} ({entry['deal'] or '-'})")
    return out


def _version(explanation: dict[str, Any]) -> str:
    version = explanation.get("plan_version")
    return "" if version is None else str(version)


def _percent(value: Decimal) -> str:
    # For people: two decimals; json and csv keep the full 28 digits.
    return format_decimal(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)) + "%"


def render_table(result: CalcResult, *, explain: bool = False) -> str:
    """Plain-text tables: lines, payouts, exceptions; with `explain`, the arithmetic per line."""
    versioned = result.versions > 1
    title = f"plan {result.plan} ({result.currency})"
    out = [title + (f", {result.versions} versions" if versioned else ""), "", "LINES"]
    line_rows = []
    for line in result.lines:
        d = line.to_dict()
        row = [
            d["payee"],
            d["component"],
            d["period"],
            d["value"],
            "-" if line.attainment is None else _percent(line.attainment),
            d["earned"],
            "yes" if d["cash"] else "no",
        ]
        line_rows.append([*row, _version(line.explanation)] if versioned else row)
    header = [*LINE_COLUMNS, "version"] if versioned else list(LINE_COLUMNS)
    table = _table(line_rows, header, {3, 4, 5})
    if explain:
        out.extend(table[:2])
        for row_text, line in zip(table[2:], result.lines, strict=True):
            out.append(row_text)
            out.extend("    " + text for text in explain_lines(line.explanation))
    else:
        out.extend(table)
    out += ["", "PAYOUTS"]
    payout_rows = [[str(v) for v in p.to_dict().values()] for p in result.payouts]
    out.extend(_table(payout_rows, list(PAYOUT_COLUMNS), set(range(2, 8))))
    out += ["", "EXCEPTIONS"]
    if result.exceptions:
        rows = [[e.kind, e.payee or "-", e.deal or "-", e.detail] for e in result.exceptions]
        out.extend(_table(rows, ["kind", "payee", "deal", "detail"], set()))
    else:
        out.append("(none)")
    return "\n".join(out) + "\n"
