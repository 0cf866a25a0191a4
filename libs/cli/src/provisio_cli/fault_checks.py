"""The check after each fault of the fault suite (`provisio_cli.faults`): wait by
condition until the stack has settled, then compare with the engine on what deal-ingest
holds, read every DLQ and every parked outbox, and recompute."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from calc_engine.consumers.spec import consumers as calc_consumers
from deal_ingest.consumers.spec import consumers as ingest_consumers
from payout_service.consumers.spec import consumers as payout_consumers
from provisio_cli.differential import (
    Expected,
    Observed,
    Scenario,
    View,
    _Client,
    _NotReady,
    _read_view,
    _Sent,
    _settle,
    _sum,
    compare,
    expected,
)
from provisio_cli.stack import SERVICES
from provisio_common.events import canonical_content, revision_order
from quota_service.consumers.spec import consumers as quota_consumers

POISON_KEY = "fault:poison"
OVERSIZED_KEY = "fault:oversized"
# Every consumer group of the stack and the topics it reads (the services' own specs; each
# service has one group, named after it), and those that read deals.v1 (where the poison goes).
GROUPS = {
    spec.name: spec.topics
    for make in (ingest_consumers, calc_consumers, quota_consumers, payout_consumers)
    for spec in make()
}
DEALS_CONSUMERS = tuple(group for group, topics in GROUPS.items() if "deals.v1" in topics)
POLL_S = 1.0  # between two looks at the stack while waiting for it to settle
ZERO = Decimal(0)


@dataclass
class FaultReport:
    """What one fault did and what the check after it found."""

    fault: str
    point: str
    done: str = ""
    deals_compared: int = 0
    lost: int = 0
    double_counted: int = 0
    posted: int | None = None
    input_differences: int | None = None  # calc-engine's inputs vs. deal-ingest and quota-service
    send_s: float = 0.0  # the slice sent, with the fault in its midst
    settle_s: float = 0.0  # until settled (by condition)
    check_s: float = 0.0  # histories read, compared, DLQs and parked rows read, recomputed
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One line for the log."""
        posted = "-" if self.posted is None else str(self.posted)
        return (
            f"{self.fault}: {self.point}; {self.done}; {self.deals_compared} deals compared; "
            f"lost {self.lost}, double-counted {self.double_counted}; POST /recompute posted "
            f"{posted}, input differences {self.input_differences}; {len(self.problems)} problem(s) "
            f"(sent {self.send_s:.0f}s, settled {self.settle_s:.0f}s, checked {self.check_s:.0f}s)"
        )


@dataclass(frozen=True)
class Expectations:
    """What the DLQs and parked outboxes may hold at a check."""

    poisoned: bool = False
    oversized: bool = False


async def _deal_ingest_current(client: _Client) -> dict[str, tuple[int, str]]:
    """Every deal deal-ingest holds: its current revision and status (paged)."""
    out: dict[str, tuple[int, str]] = {}
    after: str | None = None
    while True:
        query = f"?limit=1000&after={after}" if after else "?limit=1000"
        page = await client.get(f"{client.urls.ingest}/deals{query}")
        for doc in page["deals"]:
            out[f"{doc['source']}:{doc['external_id']}"] = (doc["revision"], doc["status"])
        after = page["next"]
        if not after:
            return out


async def _unready(client: _Client) -> list[str]:
    """The services that do not answer /readyz with 200."""
    waiting: list[str] = []
    for base in client.urls.all():
        try:
            response, _ = await client.request("GET", f"{base}/readyz")
        except httpx.HTTPError as exc:
            waiting.append(f"{base} unreachable: {exc}")
            continue
        if response.status_code != 200:
            waiting.append(f"{base} not ready: {response.text[:200]}")
    return waiting


