"""The fault suite: a mixed stream of deals through the real stack while its processes are
killed and restarted by pid, the broker restarted, Postgres stopped, a poison message
published and an oversized outbox row planted; after each fault, the books are checked.

The stack is `make up`'s (`provisio_cli.stack.Stack`: embedded Postgres, the Tansu broker,
the four services as processes with recorded pids) on free ports in a temporary folder.
The stream is one seeded differential scenario scaled up (`differential.scenario` with
`deal_count` and `teams`): 2,000 deals by default with second and third revisions (changed,
cancelled, lost, re-won), shuffled across and within deals, with CRM retries (the same
webhook-id again) and duplicate snapshots. It is cut into one slice per fault; each slice
is sent by four concurrent senders (one deal always by the same sender, so a retry never
overtakes its original), which retry like a CRM while a door is down (connection refused,
503): `differential._Client` with `patience_s`. Each fault fires at a seeded random point
of its slice, while the slice keeps flowing:

- `kill -9` of each service (quota-service first, while the quotas and fx rates are being
  PUT), then `Stack.start_processes` starts it again (only what is not running);
- two more calc-engine replicas started after the first fault (`Stack.spawn_replica`: the
  same database and consumer group), so every later fault happens with three processes
  sharing its partitions; later one of them is killed with SIGKILL and not started again
  (its partitions move to the others once the group notices);
- the broker stopped by its pid and started again on the same port (memory storage: it
  comes back empty; the services re-create topics and re-publish their outboxes);
- Postgres stopped (`pg_ctl stop -m fast`) for `outage_s` seconds (30 by default: the
  fault itself, the suite's only fixed wait), then started again;
- a poison message published straight to `deals.v1` (not an envelope);
- an outbox row larger than `kafka_max_message_bytes` planted in deal-ingest's outbox
  (no door can create one: deal-ingest refuses such a deal with 422), with a small row of
  the same key behind it.

After each fault, `check` waits by condition (every service ready, consumer lag 0, no
outbox backlog, calc-engine holding deal-ingest's current snapshot of every deal,
payout-service showing every ledger entry, the view the same in two polls), then:
`calculate` on the revisions deal-ingest holds (`GET /deals/{source}/{id}`; consecutive
revisions with equal content collapsed, as deal-ingest keeps such a one back) is compared to
the cent with the ledger per deal and per (payee, component, period), the statements and
the exceptions (`differential.compare`); every DLQ may hold only the poison (once per
consumer group of `deals.v1`); the outboxes may park only the planted rows; `POST
/recompute` must post 0. A deal whose ledger sum is short of the engine's, or a statement
row whose `earned` is, counts as lost (as does a delivery deal-ingest never took); one
over it counts as double-counted.

The stack and the faults done to its processes: `provisio_cli.fault_stack`; the check
after each fault: `provisio_cli.fault_checks`. `provisio check-faults` (`run`) runs the
suite on a throwaway stack; tests/fault runs it in `make test`.
"""

from __future__ import annotations

import asyncio
import random
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer

from provisio_cli.differential import Delivery, Scenario, Urls, _Client, _Sent, deliveries, scenario
from provisio_cli.fault_checks import OVERSIZED_KEY, POISON_KEY, Expectations, FaultReport, check
from provisio_cli.fault_stack import FaultStack, throwaway_stack
from provisio_cli.stack import DATABASES
from provisio_common.db import create_engine
from provisio_common.events import Envelope
from provisio_common.outbox import NOTIFY_CHANNEL
from provisio_common.settings import ProvisioSettings

DEALS_TOPIC = "deals.v1"
POISON = b'{"this is": "not an envelope", "type": '  # cut short: no consumer can read it
Log = Callable[[str], None]


def _say(line: str) -> None:
    print(line, flush=True)  # progress shows at once, also when the output goes to a file


@dataclass(frozen=True)
class Fault:
    """One fault of the sequence: what is done, and to which process."""

    name: str
    kind: str  # scale | kill | kill-replica | broker | postgres | poison | oversized
    target: str | None = None


# The replicas of calc-engine the suite runs besides the first (`scale`): from then on three
# processes share its consumer group (partitions, rebalances), and one is later killed.
REPLICAS = 2

