"""Scale-out figure (issue #10 item 6): calc-engine's throughput with 1 and 2 replicas in
its consumer group, on the benchmark's stack.

For each replica count: calc-engine is stopped (by pid) and a stream of deal events is
accepted by deal-ingest, so it waits on `deals.v1`; then every replica is started at
once. The rate is counted only once the group has formed and settled: `deals.v1` offsets
calc-engine's group committed between the moment every replica holds some of the
partitions (each shows `provisio_consumer_assigned_partitions` on /metrics, and together
they hold them all) and has finished a fetch of them since (its lag series name as many
partitions as it holds), and the moment the group reached the end of every partition,
divided by that time. Counting from the start would count a replica's start-up (about 10 s here) and
the group's rebalances as it forms, which undo whatever batch a member had in hand: the
same run measured 70 and 173 deals/s with two replicas depending on when they fell.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from provisio_cli.bench import Bench, say
from provisio_cli.bench_workload import stream

GROUP = "calc-engine"
TOPIC = "deals.v1"


async def _committed(bench: Bench) -> tuple[int, int]:
    """calc-engine's committed offsets on `deals.v1`, summed, and the partitions' ends."""
    lags = (await bench.broker.lag()).get(GROUP, {})
    done = sum(committed for (topic, _), (committed, _) in lags.items() if topic == TOPIC)
    end = sum(end for (topic, _), (_, end) in lags.items() if topic == TOPIC)
    return done, end


async def _held(urls: Sequence[str]) -> list[tuple[int, int]]:
    """Per replica: how many `deals.v1` partitions it holds (set at every rebalance), and
    of how many it reports the lag (set after each fetch it finished; a replica drops the
    series of a partition it no longer holds)."""
    held = []
    async with httpx.AsyncClient(timeout=5) as client:
        for url in urls:
            families = list(text_string_to_metric_families((await client.get(f"{url}/metrics")).text))
            assigned = sum(
                int(s.value)
                for f in families
                if f.name == "provisio_consumer_assigned_partitions"
                for s in f.samples
                if s.labels.get("topic") == TOPIC
            )
            lagging = {
                s.labels["partition"]
                for f in families
                if f.name == "provisio_consumer_lag_messages"
                for s in f.samples
                if s.labels.get("topic") == TOPIC
            }
            held.append((assigned, len(lagging)))
    return held


async def _formed(bench: Bench, urls: Sequence[str], timeout_s: float = 120) -> None:
    """Wait until the group has formed and settled: every replica holds some partitions
    of `deals.v1`, together all of them, and each has finished a fetch of its own since."""
    partitions = len([key for key in (await bench.broker.lag()).get(GROUP, {}) if key[0] == TOPIC])
    deadline = time.monotonic() + timeout_s
    while True:
        held = await _held(urls)
        if all(a and a == seen for a, seen in held) and sum(a for a, _ in held) == partitions:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"calc-engine's group never formed: {held}")
        await asyncio.sleep(0.05)


async def scale_out(bench: Bench, owners: list[str], events: int, replicas: list[int]) -> dict[str, Any]:
    """The `scale_out` section: calc-engine deals/s per replica count."""
    rates, counted = [], []
    for count in replicas:
        bench.stack.stop("calc-engine")
        today = datetime.now(UTC).date()
        start = datetime.now(UTC) + timedelta(seconds=1)
        load = stream(events, owners, today, seed=100 + count, prefix=f"S{count}", start=start)
        await bench.throughput_accepted(load, f"scale{count}")
        extra = {f"calc-engine-{r}": bench.stack.spawn_replica("calc-engine", r) for r in range(2, count + 1)}
        bench.stack.start_processes()
        for name, url in extra.items():
            bench.stack.wait_ready(name, url)
        await _formed(bench, [bench.urls["calc-engine"], *extra.values()])
        ready = time.perf_counter()
        first, _ = await _committed(bench)
        while True:
            done, end = await _committed(bench)
            if done >= end and not await bench.unsent("provisio_calc"):
                break
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - ready
        counted.append(done - first)
        rates.append(round((done - first) / elapsed, 1))
        say(
            f"scale-out: {count} replica(s): {rates[-1]} deals/s "
            f"({done - first} of {events} events once the group had formed)"
        )
        for name in extra:
            bench.stack.stop(name)
    await bench.settled(set())
    return {"replicas": replicas, "deals_per_s": rates, "events": events, "events_counted": counted}
