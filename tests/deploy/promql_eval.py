"""A small PromQL evaluator and a runner for promtool's rule unit-test files.

`promtool test rules` is the reference; it is not a Python package, so `make test` runs the
same test file through this harness (and through promtool too when it is on PATH). The
evaluator parses with `promql-parser` and implements the part of PromQL the rules use, with
Prometheus' semantics: the 5-minute lookback and staleness of instant selectors, left-open
range windows, the extrapolation of rate/increase/delta, histogram_quantile over classic
buckets, aggregation by/without, one-to-one and set vector matching, bool comparisons, and
alerting rules' `for`. Anything else raises `Unsupported`, so a new rule that needs more
fails loudly instead of passing untested.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import promql_parser as pq
import yaml

STALE = float("nan")  # staleness marker; real NaN samples are not used by the tests
LOOKBACK_MS = 5 * 60 * 1000

LabelSet = tuple[tuple[str, str], ...]
Sample = tuple[LabelSet, float]
Vector = list[Sample]


class Unsupported(NotImplementedError):
    """The expression uses PromQL this harness does not implement."""


def labelset(labels: Mapping[str, str]) -> LabelSet:
    return tuple(sorted(labels.items()))


def ms(delta: timedelta | None) -> int:
    return 0 if delta is None else int(delta.total_seconds() * 1000)


def parse_duration_ms(text: str) -> int:
    if re.fullmatch(r"0+[a-z]*", text):
        return 0
    return ms(pq.parse_duration(text))


@dataclass
class Series:
    labels: LabelSet
    points: list[tuple[int, float, bool]]  # (t_ms, value, stale)


class Storage:
    """In-memory series, as promtool loads `input_series`."""

    def __init__(self) -> None:
        self.series: list[Series] = []

    def add(self, labels: Mapping[str, str], points: list[tuple[int, float, bool]]) -> None:
        self.series.append(Series(labelset(labels), sorted(points)))

    def select(self, matchers: list[pq.Matcher], name: str | None) -> Iterable[Series]:
        for s in self.series:
            labels = dict(s.labels)
            if name is not None and labels.get("__name__") != name:
                continue
            if all(_matches(m, labels.get(m.name, "")) for m in matchers):
                yield s


def _matches(matcher: pq.Matcher, value: str) -> bool:
    op = matcher.op
    if op == pq.MatchOp.Equal:
        return value == matcher.value
    if op == pq.MatchOp.NotEqual:
        return value != matcher.value
    anchored = re.fullmatch(matcher.value, value, flags=re.DOTALL) is not None
    return anchored if op == pq.MatchOp.Re else not anchored


def _drop_name(labels: LabelSet) -> LabelSet:
    return tuple(kv for kv in labels if kv[0] != "__name__")


_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
}


def _divide(a: float, b: float) -> float:
    if b == 0:
        return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a)
    return a / b


_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _divide,
}


class Evaluator:
    """Evaluates instant queries over a `Storage` at a given time (milliseconds)."""

    def __init__(self, storage: Storage, *, closed_windows: bool = False) -> None:
        self.storage = storage
        # Prometheus 3 selects samples in (t - range, t]; Prometheus 2 (and its promtool,
        # Debian's included) in [t - range, t]. The test cases stay clear of the boundary.
        self.closed = closed_windows

    def _in_window(self, sample_t: int, start: int, end: int) -> bool:
        return (start <= sample_t if self.closed else start < sample_t) and sample_t <= end

    def instant(self, query: str | pq.Expr, t: int) -> Vector | float:
        expr = pq.parse(query) if isinstance(query, str) else query
        return self._eval(expr, t)

    # -- dispatch ----------------------------------------------------------------------------
    def _eval(self, expr: pq.Expr, t: int) -> Vector | float:
        if isinstance(expr, pq.NumberLiteral):
            return float(expr.val)
        if isinstance(expr, pq.ParenExpr):
            return self._eval(expr.expr, t)
        if isinstance(expr, pq.UnaryExpr):
            inner = self._eval(expr.expr, t)
            if isinstance(inner, float):
                return -inner
            return [(_drop_name(labels), -value) for labels, value in inner]
        if isinstance(expr, pq.VectorSelector):
            return self._vector(expr, t)
        if isinstance(expr, pq.Call):
            return self._call(expr, t)
        if isinstance(expr, pq.AggregateExpr):
            return self._aggregate(expr, t)
        if isinstance(expr, pq.BinaryExpr):
            return self._binary(expr, t)
        raise Unsupported(f"{type(expr).__name__}: {expr}")

    # -- selectors ---------------------------------------------------------------------------
    def _vector(self, sel: pq.VectorSelector, t: int) -> Vector:
        if sel.at is not None or sel.matchers.or_matchers:
            raise Unsupported(f"@ or `or` matchers: {sel}")
        at = t - ms(sel.offset)
        out: Vector = []
        for s in self.storage.select(sel.matchers.matchers, sel.name):
            window = [p for p in s.points if self._in_window(p[0], at - LOOKBACK_MS, at)]
            if window and not window[-1][2]:
                out.append((s.labels, window[-1][1]))
        return out

    def _matrix(self, sel: pq.MatrixSelector, t: int) -> list[tuple[LabelSet, list[tuple[int, float]]]]:
        vs = sel.vector_selector
        if vs.at is not None or vs.matchers.or_matchers:
            raise Unsupported(f"@ or `or` matchers: {sel}")
        end = t - ms(vs.offset)
        start = end - ms(sel.range)
        out = []
        for s in self.storage.select(vs.matchers.matchers, vs.name):
            points = [(pt, v) for pt, v, stale in s.points if self._in_window(pt, start, end) and not stale]
            if points:
                out.append((s.labels, points))
        return out

    # -- functions ---------------------------------------------------------------------------
    def _call(self, call: pq.Call, t: int) -> Vector | float:
        name = call.func.name
        args = list(call.args)
        if name in ("rate", "increase", "delta", "changes"):
            [arg] = args
            if not isinstance(arg, pq.MatrixSelector):
                raise Unsupported(f"{name} over {type(arg).__name__}")
            return self._range_function(name, arg, t)
        if name == "absent":
            [arg] = args
            return self._absent(arg, t)
        if name == "histogram_quantile":
            q_expr, vec_expr = args
            q = self._eval(q_expr, t)
            vec = self._eval(vec_expr, t)
            if not isinstance(q, float) or isinstance(vec, float):
                raise Unsupported("histogram_quantile(scalar, vector) only")
            return _histogram_quantile(q, vec)
        raise Unsupported(f"function {name}")

    def _range_function(self, name: str, arg: pq.MatrixSelector, t: int) -> Vector:
        out: Vector = []
        for labels, points in self._matrix(arg, t):
            if name == "changes":
                value: float | None = float(sum(1 for a, b in itertools.pairwise(points) if a[1] != b[1]))
            else:
                value = _extrapolated(points, t - ms(arg.vector_selector.offset), arg, name)
            if value is not None:
                out.append((_drop_name(labels), value))
        return out

    def _absent(self, arg: pq.Expr, t: int) -> Vector:
        result = self._eval(arg, t)
        if isinstance(result, float):
            raise Unsupported("absent over a scalar")
        if result:
            return []
        labels: dict[str, str] = {}
        if isinstance(arg, pq.VectorSelector):
            for m in arg.matchers.matchers:
                if m.op == pq.MatchOp.Equal and m.name != "__name__":
                    labels[m.name] = m.value
        return [(labelset(labels), 1.0)]

    # -- aggregation -------------------------------------------------------------------------
    def _aggregate(self, agg: pq.AggregateExpr, t: int) -> Vector:
        op = str(agg.op)
        if op not in ("sum", "max", "min", "avg", "count") or agg.param is not None:
            raise Unsupported(f"aggregation {op}")
        inner = self._eval(agg.expr, t)
        if isinstance(inner, float):
            raise Unsupported("aggregation over a scalar")
        groups: dict[LabelSet, list[float]] = {}
        for labels, value in inner:
            groups.setdefault(_group_key(labels, agg.modifier), []).append(value)
        reducers: dict[str, Callable[[list[float]], float]] = {
            "sum": lambda vs: float(sum(vs)),
            "max": max,
            "min": min,
            "avg": lambda vs: sum(vs) / len(vs),
            "count": lambda vs: float(len(vs)),
        }
        return [(key, reducers[op](values)) for key, values in groups.items()]

    # -- binary operators --------------------------------------------------------------------
    def _binary(self, expr: pq.BinaryExpr, t: int) -> Vector | float:
        op = str(expr.op)
        lhs = self._eval(expr.lhs, t)
        rhs = self._eval(expr.rhs, t)
        modifier = expr.modifier
        return_bool = bool(modifier and modifier.return_bool)
        if op in ("and", "or", "unless"):
            if isinstance(lhs, float) or isinstance(rhs, float):
                raise Unsupported(f"{op} with a scalar")
            return _set_operation(op, lhs, rhs, modifier)
        if op not in _COMPARISONS and op not in _ARITHMETIC:
            raise Unsupported(f"operator {op}")
        if isinstance(lhs, float) and isinstance(rhs, float):
            if op in _COMPARISONS:
                if not return_bool:
                    raise Unsupported("scalar comparison needs bool")
                return float(_COMPARISONS[op](lhs, rhs))
            return _ARITHMETIC[op](lhs, rhs)
        if isinstance(lhs, float) or isinstance(rhs, float):
            return _vector_scalar(op, lhs, rhs, return_bool)
        return _vector_vector(op, lhs, rhs, modifier)


def _group_key(labels: LabelSet, modifier: pq.AggModifier | None) -> LabelSet:
    if modifier is None:
        return ()
    names = set(modifier.labels)
    if modifier.type == pq.AggModifierType.By:
        return tuple(kv for kv in labels if kv[0] in names)
    return tuple(kv for kv in labels if kv[0] not in names and kv[0] != "__name__")


def _signature(labels: LabelSet, modifier: pq.BinModifier | None) -> LabelSet:
    matching = modifier.matching if modifier else None
    if matching is None:
        return _drop_name(labels)
    names = set(matching.labels)
    if matching.type == pq.LabelModifierType.Include:
        return tuple(kv for kv in labels if kv[0] in names)
    return tuple(kv for kv in labels if kv[0] not in names and kv[0] != "__name__")


def _set_operation(op: str, lhs: Vector, rhs: Vector, modifier: pq.BinModifier | None) -> Vector:
    right = {_signature(labels, modifier) for labels, _ in rhs}
    if op == "and":
        return [s for s in lhs if _signature(s[0], modifier) in right]
    if op == "unless":
        return [s for s in lhs if _signature(s[0], modifier) not in right]
    left = {_signature(labels, modifier) for labels, _ in lhs}
    return lhs + [s for s in rhs if _signature(s[0], modifier) not in left]


def _vector_scalar(op: str, lhs: Vector | float, rhs: Vector | float, return_bool: bool) -> Vector:
    vector, scalar, vector_left = (lhs, rhs, True) if isinstance(rhs, float) else (rhs, lhs, False)
    assert isinstance(vector, list) and isinstance(scalar, float)
    out: Vector = []
    for labels, value in vector:
        a, b = (value, scalar) if vector_left else (scalar, value)
        if op in _COMPARISONS:
            ok = _COMPARISONS[op](a, b)
            if return_bool:
                out.append((_drop_name(labels), float(ok)))
            elif ok:
                out.append((labels, value))
        else:
            out.append((_drop_name(labels), _ARITHMETIC[op](a, b)))
    return out


def _vector_vector(op: str, lhs: Vector, rhs: Vector, modifier: pq.BinModifier | None) -> Vector:
    if modifier is not None and modifier.card != pq.VectorMatchCardinality.OneToOne:
        raise Unsupported("group_left / group_right")
    right: dict[LabelSet, float] = {}
    for labels, value in rhs:
        key = _signature(labels, modifier)
        if key in right:
            raise ValueError(f"many-to-many matching on the right-hand side: {dict(key)}")
        right[key] = value
    matching = modifier.matching if modifier else None
    out: Vector = []
    for labels, value in lhs:
        key = _signature(labels, modifier)
        if key not in right:
            continue
        result_labels = _drop_name(labels)
        if matching is not None and matching.type == pq.LabelModifierType.Include:
            result_labels = key
        if op in _COMPARISONS:
            ok = _COMPARISONS[op](value, right[key])
            if modifier is not None and modifier.return_bool:
                out.append((result_labels, float(ok)))
            elif ok:
                out.append((labels, value))
        else:
            out.append((result_labels, _ARITHMETIC[op](value, right[key])))
    return out


def _extrapolated(
    points: list[tuple[int, float]], end: int, sel: pq.MatrixSelector, name: str
) -> float | None:
    """Prometheus' extrapolatedRate (promql/functions.go) for rate, increase and delta."""
    if len(points) < 2:
        return None
    is_counter = name in ("rate", "increase")
    range_ms = ms(sel.range)
    start = end - range_ms
    result = points[-1][1] - points[0][1]
    if is_counter:
        for (_, prev), (_, cur) in itertools.pairwise(points):
            if cur < prev:
                result += prev
    duration_to_start = (points[0][0] - start) / 1000
    duration_to_end = (end - points[-1][0]) / 1000
    sampled = (points[-1][0] - points[0][0]) / 1000
    average = sampled / (len(points) - 1)
    threshold = average * 1.1
    if duration_to_start >= threshold:
        duration_to_start = average / 2
    if is_counter and result > 0 and points[0][1] >= 0:
        duration_to_zero = sampled * (points[0][1] / result)
        duration_to_start = min(duration_to_start, duration_to_zero)
    if duration_to_end >= threshold:
        duration_to_end = average / 2
    factor = (sampled + duration_to_start + duration_to_end) / sampled
    if name == "rate":
        factor /= range_ms / 1000
    return result * factor


