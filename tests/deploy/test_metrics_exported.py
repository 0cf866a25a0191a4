"""Every metric the dashboards and alerts read is one the services export, with the labels
they read; and every service's /metrics passes a lint of names, help and types.

The four services run in-process on the embedded Postgres and broker (the e2e `stack`); one
deal goes all the way through, one delivery is refused, one body is unreadable and one
poison message is dead-lettered, so that every labelled series has samples. Then each
service's /metrics is scraped and compared with the PromQL of deploy/.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import promql_parser as pq
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from provisio_common.testing.plugin import eventually
from provisio_common.topics import DEALS
from tests.e2e.conftest import Stack, stack
from tests.e2e.test_deal_through import deal, send, setup_company

from .conftest import all_promql

__all__ = ["stack"]  # the e2e fixture, used here

# A sample name's family: counters' _total, histograms' _bucket/_sum/_count, or itself.
_SUFFIXES = (
    ("_total", ("counter",)),
    ("_bucket", ("histogram",)),
    ("_sum", ("histogram", "summary")),
    ("_count", ("histogram", "summary")),
    ("", ("gauge", "info", "stateset")),
)
# Labels Prometheus adds from the scrape target (prometheus.yml, ServiceMonitor).
TARGET_LABELS = {"job", "instance", "service"}
# Series Prometheus makes itself for every target.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_series_added"}
OPS_ROUTES = ("/metrics", "/healthz", "/readyz")


@dataclass
class Exposition:
    """What the services' /metrics hold: every sample name with its label names."""

    text: str
    families: dict[str, str] = field(default_factory=dict)  # family name -> type
    samples: dict[str, set[str]] = field(default_factory=dict)  # sample name -> label names

    def declared_labels(self, sample_name: str) -> set[str] | None:
        """The label names of a family the exposition declares (HELP and TYPE) but that has
        no sample yet, e.g. a labelled counter nothing incremented in this test (payout-service's
        approved and paid money): read from the in-process registry that produced the text."""
        for suffix, kinds in _SUFFIXES:
            family = sample_name.removesuffix(suffix) if suffix else sample_name
            if (suffix == "" or sample_name.endswith(suffix)) and self.families.get(family) in kinds:
                collector = REGISTRY._names_to_collectors.get(family)  # private: no public API
                names = getattr(collector, "_labelnames", None)
                return set(names) if names is not None else None
        return None

    @classmethod
    def parse(cls, text: str) -> Exposition:
        out = cls(text)
        for family in text_string_to_metric_families(text):
            out.families[family.name] = family.type
            for sample in family.samples:
                out.samples.setdefault(sample.name, set()).update(sample.labels)
        return out


def _selectors(expr: pq.Expr) -> Iterator[pq.VectorSelector]:
    found: list[pq.VectorSelector] = []

    def visit(node: pq.Expr) -> None:
        if isinstance(node, pq.VectorSelector):  # walk() descends into range selectors too
            found.append(node)

    pq.walk(expr, pre_visit=visit)
    yield from found


def _aggregations(expr: pq.Expr) -> Iterator[pq.AggregateExpr]:
    found: list[pq.AggregateExpr] = []

    def visit(node: pq.Expr) -> None:
        if isinstance(node, pq.AggregateExpr):
            found.append(node)

    pq.walk(expr, pre_visit=visit)
    yield from found


def problems_of(where: str, expr: pq.Expr, exposition: Exposition) -> list[str]:
    """Metric names the services do not export, and label names their series do not carry."""
    problems: list[str] = []
    for selector in _selectors(expr):
        problems += _selector_problems(where, selector, exposition)
    for aggregation in _aggregations(expr):
        modifier = aggregation.modifier
        if modifier is None or modifier.type != pq.AggModifierType.By:
            continue
        inner: set[str] = set(TARGET_LABELS)
        for selector in _selectors(aggregation.expr):
            name = selector.name or ""
            inner |= exposition.samples.get(name) or exposition.declared_labels(name) or set()
        for label in modifier.labels:
            if label not in inner:
                problems.append(f"{where}: `by ({label})` but no series inside carries {label}")
    return problems


