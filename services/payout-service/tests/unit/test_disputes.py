"""Disputes on the fake unit of work and the pure rules: open → resolved, a rejected one
reopened once, who may do what, what is validated, the pending adjustment an accepted one
creates (and whose state it shows), events and audit rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from payout_fakes import fake_store, fake_uow, payee_record
from payout_steps import Store, consume, entry, refused

from payout_service.domain.disputes import (
    Dispute,
    Forbidden,
    check_text,
    may_comment,
    may_open,
    may_read,
    may_reopen,
    may_resolve,
)
from payout_service.domain.errors import Conflict, Unprocessable
from payout_service.service_layer.adjustments import decide_adjustment
from payout_service.service_layer.disputes import (
    AdjustmentAsk,
    DisputeDetail,
    comment_dispute,
    get_dispute,
    list_disputes,
    open_dispute,
    reopen_dispute,
    resolve_dispute,
)
from payout_service.service_layer.handlers import on_ledger_entry, on_payee
from provisio_common.auth import Principal

ADA = Principal("ada", "admin")
BEA = Principal("bea", "admin")
OTTO = Principal("otto", "ops")
ANN = Principal("ann", "rep")
BOB = Principal("bob", "rep")
MGR = Principal("mgr", "manager")
OTHER_MGR = Principal("zed", "manager")
T0 = datetime(2027, 2, 1, 9, tzinfo=UTC)


def dispute(**fields: object) -> Dispute:
    values: dict[str, object] = {
        "id": "d-1",
        "payee": "ann",
        "pay_period": "2027-01",
        "entry_id": None,
        "component": None,
        "message": "the spif is missing",
        "status": "open",
        "opened_by": "ann",
        "opened_at": T0,
    }
    return Dispute(**{**values, **fields})  # type: ignore[arg-type]


# ---------------------------------------------------------------- the pure rules


def test_an_open_dispute_resolves_once() -> None:
    resolved = dispute().resolve("accepted", "ada", T0 + timedelta(hours=1), "adj-1")
    assert (resolved.status, resolved.outcome, resolved.resolved_by, resolved.adjustment_id) == (
        "resolved",
        "accepted",
        "ada",
        "adj-1",
    )
    with pytest.raises(Conflict, match="already resolved"):
        resolved.resolve("rejected", "bea", T0, None)


def test_an_adjustment_goes_only_with_an_accepted_outcome() -> None:
    with pytest.raises(Unprocessable) as info:
        dispute().resolve("rejected", "ada", T0, "adj-1")
    assert info.value.field == "adjustment"


def test_a_rejected_dispute_reopens_once_and_counts_as_open_since_the_reopen() -> None:
    rejected = dispute().resolve("rejected", "ada", T0 + timedelta(hours=1), None)
    later = T0 + timedelta(days=2)
    reopened = rejected.reopen(later)
    assert (reopened.status, reopened.outcome, reopened.resolved_by, reopened.reopens) == (
        "open",
        None,
        None,
        1,
    )
    assert reopened.open_since == later and dispute().open_since == T0
    with pytest.raises(Conflict, match="is open"):
        reopened.reopen(later)
    again = reopened.resolve("rejected", "ada", later, None)
    with pytest.raises(Conflict, match="reopened already"):
        again.reopen(later)


def test_an_accepted_dispute_is_not_reopened() -> None:
    with pytest.raises(Conflict, match="only a rejected dispute"):
        dispute().resolve("accepted", "ada", T0, None).reopen(T0)


@pytest.mark.parametrize(
    ("rule", "role", "sub", "manages", "allowed"),
    [
        (may_open, "rep", "ann", False, True),
        (may_open, "rep", "bob", False, False),
        (may_open, "manager", "mgr", True, True),
        (may_open, "manager", "zed", False, False),
        (may_open, "admin", "ada", False, False),
        (may_open, "ops", "otto", False, False),
        (may_open, "payroll", "acme", False, False),
        (may_read, "rep", "ann", False, True),
        (may_read, "rep", "bob", False, False),
        (may_read, "manager", "mgr", True, True),
        (may_read, "manager", "zed", False, False),
        (may_read, "admin", "ada", False, True),
        (may_read, "ops", "otto", False, True),
        (may_read, "payroll", "acme", False, False),
        (may_comment, "rep", "ann", False, True),
        (may_comment, "admin", "ada", False, True),
        (may_comment, "manager", "mgr", True, True),
        (may_comment, "ops", "otto", False, False),
        (may_comment, "rep", "bob", False, False),
        (may_resolve, "admin", "ada", False, True),
        (may_resolve, "manager", "mgr", True, True),
        (may_resolve, "manager", "zed", False, False),
        (may_resolve, "rep", "ann", False, False),
        (may_resolve, "rep", "bob", False, False),
        (may_resolve, "ops", "otto", False, False),
        (may_resolve, "admin", "ann", False, False),  # an admin who is the payee
        (may_resolve, "manager", "ann", True, False),  # a manager disputing their own pay
        (may_reopen, "rep", "ann", False, True),
        (may_reopen, "rep", "bob", False, False),
        (may_reopen, "admin", "ada", False, False),
    ],
)
def test_who_may_do_what(rule: object, role: str, sub: str, manages: bool, allowed: bool) -> None:
    assert callable(rule)
    if allowed:
        rule(role, sub, "ann", manages)
    else:
        with pytest.raises(Forbidden):
            rule(role, sub, "ann", manages)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "must not be empty"),
        ("  \n", "must not be empty"),
        ("x" * 4001, "at most 4000"),
        ("a\x00b", "NUL"),
        ("a\ud800b", "lone surrogate"),
    ],
)
def test_a_message_is_not_blank_short_enough_and_storable(text: str, problem: str) -> None:
    with pytest.raises(Unprocessable, match=problem) as info:
        check_text(text, "message")
    assert info.value.field == "message"


def test_a_message_of_4000_characters_is_kept_as_given() -> None:
    assert check_text(" é" * 2000, "note") == " é" * 2000


# ---------------------------------------------------------------- use cases


async def company(store: Store) -> None:
    """mgr <- ann, bob; zed alone; January entries for ann (two) and bob."""
    for record in [
        payee_record("mgr"),
        payee_record("ann", "mgr"),
        payee_record("bob", "mgr"),
        payee_record("zed"),
    ]:
        await consume(store, on_payee, record)
    for ledger in [
        entry("a1", "100", "2027-01-10"),
        entry("a2", "50", "2027-01-20", component="club"),
        entry("b1", "70", "2027-01-12", payee="bob"),
    ]:
        await consume(store, on_ledger_entry, ledger)


async def dispute_of(
    store: Store, who: Principal = ANN, payee: str = "ann", **fields: object
) -> DisputeDetail:
    values: dict[str, object] = {
        "payee": payee,
        "pay_period": "2027-01",
        "entry_id": None,
        "component": None,
        "message": "the spif on D-1 is missing",
        **fields,
    }
    return await open_dispute(fake_uow(store), who, **values)  # type: ignore[arg-type]


async def test_a_rep_opens_a_dispute_on_an_entry_and_sees_it_with_its_thread() -> None:
    store = fake_store()
    await company(store)
    opened = await dispute_of(store, entry_id="a1", component="commission")
    assert (opened.dispute.status, opened.dispute.entry_id, opened.dispute.opened_by) == ("open", "a1", "ann")
    assert [(m.position, m.kind, m.author, m.body) for m in opened.thread] == [
        (0, "opened", "ann", "the spif on D-1 is missing")
    ]
    [event] = store.published()
    assert (event.type, event.subject, event.data["payee"], event.data["reopened"]) == (
        "dispute.opened",
        opened.dispute.id,
        "ann",
        False,
    )
    assert [(a.action, a.entity, a.actor) for a in store.audits] == [
        ("dispute.open", f"dispute:{opened.dispute.id}", "ann")
    ]
    seen = await get_dispute(fake_uow(store), MGR, opened.dispute.id)
    assert seen.thread == opened.thread


async def test_who_may_open_for_whom() -> None:
    store = fake_store()
    await company(store)
    assert (await refused(dispute_of(store, BOB))).status == 403
    assert (await refused(dispute_of(store, OTHER_MGR))).status == 403
    for role in (ADA, OTTO, Principal("acme", "payroll")):
        assert (await refused(dispute_of(store, role))).status == 403
    assert (await dispute_of(store, MGR)).dispute.opened_by == "mgr"
    assert (await dispute_of(store, MGR, payee="mgr", pay_period="2027-01")).dispute.payee == "mgr"
    # A rep learns nothing of a payee that is not them, not even that it does not exist.
    assert (await refused(dispute_of(store, ANN, payee="nobody"))).status == 403
    assert len(store.audits) == 2


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"payee": "nobody"}, "payee"),
        ({"pay_period": "2027-13"}, "pay_period"),
        ({"pay_period": "2026-12"}, "pay_period"),  # well formed, but no one has anything in it
        ({"entry_id": "nope"}, "entry_id"),
        ({"entry_id": "b1"}, "entry_id"),  # bob's
        ({"entry_id": "a1", "component": "club"}, "component"),
        ({"message": " "}, "message"),
        ({"message": "x" * 4001}, "message"),
    ],
)
async def test_what_a_dispute_names_is_checked_and_the_field_named(
    fields: dict[str, object], field: str
) -> None:
    store = fake_store()
    await company(store)
    await consume(store, on_ledger_entry, entry("a9", "1", "2027-02-01"))  # makes 2027-02 known
    payee = str(fields.pop("payee", "ann"))
    problem = await refused(dispute_of(store, MGR, payee=payee, **fields))
    assert (problem.status, [e["field"] for e in problem.errors]) == (422, [field])
    assert store.audits == [] and store.published() == []


async def test_an_entry_of_another_pay_period_is_refused_naming_the_entry() -> None:
    store = fake_store()
    await company(store)
    await consume(store, on_ledger_entry, entry("a9", "1", "2027-02-01"))
    problem = await refused(dispute_of(store, entry_id="a1", pay_period="2027-02"))
    assert [e["field"] for e in problem.errors] == ["entry_id"]


async def test_accepted_with_an_adjustment_creates_a_pending_one_another_admin_decides() -> None:
    store = fake_store()
    await company(store)
    opened = await dispute_of(store, entry_id="a1")
    dispute_id = opened.dispute.id
    resolved = await resolve_dispute(
        fake_uow(store),
        ADA,
        dispute_id,
        outcome="accepted",
        note="spif added",
        adjustment=AdjustmentAsk(Decimal("250.00"), "USD"),
    )
    adjustment = resolved.adjustment
    assert adjustment is not None and resolved.dispute.adjustment_id == adjustment.id
    assert (
        adjustment.status,
        adjustment.payee,
        adjustment.amount,
        adjustment.pay_period,
        adjustment.created_by,
    ) == (
        "pending",
        "ann",
        Decimal("250.00"),
        "2027-01",
        "ada",
    )
    assert [m.kind for m in resolved.thread] == ["opened", "resolved"]
    own = await refused(decide_adjustment(fake_uow(store), ADA, adjustment.id, approve=True))
    assert own.status == 409
    await decide_adjustment(fake_uow(store), BEA, adjustment.id, approve=True)
    shown = await get_dispute(fake_uow(store), ANN, dispute_id)
    assert shown.adjustment is not None and shown.adjustment.status == "approved"
    assert [e.type for e in store.published()] == ["dispute.opened", "dispute.resolved"]
    resolved_event = store.published()[1]
    assert resolved_event.data["adjustment"] == {
        "adjustment_id": adjustment.id,
        "amount": "250.00",
        "currency": "USD",
        "status": "pending",
    }
    assert [a.action for a in store.audits] == ["dispute.open", "dispute.resolve", "adjustment.approve"]
    after = store.audits[1].after
    assert after["adjustment"]["id"] == adjustment.id and after["outcome"] == "accepted"


async def test_resolving_twice_is_a_conflict_and_a_rejected_outcome_takes_no_adjustment() -> None:
    store = fake_store()
    await company(store)
    dispute_id = (await dispute_of(store)).dispute.id
    with_money = resolve_dispute(
        fake_uow(store),
        MGR,
        dispute_id,
        outcome="rejected",
        note="no",
        adjustment=AdjustmentAsk(Decimal("1"), "USD"),
    )
    assert [e["field"] for e in (await refused(with_money)).errors] == ["adjustment"]
    for ask, field in [
        (AdjustmentAsk(Decimal("1"), "XYZ"), "adjustment.currency"),
        (AdjustmentAsk(Decimal("0"), "USD"), "adjustment.amount"),
    ]:
        bad = resolve_dispute(fake_uow(store), MGR, dispute_id, outcome="accepted", note="ok", adjustment=ask)
        assert [e["field"] for e in (await refused(bad)).errors] == [field]
    resolved = await resolve_dispute(
        fake_uow(store), MGR, dispute_id, outcome="rejected", note="no", adjustment=None
    )
    assert (resolved.dispute.outcome, resolved.dispute.resolved_by, resolved.adjustment) == (
        "rejected",
        "mgr",
        None,
    )
    again = await refused(
        resolve_dispute(fake_uow(store), ADA, dispute_id, outcome="accepted", note="yes", adjustment=None)
    )
    assert again.status == 409
    assert [a.action for a in store.audits] == ["dispute.open", "dispute.resolve"]


async def test_who_may_resolve() -> None:
    store = fake_store()
    await company(store)
    mine = (await dispute_of(store, MGR, payee="mgr")).dispute.id
    anns = (await dispute_of(store)).dispute.id
    for who, dispute_id in [(MGR, mine), (ANN, anns), (BOB, anns), (OTHER_MGR, anns), (OTTO, anns)]:
        problem = await refused(
            resolve_dispute(fake_uow(store), who, dispute_id, outcome="rejected", note="no", adjustment=None)
        )
        assert problem.status == 403, who
    missing = resolve_dispute(fake_uow(store), ADA, "nope", outcome="rejected", note="no", adjustment=None)
    assert (await refused(missing)).status == 404


async def test_a_rejected_dispute_reopens_once() -> None:
    store = fake_store()
    await company(store)
    dispute_id = (await dispute_of(store)).dispute.id
    open_again = reopen_dispute(fake_uow(store), ANN, dispute_id, "still missing")
    assert (await refused(open_again)).status == 409
    await resolve_dispute(
        fake_uow(store), ADA, dispute_id, outcome="rejected", note="paid in Feb", adjustment=None
    )
    assert (await refused(reopen_dispute(fake_uow(store), BOB, dispute_id, "x"))).status == 403
    reopened = await reopen_dispute(fake_uow(store), ANN, dispute_id, "not in February either")
    assert (reopened.dispute.status, reopened.dispute.reopens) == ("open", 1)
    assert [(m.kind, m.body) for m in reopened.thread] == [
        ("opened", "the spif on D-1 is missing"),
        ("resolved", "paid in Feb"),
        ("reopened", "not in February either"),
    ]
    await resolve_dispute(fake_uow(store), ADA, dispute_id, outcome="rejected", note="no", adjustment=None)
    second = await refused(reopen_dispute(fake_uow(store), ANN, dispute_id, "again"))
    assert (second.status, second.detail) == (
        409,
        f"dispute {dispute_id} was reopened already; it can be reopened once",
    )
    assert [e.type for e in store.published()] == [
        "dispute.opened",
        "dispute.resolved",
        "dispute.opened",
        "dispute.resolved",
    ]
    assert store.published()[2].data["reopened"] is True


async def test_comments_join_the_thread_from_anyone_who_may_see_it_but_ops() -> None:
    store = fake_store()
    await company(store)
    dispute_id = (await dispute_of(store)).dispute.id
    await comment_dispute(fake_uow(store), MGR, dispute_id, "looking into it")
    await comment_dispute(fake_uow(store), ADA, dispute_id, "the deal closed on 1 Feb")
    for who in (OTTO, BOB, OTHER_MGR):
        assert (await refused(comment_dispute(fake_uow(store), who, dispute_id, "x"))).status == 403
    assert [
        e["field"] for e in (await refused(comment_dispute(fake_uow(store), ANN, dispute_id, ""))).errors
    ] == ["message"]
    found = await get_dispute(fake_uow(store), OTTO, dispute_id)
    assert [(m.position, m.author, m.role, m.kind) for m in found.thread] == [
        (0, "ann", "rep", "opened"),
        (1, "mgr", "manager", "comment"),
        (2, "ada", "admin", "comment"),
    ]
    assert [a.action for a in store.audits] == ["dispute.open", "dispute.comment", "dispute.comment"]
    assert len(store.published()) == 1  # comments publish nothing


async def test_lists_show_each_role_what_it_may_see() -> None:
    store = fake_store()
    await company(store)
    await consume(store, on_payee, payee_record("yan", "zed"))
    await consume(store, on_ledger_entry, entry("y1", "5", "2027-01-03", payee="yan"))
    ann = (await dispute_of(store)).dispute.id
    bob = (await dispute_of(store, BOB, payee="bob")).dispute.id
    yan = (await dispute_of(store, OTHER_MGR, payee="yan")).dispute.id
    await resolve_dispute(fake_uow(store), ADA, bob, outcome="rejected", note="no", adjustment=None)

    async def ids(who: Principal, payee: str | None = None, status: str | None = None) -> list[str]:
        return [d.dispute.id for d in await list_disputes(fake_uow(store), who, payee=payee, status=status)]

    assert await ids(ANN) == [ann]
    assert await ids(MGR) == [ann, bob]
    assert await ids(MGR, status="open") == [ann]
    assert await ids(OTHER_MGR) == [yan]
    assert await ids(ADA) == await ids(OTTO) == [ann, bob, yan]
    assert await ids(OTTO, payee="bob", status="resolved") == [bob]
    assert (await refused(ids(ANN, payee="bob"))).status == 403
    assert (await refused(ids(MGR, payee="yan"))).status == 403
    assert (await refused(ids(Principal("acme", "payroll")))).status == 403
    assert (await refused(ids(ADA, status="closed"))).errors[0]["field"] == "status"
    assert (await refused(get_dispute(fake_uow(store), BOB, ann))).status == 403
    assert (await refused(get_dispute(fake_uow(store), ADA, "nope"))).status == 404