class BrokerLag:
    """Consumer lag as the broker sees it: per consumer group, its committed offset and the
    end of every partition of its topics."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.admin: AIOKafkaAdminClient | None = None
        self.reader: AIOKafkaConsumer | None = None

    async def close(self) -> None:
        """Close the clients (they are opened on first use)."""
        with contextlib.suppress(KafkaError, OSError):
            if self.admin is not None:
                await self.admin.close()
        with contextlib.suppress(KafkaError, OSError):
            if self.reader is not None:
                await self.reader.stop()
        self.admin = self.reader = None

    async def behind(self) -> dict[str, list[str]]:
        """Per consumer group, its partitions not caught up (`topic/partition committed of
        end`). Committed offsets, not the services' lag gauges: a consumer commits again on
        its next poll when a commit failed, so a settled group has committed every end."""
        out: dict[str, list[str]] = {}
        for group, lags in (await self.lag()).items():
            for (topic, partition), (committed, end) in sorted(lags.items()):
                if committed < end:
                    out.setdefault(group, []).append(f"{topic}/{partition} {committed} of {end}")
        return out

    async def lag(self) -> dict[str, dict[tuple[str, int], tuple[int, int]]]:
        """Per consumer group and partition of its topics: (committed offset, end offset)."""
        if self.admin is None or self.reader is None:
            self.admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
            self.reader = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
            await self.admin.start()
            await self.reader.start()
        existing = await self.reader.topics()  # also refreshes the partitions known
        out: dict[str, dict[tuple[str, int], tuple[int, int]]] = {}
        for group, topics in GROUPS.items():
            parts = [
                TopicPartition(topic, p)
                for topic in topics
                if topic in existing
                for p in self.reader.partitions_for_topic(topic) or ()
            ]
            if not parts:
                continue
            ends = await self.reader.end_offsets(parts)
            committed = await self.admin.list_consumer_group_offsets(group, partitions=parts)
            done = {tp: max(c.offset, 0) for tp, c in committed.items()}
            out[group] = {(tp.topic, tp.partition): (done.get(tp, 0), end) for tp, end in ends.items()}
        return out


async def _waiting(client: _Client, sent: _Sent, hope: Expectations, broker: BrokerLag) -> list[str]:
    """Why the stack is not settled yet, beyond `differential`'s own reasons."""
    waiting = await _unready(client)
    if waiting:
        return waiting
    samples = await client.metrics()  # cheap; the deal lists only once all is quiet
    for group, parts in (await broker.behind()).items():
        waiting.append(f"consumer group {group} behind on {', '.join(parts[:6])}")
    backlog = _sum(samples, "provisio_outbox_backlog_rows")
    if backlog:
        waiting.append(f"{backlog:.0f} outbox row(s) not yet published")
    if waiting:
        return waiting
    waiting += await _calc_behind(client, sent)
    if hope.poisoned:
        for service, letters in (await _dead_letters(client)).items():
            if service in DEALS_CONSUMERS and not any(d["key"] == POISON_KEY for d in letters):
                waiting.append(f"{service} has not dead-lettered the poison yet")
    if hope.oversized:
        parked = await client.get(f"{client.urls.ingest}/outbox/parked")
        if len([p for p in parked if p["key"] == OVERSIZED_KEY]) < 2:
            waiting.append("deal-ingest has not parked the oversized row and the one behind it yet")
    return waiting


async def _calc_behind(client: _Client, sent: _Sent) -> list[str]:
    """Deals whose current snapshot at deal-ingest calc-engine does not hold yet. When the
    revision numbers differ, the deal's history decides: calc-engine may hold any revision
    of the run of equal-content revisions that ends the history (deal-ingest keeps back a
    revision that says nothing new, so calc-engine may never see the last one)."""
    ingest = await _deal_ingest_current(client)
    held = {d["deal"]: (d["revision"], d["status"]) for d in await client.get(f"{client.urls.calc}/deals")}
    differ = sorted(deal for deal in sent.accepted if ingest.get(deal) != held.get(deal))
    if len(differ) <= 50:  # few: look closer (more: calc-engine is still busy)
        differ = [d for d in differ if d not in held or not await _in_last_run(client, d, held[d][0])]
    if not differ:
        return []
    deal = differ[0]
    return [
        f"calc-engine does not hold deal-ingest's current snapshot of {len(differ)} deal(s) "
        f"(e.g. {deal}: deal-ingest {ingest.get(deal)}, calc-engine {held.get(deal)})"
    ]