def _selector_problems(where: str, selector: pq.VectorSelector, exposition: Exposition) -> list[str]:
    name = selector.name
    if name is None:
        return [f"{where}: a selector without a metric name ({selector})"]
    if name in SYNTHETIC:
        labels = set(TARGET_LABELS)
    elif name in exposition.samples:
        labels = exposition.samples[name] | TARGET_LABELS
    elif (declared := exposition.declared_labels(name)) is not None:
        labels = declared | TARGET_LABELS
    else:
        return [f"{where}: metric {name} is not exported by any service"]
    return [
        f"{where}: {name} has no label {m.name} (it has {sorted(labels)})"
        for m in selector.matchers.matchers
        if m.name != "__name__" and m.name not in labels
    ]


# -- the exposition lint (what `promtool check metrics` checks, and a few of our own) --------

_NAME = re.compile(r"^[a-z_:][a-z0-9_:]*$")
_LABEL = re.compile(r"^[a-z_][a-z0-9_]*$")
_NON_BASE_UNITS = re.compile(
    r"_(milliseconds|microseconds|nanoseconds|minutes|hours|days|ms|kilobytes|megabytes|percent)(_|$)"
)


def lint(exposition: Exposition) -> list[str]:
    """Names in snake_case, HELP on every family, a TYPE, counters ending in _total, base
    units, complete histograms, and our own metrics under `provisio_`."""
    problems: list[str] = []
    for family in text_string_to_metric_families(exposition.text):
        problems += _lint_name(family.name, family.type, family.documentation)
        problems += _lint_samples(family.name, family.type, family.samples)
    return sorted(set(problems))


def _lint_name(name: str, kind: str, documentation: str) -> list[str]:
    problems = []
    if not _NAME.match(name):
        problems.append(f"{name}: not snake_case")
    if not documentation.strip():
        problems.append(f"{name}: no HELP text")
    if kind == "unknown":
        problems.append(f"{name}: no TYPE")
    if _NON_BASE_UNITS.search(name):
        problems.append(f"{name}: use base units (seconds, bytes, ratios)")
    if not name.startswith(("provisio_", "process_", "python_")):
        problems.append(f"{name}: a Provisio metric is named provisio_*")
    if kind != "counter" and name.endswith("_total"):
        problems.append(f"{name}: only counters end in _total ({kind})")
    if kind not in ("histogram", "summary") and name.endswith(("_count", "_sum", "_bucket")):
        problems.append(f"{name}: _count/_sum/_bucket are a histogram's or summary's")
    return problems


def _lint_samples(name: str, kind: str, samples: list[Sample]) -> list[str]:
    problems = []
    names = {s.name for s in samples}
    if kind == "counter":
        problems += [
            f"{s}: a counter's samples end in _total" for s in names if not s.endswith(("_total", "_created"))
        ]
    if kind == "histogram" and samples:
        infinite = [s for s in samples if s.name.endswith("_bucket") and s.labels.get("le") == "+Inf"]
        if not infinite or f"{name}_sum" not in names or f"{name}_count" not in names:
            problems.append(f"{name}: a histogram needs +Inf buckets, _sum and _count")
    for sample in samples:
        problems += [
            f"{name}: label {label} is not snake_case" for label in sample.labels if not _LABEL.match(label)
        ]
    return problems


# -- the test -------------------------------------------------------------------------------


