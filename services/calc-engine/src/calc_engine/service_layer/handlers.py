"""calc-engine's event handlers, one per schema, and the finisher that reconciles once.

Each handler runs inside the consumer's unit of work (inbox + state + outbox) and never
commits. Handlers change the replicas and leave in `uow.state` what the ledger needs
redone; the finisher `reconcile_pending` runs once per unit of work after them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from calc_engine.domain.credits import credits_of, restated_shares
from calc_engine.domain.inputs import close_day_of, to_activity, to_deal
from calc_engine.domain.keyed import people_of, references_of
from calc_engine.domain.model import StoredPlan
from calc_engine.domain.people import subtree
from calc_engine.domain.plan_versions import PlanChange, change_day, held_versions
from calc_engine.service_layer import CalcUoW
from calc_engine.service_layer.clock import Clock, as_of_day, system_clock
from calc_engine.service_layer.reconcile import reconcile_all
from provisio_calc import FxRate, InputInvalid, PlanInvalid, load_plan
from provisio_calc.periods import period_bounds
from provisio_calc.versions import succession_problems
from provisio_common.events import (
    ActivityRecord,
    CreditRecord,
    DealSnapshot,
    Envelope,
    FxRateRecord,
    PayeeRecord,
    PlanVersion,
    QuotaRecord,
    revision_order,
)
from provisio_common.inbox import PoisonMessage
from provisio_common.money import exact_product

PENDING = "calc_pending"
CRM_INDEX = "calc_crm_index"


@dataclass
class Pending:
    """What the events of one unit of work changed, so the ledger is reconciled once."""

    days: set[str] = field(default_factory=set)
    everything: bool = False
    plans: dict[str, PlanChange] = field(default_factory=dict)  # versions stored, per plan
    # What a keyed run of `days` redoes (`domain.keyed`): the deals whose events these
    # were, and the payees whose non-linear lines they can change.
    deals: set[str] = field(default_factory=set)
    payees: set[str] = field(default_factory=set)
    # A payee changed: plans that cannot run keyed are reconciled whole.
    whole_unless_keyed: bool = False
    # New activities of known owners: their days, for the plans that count activities.
    activity_days: set[str] = field(default_factory=set)

    def touch(self, deal: str, days: Iterable[str], people: Iterable[str], *indexes: dict[str, str]) -> None:
        """A keyed run redoes this deal's entries in the periods of `days`, and the lines of
        every person it names (references resolved through each of `indexes`): two runs
        redoing one deal's entries then always lock one payee in common."""
        self.deals.add(deal)
        self.days.update(days)
        self.payees.update(index.get(ref, ref) for ref in people for index in indexes)


def pending(uow: CalcUoW) -> Pending:
    """The work this unit of work's handlers left for the finisher so far."""
    work = uow.state.setdefault(PENDING, Pending())
    assert isinstance(work, Pending)
    return work


async def reconcile_pending(uow: CalcUoW, applied: list[Envelope], clock: Clock = system_clock) -> None:
    """The finisher: one reconciliation for every event the unit of work applied.

    Entries are attributed to the last of those events (`cause_event`) and name their
    deal (`deal`); their envelopes carry the earliest webhook acceptance time among those
    events (`accepted_at`, for payout-service's webhook -> statement latency).
    """
    work = uow.state.pop(PENDING, None)
    if not isinstance(work, Pending) or not (
        work.everything or work.days or work.plans or work.whole_unless_keyed or work.activity_days
    ):
        return
    uow.accepted_at = min((e.accepted_at for e in applied if e.accepted_at is not None), default=None)
    days = () if work.everything else sorted(work.days)
    await reconcile_all(
        uow,
        cause_event=applied[-1].id,
        as_of=as_of_day(clock),
        days=days,
        changes=work.plans,
        everything=work.everything,
        touched=(work.deals, work.payees),
        whole_unless_keyed=work.whole_unless_keyed,
        activity_days=sorted(work.activity_days),
    )