async def _in_last_run(client: _Client, deal: str, revision: int) -> bool:
    """Whether `revision` is one of the equal-content revisions that end the deal's history."""
    history = sorted(await _revisions(client, deal), key=revision_order)
    last = canonical_content(history[-1])
    for snap in reversed(history):
        if canonical_content(snap) != last:
            return False
        if snap["revision"] == revision:
            return True
    return False


async def _revisions(client: _Client, deal: str) -> list[dict[str, Any]]:
    """Every revision's snapshot deal-ingest holds for a deal (arrival order)."""
    source, _, external = deal.partition(":")
    found = await client.get(f"{client.urls.ingest}/deals/{source}/{external}")
    return [r["snapshot"] for r in found["revisions"]]


async def _dead_letters(client: _Client) -> dict[str, list[dict[str, Any]]]:
    """Every service's dead letters (replayed or not)."""
    urls = zip(SERVICES, client.urls.all(), strict=True)
    return {name: await client.get(f"{base}/dlq?limit=1000") for name, base in urls}


async def _held_histories(client: _Client, deals: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Each deal's revisions as deal-ingest holds them, in history order (`revision_order`),
    without `revision`; a revision whose content equals the one before it is left out
    (deal-ingest keeps such a one back: it says nothing new)."""
    gate = asyncio.Semaphore(4)

    async def one(deal: str) -> tuple[str, list[dict[str, Any]]]:
        async with gate:
            revisions = await _revisions(client, deal)
        history: list[dict[str, Any]] = []
        for snap in sorted(revisions, key=revision_order):
            data = {k: v for k, v in snap.items() if k != "revision"}
            if history and canonical_content(history[-1]) == canonical_content(data):
                continue
            history.append(data)
        return deal, history

    return dict(await asyncio.gather(*(one(deal) for deal in deals)))


async def _until_empty(reasons: Callable[[], Awaitable[list[str]]], timeout_s: float) -> list[str]:
    """Poll `reasons` until it gives none; give up after `timeout_s` without a change in
    them (no progress), or 10 x `timeout_s` in all, returning why."""
    started = last_change = time.monotonic()
    previous: list[str] | None = None
    while True:
        try:
            now_reasons = await reasons()
        except (httpx.HTTPError, _NotReady, ValueError, KeyError) as exc:  # restarting or busy
            now_reasons = [f"{type(exc).__name__}: {exc}"]
        if not now_reasons:
            return []
        now = time.monotonic()
        if now_reasons != previous:
            last_change, previous = now, now_reasons
        if now - last_change > timeout_s or now - started > 10 * timeout_s:
            return [f"did not settle after {now - started:.0f}s: {'; '.join(now_reasons)}"]
        await asyncio.sleep(POLL_S)


def tally(want: Expected, view: View) -> tuple[int, int]:
    """(lost, double-counted): deals whose ledger sum is short of / over the engine's, and
    statement rows whose `earned` is."""
    lost = double = 0
    pairs: list[tuple[Decimal, Decimal]] = [
        (want.deals.get(d, ZERO), view.deals.get(d, ZERO)) for d in set(want.deals) | set(view.deals)
    ]
    for key in set(want.statements) | set(view.statements):
        row, seen = want.statements.get(key), view.statements.get(key)
        pairs.append((row.earned if row else ZERO, seen.earned if seen else ZERO))
    for should, is_ in pairs:
        lost += is_ < should
        double += is_ > should
    return lost, double


async def check(
    client: _Client,
    scen: Scenario,
    sent: _Sent,
    hope: Expectations,
    report: FaultReport,
    held: dict[str, list[dict[str, Any]]],
    touched: set[str],
    *,
    bootstrap: str,
    timeout_s: float = 120.0,
) -> None:
    """Wait until settled, then compare with the engine, read the DLQs and the parked
    outbox rows, and recompute; fill `report`. `held`: deal-ingest's histories as last
    read, updated here for the `touched` deals (those the slice sent deliveries of)."""
    started = time.monotonic()
    broker = BrokerLag(bootstrap)

    async def waiting() -> list[str]:
        try:
            return await _waiting(client, sent, hope, broker)
        except KafkaError as exc:  # the broker restarting: a reason to wait, like a service's
            return [f"broker: {type(exc).__name__}: {exc}"]

    # The cheap conditions first (lag, metrics, deal lists), then differential's settle,
    # which reads the whole ledger and every statement on each poll.
    try:
        unsettled = await _until_empty(waiting, timeout_s)
        if not unsettled:
            view, unsettled = await _settle(client, scen, sent, None, timeout_s, POLL_S, also=waiting)
        else:  # compare what there is: the differences say what did not arrive
            view, _counts, _entries, _problems = await _read_view(client, scen)
    finally:
        await broker.close()
    report.settle_s = time.monotonic() - started
    started = time.monotonic()
    report.problems += sent.problems + unsettled
    sent.problems.clear()
    # A deal's history changes only by a delivery: read again only those the slice touched.
    held.update(await _held_histories(client, sorted(touched & sent.accepted)))
    want = expected(replace(scen, deals={deal: held[deal] for deal in sorted(sent.accepted)}))
    report.problems += compare(want, Observed(view))
    report.deals_compared = len(sent.accepted)
    report.lost, report.double_counted = tally(want, view)
    report.problems += await _stray_letters(client, hope) + await _stray_parked(client, hope)
    response, _ = await client.request("POST", f"{client.urls.calc}/recompute", headers=client.admin)
    if response.status_code != 200:
        report.problems.append(f"POST /recompute answered {response.status_code}: {response.text[:300]}")
    else:
        answer = response.json()
        report.posted = int(answer["posted"])
        if report.posted:
            report.problems.append(f"POST /recompute posted {report.posted} entries")
        # Its input check across services: nothing published that calc-engine lacks.
        inputs = answer["inputs"]
        report.input_differences = sum(inputs["differences"].values())
        if not inputs["checked"] or report.input_differences:
            report.problems.append(f"POST /recompute found calc-engine's inputs incomplete: {inputs}")
    report.check_s = time.monotonic() - started


async def _stray_letters(client: _Client, hope: Expectations) -> list[str]:
    """Every dead letter that is not the poison, and the poison where it should not be
    (or twice)."""
    problems = []
    for service, letters in (await _dead_letters(client)).items():
        poison = [d for d in letters if d["key"] == POISON_KEY]
        for d in letters:
            if d["key"] != POISON_KEY:
                problems.append(
                    f"{service} dead-lettered a valid message: {d['topic']} {d['key']}: {d['error'][:300]}"
                )
        allowed = 1 if hope.poisoned and service in DEALS_CONSUMERS else 0
        if len(poison) != allowed:
            problems.append(f"{service} holds the poison {len(poison)} time(s), expected {allowed}")
    return problems


async def _stray_parked(client: _Client, hope: Expectations) -> list[str]:
    """Every parked outbox row but the two planted ones (and those, once parked)."""
    problems = []
    for name, base in zip(SERVICES, client.urls.all(), strict=True):
        for row in await client.get(f"{base}/outbox/parked?limit=1000"):
            if not (hope.oversized and name == "deal-ingest" and row["key"] == OVERSIZED_KEY):
                problems.append(
                    f"{name} parked a valid outbox row: {row['topic']} {row['key']}: {row['park_error']}"
                )
    if hope.oversized:
        parked = await client.get(f"{client.urls.ingest}/outbox/parked")
        planted = [r for r in parked if r["key"] == OVERSIZED_KEY]
        if len(planted) != 2 or "TooLarge" not in planted[0]["park_error"]:
            problems.append(f"deal-ingest parked {[(r['size'], r['park_error'][:80]) for r in planted]}")
    return problems