FAULTS: tuple[Fault, ...] = (
    Fault("kill -9 quota-service", "kill", "quota-service"),  # first: its slice PUTs the quotas
    Fault(f"{REPLICAS} more calc-engine replicas", "scale", "calc-engine"),
    Fault("kill -9 deal-ingest", "kill", "deal-ingest"),
    Fault("kill -9 calc-engine", "kill", "calc-engine"),
    Fault(f"kill -9 calc-engine replica {REPLICAS + 1}", "kill-replica", f"calc-engine-{REPLICAS + 1}"),
    Fault("kill -9 payout-service", "kill", "payout-service"),
    Fault("broker restart", "broker"),
    Fault("postgres stopped", "postgres"),
    Fault("poison message on deals.v1", "poison"),
    Fault("oversized outbox row", "oversized"),
)


# ------------------------------------------------------------------------------ the stream


@dataclass(frozen=True)
class Put:
    """One reference-data PUT to quota-service (idempotent, so safe to send again)."""

    path: str
    body: dict[str, Any]


def reference_puts(scen: Scenario) -> tuple[list[Put], list[Put]]:
    """The scenario's reference data as PUTs: (plan and payees, managers first; quotas and
    fx rates). The second part is sent during the quota-service fault."""
    first = [Put(f"/plans/{scen.plan_id}", scen.plan)]
    for payee in scen.payees:
        body = {k: v for k, v in payee.items() if k != "id" and v is not None}
        first.append(Put(f"/payees/{payee['id']}", body))
    later = [Put(f"/quotas/{payee}/{period}", {"amount": amount}) for payee, period, amount in scen.quotas]
    later += [
        Put(f"/fx-rates/{day.isoformat()}/{source}/{target}", {"rate": rate})
        for day, source, target, rate in scen.fx
    ]
    return first, later


def slices(items: Sequence[Delivery], parts: int) -> list[list[Delivery]]:
    """`items` cut into `parts` consecutive slices of (nearly) equal length."""
    size, extra = divmod(len(items), parts)
    out, start = [], 0
    for n in range(parts):
        end = start + size + (1 if n < extra else 0)
        out.append(list(items[start:end]))
        start = end
    return out


class Stream:
    """Sends deliveries (and PUTs) with `lanes` concurrent senders; one deal always goes
    through the same lane, in the order given. `fired` is set once `fire_at` items of
    the tracked kind have been answered (the fault's random point)."""

    def __init__(self, client: _Client, sent: _Sent, lanes: int = 4) -> None:
        self.client = client
        self.sent = sent
        self.lanes = lanes

    async def send(
        self, batch: Sequence[Delivery], puts: Sequence[Put], fire_at: int, fired: asyncio.Event
    ) -> None:
        """Send `batch` (and `puts`, in their own lane); count towards `fire_at` the puts when
        there are any, else the deliveries."""
        lanes: list[list[Delivery]] = [[] for _ in range(self.lanes)]
        for delivery in batch:
            lanes[zlib.crc32(delivery.deal.encode()) % self.lanes].append(delivery)
        answered = 0

        def tick() -> None:
            nonlocal answered
            answered += 1
            if answered >= fire_at:
                fired.set()

        async def deliver(items: list[Delivery]) -> None:
            for delivery in items:
                await self.client.deliver(delivery, self.sent)
                if not puts:
                    tick()

        async def put_all() -> None:
            quota = self.client.urls.quota
            for put in puts:
                await self.client.put(f"{quota}{put.path}", put.body, self.sent)
                tick()

        try:
            await asyncio.gather(*(deliver(lane) for lane in lanes), put_all())
        finally:
            fired.set()


# ------------------------------------------------------------------------------ faults