async def crm_references(uow: CalcUoW) -> dict[str, str]:
    """Which payee each CRM reference names (`domain.people.crm_index`), read once per unit
    of work (a batch of deal events shares it); `on_payee` keeps it current."""
    index = uow.state.get(CRM_INDEX)
    if index is None:
        index = uow.state[CRM_INDEX] = (await uow.repos.reference.load(uow.repos)).index
    assert isinstance(index, dict)
    return index


async def on_deal(uow: CalcUoW, snapshot: DealSnapshot) -> None:
    """Hold a revision not held yet (late ones too: history is ordered by `changed_at`,
    `provisio_common.events.revision_order`), re-credit when the current snapshot changed,
    and leave the periods of the deal's close dates for the finisher."""
    repos = uow.repos
    document = snapshot.to_data()
    index = await crm_references(uow)
    try:
        to_deal(document, index)
    except InputInvalid as exc:
        raise PoisonMessage(f"deal {snapshot.key}: {exc}") from exc
    held = await repos.deals.held_revision(snapshot.key)  # locks the deal
    if await repos.deals.revision(snapshot.key, snapshot.revision) is not None:
        return  # this revision is held already (a redelivery or a replay)
    await repos.deals.add_revision(snapshot.key, snapshot.revision, document, close_day_of(document))
    history = await repos.deals.history(snapshot.key)
    current = max(history, key=revision_order)
    if current["revision"] != held:
        await repos.deals.hold(snapshot.key, current["revision"], current["status"])
        previous = None if held is None else await repos.deals.revision(snapshot.key, held)
        await publish_credits(
            uow,
            DealSnapshot.model_validate(current),
            credits_of(to_deal(current, index)),
            credits_of(None if previous is None else to_deal(previous, index)),
        )
    # Only the periods of this deal's close dates (every revision's) can change, and in
    # them only the lines of the people any revision credits (and this deal's entries).
    days = {str(d["close_date"]) for d in history if d.get("close_date")}
    if days:
        pending(uow).touch(snapshot.key, days, (ref for d in history for ref in people_of(d)), index)
    else:
        pending(uow).everything = True


async def publish_credits(
    uow: CalcUoW,
    snapshot: DealSnapshot,
    current: dict[str, Decimal],
    previous: dict[str, Decimal],
) -> None:
    """`credits.v1`: the deal's direct credit per payee at this revision.

    A payee credited before (the previous revision, or the same one before a CRM
    reference was resolved) but not now gets a zero credit, so readers never keep a
    stale one.
    """
    for payee, share in restated_shares(current, previous).items():
        await uow.publish(
            CreditRecord(
                deal=snapshot.key,
                revision=snapshot.revision,
                payee=payee,
                share=share,
                amount=exact_product(snapshot.amount, share),
                currency=snapshot.currency,
                status=snapshot.status,
                close_date=snapshot.close_date,
                type=snapshot.type,
            )
        )


async def on_activity(uow: CalcUoW, record: ActivityRecord) -> None:
    """Hold the activity (repeats of one activity are ignored) and leave its day for the
    plans that count activities (PLANS.md rule 15); an activity whose owner is no known
    payee is an exception of every plan, so every plan is reconciled whole."""
    document = record.to_data()
    try:
        to_activity(document, {})
    except InputInvalid as exc:
        raise PoisonMessage(f"activity {record.source}:{record.external_id}: {exc}") from exc
    if not await uow.repos.activities.add(f"{record.source}:{record.external_id}", document):
        return
    reference = await uow.repos.reference.load(uow.repos)  # current within this unit of work
    if reference.index.get(record.owner, record.owner) in reference.payee_documents:
        pending(uow).activity_days.add(str(document["occurred_at"]))
    else:
        pending(uow).everything = True