def _histogram_quantile(q: float, vector: Vector) -> Vector:
    """Prometheus' bucketQuantile over classic `le` buckets, grouped by every other label."""
    groups: dict[LabelSet, list[tuple[float, float]]] = {}
    for labels, value in vector:
        le = dict(labels).get("le")
        if le is None:
            continue
        key = tuple(kv for kv in labels if kv[0] not in ("le", "__name__"))
        groups.setdefault(key, []).append((float(le), value))
    out: Vector = []
    for key, buckets in groups.items():
        out.append((key, _bucket_quantile(q, sorted(buckets))))
    return out


def _bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    if len(buckets) < 2 or not math.isinf(buckets[-1][0]):
        return math.nan
    counts = [c for _, c in buckets]
    for i in range(1, len(counts)):  # ensureMonotonic
        counts[i] = max(counts[i], counts[i - 1])
    observations = counts[-1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = next(i for i, c in enumerate(counts) if c >= rank)
    if b == len(buckets) - 1:
        return buckets[-2][0]
    if b == 0 and buckets[0][0] <= 0:
        return buckets[0][0]
    start, end, count = 0.0, buckets[b][0], counts[b]
    if b > 0:
        start = buckets[b - 1][0]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    return start + (end - start) * (rank / count)


# -- promtool's test files -------------------------------------------------------------------

_NUMBER = r"[0-9]+(?:\.[0-9]*)?(?:e[+-]?[0-9]+)?"
_EXPANDING = re.compile(rf"^(?P<a>-?{_NUMBER})(?:(?P<sign>[+-])(?P<b>{_NUMBER}))?x(?P<n>[0-9]+)$")


def expand_values(text: str) -> list[float | None]:
    """promtool's series notation: `1 2 _ stale 0+10x5 1x3 _x2 5-1x4` (None: no sample)."""
    out: list[float | None] = []
    for token in str(text).split():
        if token == "_":
            out.append(None)
        elif token == "stale":
            out.append(STALE)
        elif token.startswith("_x"):
            out += [None] * int(token[2:])
        elif m := _EXPANDING.match(token):
            a, n = float(m["a"]), int(m["n"])
            b = float(m["b"] or 0) * (-1 if m["sign"] == "-" else 1)
            out += [a + i * b for i in range(n + 1)]
        else:
            out.append(float(token))
    return out


def series_labels(selector: str) -> dict[str, str]:
    expr = pq.parse(selector)
    if not isinstance(expr, pq.VectorSelector):
        raise ValueError(f"not a series: {selector}")
    labels = {m.name: m.value for m in expr.matchers.matchers if m.op == pq.MatchOp.Equal}
    if expr.name:
        labels["__name__"] = expr.name
    return labels


_TEMPLATE = re.compile(r"{{\s*(.*?)\s*}}")


def render(template: str, labels: Mapping[str, str]) -> str:
    """The `{{ $labels.name }}` subset of Go templates that the annotations use."""

    def one(m: re.Match[str]) -> str:
        ref = m.group(1)
        if not ref.startswith("$labels."):
            raise Unsupported(f"template {ref!r}: only $labels.<name> is supported")
        return labels.get(ref.removeprefix("$labels."), "")

    return _TEMPLATE.sub(one, template)


@dataclass
class AlertRule:
    name: str
    expr: pq.Expr
    for_ms: int
    labels: dict[str, str]
    annotations: dict[str, str]
    active: dict[LabelSet, int] = field(default_factory=dict)

    def evaluate(self, evaluator: Evaluator, t: int) -> list[dict[str, Any]]:
        """Evaluate once at `t`, update pending state, return the alerts firing at `t`."""
        result = evaluator.instant(self.expr, t)
        if isinstance(result, float):
            raise Unsupported(f"{self.name}: an alert expression must return a vector")
        now: dict[LabelSet, dict[str, str]] = {}
        for labels, _ in result:
            sample_labels = dict(_drop_name(labels))
            alert_labels = {**sample_labels, **self.labels, "alertname": self.name}
            key = labelset(alert_labels)
            if key in now:
                raise ValueError(f"{self.name}: two series with the same labels {alert_labels}")
            now[key] = sample_labels
        self.active = {key: self.active.get(key, t) for key in now}
        return [
            {
                "labels": dict(key),
                "annotations": {k: render(v, now[key]) for k, v in self.annotations.items()},
            }
            for key, since in self.active.items()
            if t - since >= self.for_ms
        ]


def load_alert_rules(path: Path) -> list[AlertRule]:
    doc = yaml.safe_load(path.read_text())
    rules = []
    for group in doc["groups"]:
        for rule in group["rules"]:
            if "alert" not in rule:
                raise Unsupported("recording rules")
            rules.append(
                AlertRule(
                    name=rule["alert"],
                    expr=pq.parse(rule["expr"]),
                    for_ms=parse_duration_ms(rule.get("for", "0s")),
                    labels={k: str(v) for k, v in rule.get("labels", {}).items()},
                    annotations={k: str(v) for k, v in rule.get("annotations", {}).items()},
                )
            )
    return rules


def run_rule_tests(test_file: Path) -> list[str]:
    """Run every `alert_rule_test` of a promtool test file; return the failures (empty: all pass)."""
    doc = yaml.safe_load(test_file.read_text())
    interval_ms = parse_duration_ms(doc.get("evaluation_interval", "1m"))
    failures: list[str] = []
    for number, test in enumerate(doc["tests"], start=1):
        if test.get("promql_expr_test") or test.get("external_labels"):
            raise Unsupported("promql_expr_test / external_labels")
        storage = Storage()
        step = parse_duration_ms(test.get("interval", "1m"))
        for series in test["input_series"]:
            points = [
                (i * step, value, value is STALE)
                for i, value in enumerate(expand_values(series["values"]))
                if value is not None
            ]
            storage.add(series_labels(series["series"]), [(t, 0.0 if s else v, s) for t, v, s in points])
        rules = {r.name: r for f in doc["rule_files"] for r in load_alert_rules(test_file.parent / f)}
        evaluator = Evaluator(storage)
        checks = sorted(test.get("alert_rule_test", []), key=lambda c: parse_duration_ms(c["eval_time"]))
        end = max((parse_duration_ms(c["eval_time"]) for c in checks), default=0)
        firing: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for t in range(0, end + 1, interval_ms):
            for rule in rules.values():
                firing[(rule.name, t)] = rule.evaluate(evaluator, t)
        for check in checks:
            name, t = check["alertname"], parse_duration_ms(check["eval_time"])
            if name not in rules:
                failures.append(f"test {number}: no alert named {name}")
                continue
            expected = sorted(
                (
                    {
                        "labels": {
                            **{k: str(v) for k, v in e.get("exp_labels", {}).items()},
                            "alertname": name,
                        },
                        "annotations": {k: str(v) for k, v in e.get("exp_annotations", {}).items()},
                    }
                    for e in check.get("exp_alerts") or []
                ),
                key=repr,
            )
            got = sorted(firing[(name, t)], key=repr)
            if got != expected:
                failures.append(
                    f"test {number}, {name} at {check['eval_time']}: expected {expected}, got {got}"
                )
    return failures