async def _traffic(client: httpx.AsyncClient, stack: Stack) -> None:
    """One deal through, a refused delivery, an unreadable body, a poison message."""
    await setup_company(client, stack)
    landed = await _sample(client, stack.payout, _LANDED)
    r = await send(client, stack, "metrics-1", {"type": "deal.snapshot", "data": deal("won")})
    assert r.status_code == 202, r.text

    # Through: payout-service applied calc-engine's ledger entry for the deal, and observed
    # its webhook -> statement latency (the histogram's buckets have a sample).
    await eventually(lambda: _has_sample(client, stack.payout, _LEDGER_APPLIED))
    await eventually(lambda: _grew(client, stack.payout, _LANDED, landed))
    body = json.dumps({"type": "deal.snapshot", "data": deal("won")}).encode()
    refused = await client.post(
        f"{stack.ingest}/webhooks/generic",
        content=body,
        headers={
            "content-type": "application/json",
            "webhook-id": "x",
            "webhook-timestamp": "1",
            "webhook-signature": "v1,bad",
        },
    )
    assert refused.status_code == 401, refused.text
    bad = deal("won")
    bad["amount"] = 1250.0
    r = await send(client, stack, "metrics-float", {"type": "deal.snapshot", "data": bad})
    assert r.status_code == 422, r.text
    for service in (stack.ingest, stack.calc, stack.quota, stack.payout):  # readiness answers
        assert (await client.get(f"{service}/readyz")).status_code == 200
    producer = AIOKafkaProducer(bootstrap_servers=stack.settings.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(DEALS.name, b"not an envelope", key=b"poison")
    finally:
        await producer.stop()

    await eventually(lambda: _has_sample(client, stack.calc, "provisio_dlq_messages_total{"))


_LEDGER_APPLIED = (
    'provisio_consumer_messages_total{consumer="payout-service",outcome="applied",'
    'service="payout-service",topic="ledger.v1"}'
)


_LANDED = 'provisio_webhook_to_statement_seconds_bucket{le="+Inf"}'


async def _sample(client: httpx.AsyncClient, url: str, line_prefix: str) -> float:
    """The value of the exposition line starting with `line_prefix` (0 when there is none)."""
    text = (await client.get(f"{url}/metrics")).text
    values = [line.rsplit(" ", 1)[1] for line in text.splitlines() if line.startswith(line_prefix)]
    return float(values[0]) if values else 0.0


async def _grew(client: httpx.AsyncClient, url: str, line_prefix: str, before: float) -> bool:
    return await _sample(client, url, line_prefix) > before


async def _has_sample(client: httpx.AsyncClient, url: str, prefix: str) -> bool:
    text = (await client.get(f"{url}/metrics")).text
    return any(line.startswith(prefix) for line in text.splitlines())


async def test_dashboards_and_alerts_read_only_what_the_services_export(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        await _traffic(client, stack)
        texts = {}
        for url in (stack.ingest, stack.calc, stack.quota, stack.payout):
            r = await client.get(f"{url}/metrics")
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
            texts[url] = r.text
    # In-process the four share one registry; every service answers it.
    exposition = Exposition.parse(texts[stack.calc])
    problems = [p for where, expr in all_promql() for p in problems_of(where, pq.parse(expr), exposition)]
    assert problems == [], "\n".join(problems)

    lint_problems = {url: lint(Exposition.parse(text)) for url, text in texts.items()}
    assert all(p == [] for p in lint_problems.values()), lint_problems
    # promtool's own lint as well, where it is installed (Debian/Ubuntu: apt-get install
    # prometheus); the lint above is the one that always runs.
    promtool = shutil.which("promtool")
    for url, text in texts.items() if promtool else ():
        result = await asyncio.to_thread(
            subprocess.run,
            [str(promtool), "check", "metrics"],
            input=text,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"promtool check metrics on {url}:\n{result.stdout}{result.stderr}"


def test_the_checks_catch_a_missing_metric_a_missing_label_and_a_bad_name() -> None:
    exposition = Exposition.parse(
        '# HELP provisio_x_total x\n# TYPE provisio_x_total counter\nprovisio_x_total{kind="a"} 1.0\n'
        "# HELP provisio_y_ms y\n# TYPE provisio_y_ms gauge\nprovisio_y_ms 1.0\n"
        "# TYPE other_total gauge\nother_total 1.0\n"
    )
    problems = problems_of(
        "t",
        pq.parse('sum by (kind, route) (rate(provisio_x_total{source="a"}[5m])) + provisio_missing'),
        exposition,
    )
    assert problems == [
        "t: provisio_x_total has no label source (it has ['instance', 'job', 'kind', 'service'])",
        "t: metric provisio_missing is not exported by any service",
        "t: `by (route)` but no series inside carries route",
    ]
    assert lint(exposition) == [
        "other_total: a Provisio metric is named provisio_*",
        "other_total: no HELP text",
        "other_total: only counters end in _total (gauge)",
        "provisio_y_ms: use base units (seconds, bytes, ratios)",
    ]