async def on_plan(uow: CalcUoW, version: PlanVersion) -> None:
    """Hold the plan version (a version already held is kept) and leave for the finisher
    the periods it can change (PLANS.md: the newest version whose `effective` contains a
    period's first day computes it). A version that cannot follow the held ones (another
    currency, timezone or pay_frequency) is poison, like an invalid document."""
    try:
        plan = load_plan(version.document)
    except PlanInvalid as exc:
        raise PoisonMessage(f"not a valid plans.v1 version: {exc}") from exc
    held = await uow.repos.plans.versions(version.plan_id)
    if any(stored.version == version.version for stored in held):
        return  # held already (a redelivery or a replay)
    problems = succession_problems([p for p in held_versions(held) if p.id == version.plan_id], plan)
    if problems:
        raise PoisonMessage(
            f"plans.v1 {version.plan_id} version {version.version} cannot follow the held versions: "
            + "; ".join(str(p) for p in problems)
        )
    await uow.repos.plans.add(StoredPlan(version.plan_id, version.version, version.document))
    work = pending(uow)
    change = work.plans.get(version.plan_id)
    if change is None:
        change = work.plans[version.plan_id] = PlanChange(had_versions=bool(held))
    change.stored(version.version, change_day(version.created_at, plan))


async def on_payee(uow: CalcUoW, record: PayeeRecord) -> None:
    """Replicate the payee; re-credit deals whose CRM references now resolve differently;
    leave for a keyed run the lines of the payee, of everyone under them (their deals roll
    up through them) and of whoever a changed CRM reference names, in every period of
    those people's deals (plans that cannot run keyed: whole)."""
    repos = uow.repos
    before = await crm_references(uow)
    documents = (await repos.reference.load(repos)).payee_documents
    await repos.payees.put(record.id, record.to_data())
    now = await repos.reference.load(repos)
    after = uow.state[CRM_INDEX] = now.index
    changed = {ref for ref in set(before) | set(after) if before.get(ref) != after.get(ref)}
    if changed:
        for held in await repos.deals.held_snapshots():
            people = {held["owner"], *(split["payee"] for split in held.get("splits", []))}
            if people & changed:
                old, new = credits_of(to_deal(held, before)), credits_of(to_deal(held, after))
                if old != new:
                    await publish_credits(uow, DealSnapshot.model_validate(held), new, old)
    people = subtree(documents, record.id) | subtree(now.payee_documents, record.id)
    people |= {index.get(ref, ref) for ref in changed for index in (before, after)}
    work = pending(uow)
    work.whole_unless_keyed = True
    work.payees |= people
    named = await repos.deals.naming(references_of(people, before) | references_of(people, after))
    for deal, (days, named_people) in named.items():
        work.touch(deal, days, named_people, before, after)


async def on_fx_rate(uow: CalcUoW, record: FxRateRecord) -> None:
    """Replicate a rate (null: removed); parked `missing_fx` deals earn once their rate is
    here. A rate counts from its day on (the latest on or before a close day): leave for a
    keyed run the deals in its currency closing from that day (a day of margin: the index
    is the CRM's calendar day) and the lines of their people (other plans: whole)."""
    repos = uow.repos
    if record.rate is None:
        await repos.fx_rates.remove(record.day, record.from_currency, record.to_currency)
    else:
        await repos.fx_rates.put(FxRate(record.day, record.from_currency, record.to_currency, record.rate))
    index = await crm_references(uow)
    work = pending(uow)
    work.whole_unless_keyed = True
    for deal, (days, people) in (
        await repos.deals.in_currency(record.from_currency, record.day - timedelta(days=1))
    ).items():
        work.touch(deal, days, people, index)


async def on_quota(uow: CalcUoW, record: QuotaRecord) -> None:
    """Replicate a quota (null amount: removed) and reconcile the payee's lines of that
    period (a keyed run; the period whole for plans that cannot be keyed)."""
    if record.amount is None:
        await uow.repos.quotas.remove(record.payee, record.period)
    else:
        await uow.repos.quotas.put(record.payee, record.period, record.amount)
    work = pending(uow)
    try:
        first, _ = period_bounds(record.period)
    except ValueError:
        work.everything = True  # not a period label the engine knows: redo everything
        return
    work.days.add(first.isoformat())
    work.payees.add(record.payee)