async def inject(fault: Fault, fs: FaultStack, outage_s: float, log: Log) -> str:
    """Do the fault (and start again what it stopped, but a killed replica); return what was done."""
    if fault.kind == "scale":
        assert fault.target is not None
        replicas = await asyncio.to_thread(fs.add_replicas, fault.target, REPLICAS)
        names = ", ".join(f"{name} (pid {pid})" for name, pid in replicas)
        return f"started {names}: {REPLICAS + 1} processes in {fault.target}'s consumer group"
    if fault.kind == "kill-replica":
        assert fault.target is not None
        pid = await asyncio.to_thread(fs.kill9, fault.target)
        return f"killed pid {pid} ({fault.target}); the group goes on without it"
    if fault.kind == "kill":
        assert fault.target is not None
        pid = await asyncio.to_thread(fs.kill9, fault.target)
        started = time.monotonic()
        await asyncio.to_thread(fs.start)
        return f"killed pid {pid}, {fault.target} ready again in {time.monotonic() - started:.1f}s"
    if fault.kind == "broker":
        pid = await asyncio.to_thread(fs.stop_broker)
        await asyncio.to_thread(fs.start)
        return f"broker pid {pid} stopped, a new (empty) broker started on the same port"
    if fault.kind == "postgres":
        await asyncio.to_thread(fs.stop_postgres)
        log(f"  postgres stopped; down for {outage_s:.0f}s while the stream goes on")
        await asyncio.sleep(outage_s)  # the outage itself: the fault, not a wait for anything
        started = time.monotonic()
        await asyncio.to_thread(fs.start)
        ready = time.monotonic() - started
        return f"postgres down {outage_s:.0f}s, services ready {ready:.1f}s after its start"
    if fault.kind == "poison":
        await publish_poison(fs.settings())
        return f"published {len(POISON)} unreadable bytes to {DEALS_TOPIC} (key {POISON_KEY})"
    if fault.kind == "oversized":
        size = await plant_oversized_row(fs.settings())
        return f"planted a {size}-byte outbox row in deal-ingest (key {OVERSIZED_KEY}) and one behind it"
    raise ValueError(f"unknown fault kind {fault.kind!r}")


async def publish_poison(settings: ProvisioSettings) -> None:
    """Publish bytes no consumer can read straight to deals.v1."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(DEALS_TOPIC, POISON, key=POISON_KEY.encode())
    finally:
        await producer.stop()


async def plant_oversized_row(settings: ProvisioSettings) -> int:
    """Insert into deal-ingest's outbox a deals.v1 row larger than the producer may send,
    then a small row of the same key (it must wait behind the first); return the size."""
    limit = settings.kafka_max_message_bytes
    data = {"source": "fault", "external_id": "oversized", "customer": "x" * (limit + 64 * 1024)}
    big = Envelope(type="deal.snapshot", source="fault-suite", subject=OVERSIZED_KEY, data=data)
    small = Envelope(type="deal.snapshot", source="fault-suite", subject=OVERSIZED_KEY, data={"n": 1})
    payload = big.to_bytes()
    engine = create_engine(settings.dsn(DATABASES["deal-ingest"]), pool_size=1)
    try:
        async with engine.begin() as conn:
            for env, body in ((big, payload), (small, small.to_bytes())):
                await conn.execute(
                    sa.text("INSERT INTO outbox (event_id, topic, key, payload) VALUES (:e, :t, :k, :p)"),
                    {"e": env.id, "t": DEALS_TOPIC, "k": OVERSIZED_KEY, "p": body},
                )
            await conn.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, "")))
    finally:
        await engine.dispose()
    return len(payload)


# ------------------------------------------------------------------------------ the suite


@dataclass
class SuiteReport:
    """Every fault's report, and the figures the issue asks for."""

    deals: int
    deliveries: int
    faults: list[FaultReport] = field(default_factory=list)

    @property
    def lost(self) -> int:
        """Deals and statement rows short of the engine, over every check, plus deliveries never taken."""
        return sum(f.lost for f in self.faults)

    @property
    def double_counted(self) -> int:
        """Deals and statement rows over the engine, over every check."""
        return sum(f.double_counted for f in self.faults)

    @property
    def problems(self) -> list[str]:
        """Every problem, prefixed with its fault."""
        return [f"{f.fault}: {p}" for f in self.faults for p in f.problems]

    @property
    def passed(self) -> bool:
        """Every fault injected, nothing lost, nothing double-counted, no problem."""
        complete = len(self.faults) == len(FAULTS)
        return complete and not (self.problems or self.lost or self.double_counted)

    def figures(self) -> str:
        """faults injected / lost / double-counted."""
        return (
            f"faults injected {len(self.faults)} / lost {self.lost} / double-counted {self.double_counted} "
            f"({self.deals} deals, {self.deliveries} deliveries)"
        )


async def run_suite(
    fs: FaultStack,
    urls: Urls,
    *,
    seed: int = 13,
    deal_count: int = 2000,
    teams: int = 10,
    outage_s: float = 30.0,
    faults: Sequence[Fault] = FAULTS,
    log: Log = _say,
) -> SuiteReport:
    """Run the stream with `faults` in sequence, checking after each; stop after the first
    fault whose check finds a problem (what follows would only repeat it)."""
    rng = random.Random(seed)
    scen = scenario(seed, namespace=f"fault{seed}", deal_count=deal_count, teams=teams)
    plan = deliveries(scen, random.Random(seed * 7919 + 17))
    first, later = reference_puts(scen)
    suite = SuiteReport(len(scen.deals), len(plan))
    log(f"fault suite: seed {seed}, {len(scen.deals)} deals, {len(plan)} deliveries, {len(faults)} faults")
    async with httpx.AsyncClient(timeout=60) as http:
        creds, bootstrap = fs.credentials(), fs.settings().kafka_bootstrap
        client = _Client(http, urls, creds)  # the checks: a failed read is a reason to wait
        sent = _Sent()
        stream = Stream(_Client(http, urls, creds, patience_s=240), sent)  # a CRM: retries
        for put in first:
            await stream.client.put(f"{urls.quota}{put.path}", put.body, sent)
        hope = Expectations()
        held: dict[str, list[dict[str, Any]]] = {}
        # Quotas and fx rates go with the quota-service fault (or the first slice without one).
        carrier = next((f for f in faults if f.target == "quota-service"), faults[0])
        for fault, batch in zip(faults, slices(plan, len(faults)), strict=True):
            puts = later if fault is carrier else []
            counted = len(puts) or len(batch)
            fire_at = rng.randint(max(1, counted // 5), max(1, 4 * counted // 5))
            what = "quota and fx PUTs" if puts else "deliveries"
            report = FaultReport(fault.name, f"after {fire_at} of {counted} {what}")
            hope = Expectations(
                poisoned=hope.poisoned or fault.kind == "poison",
                oversized=hope.oversized or fault.kind == "oversized",
            )
            started = time.monotonic()
            report.done = await _during(stream, batch, puts, fire_at, fault, fs, outage_s, log)
            report.send_s = time.monotonic() - started
            taken_now = {d.msg_id for d in sent.taken}
            lost_at_door = [d for d in batch if not d.retry and d.msg_id not in taken_now]
            report.lost += len(lost_at_door)
            report.problems += [f"deal-ingest never took delivery {d.msg_id}" for d in lost_at_door[:20]]
            touched = {d.deal for d in batch}
            await check(client, scen, sent, hope, report, held, touched, bootstrap=bootstrap)
            log(f"  {report.line()}")
            for problem in report.problems[:40]:
                log(f"    {problem}")
            suite.faults.append(report)
            if report.problems or report.lost or report.double_counted:
                break
    log(suite.figures())
    return suite


async def _during(
    stream: Stream,
    batch: Sequence[Delivery],
    puts: Sequence[Put],
    fire_at: int,
    fault: Fault,
    fs: FaultStack,
    outage_s: float,
    log: Log,
) -> str:
    """Send the slice; fire the fault at its point while the slice keeps flowing."""
    fired = asyncio.Event()
    sending = asyncio.create_task(stream.send(batch, puts, fire_at, fired))
    await fired.wait()
    try:
        done = await inject(fault, fs, outage_s, log)
    finally:
        await sending
    return done


# ------------------------------------------------------------------------------ the command


def run(seed: int = 13, deal_count: int = 2000, outage_s: float = 30.0) -> int:
    """`provisio check-faults`: the suite on a throwaway stack; 1 on any problem."""
    with throwaway_stack() as (fs, urls):
        suite = asyncio.run(run_suite(fs, urls, seed=seed, deal_count=deal_count, outage_s=outage_s))
        if not suite.passed:
            _say(f"the processes' logs: {fs.save_logs()}")
    return 0 if suite.passed else 1
