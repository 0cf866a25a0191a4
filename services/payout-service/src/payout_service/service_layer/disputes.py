"""Dispute use cases: open, list, read, comment, resolve (an accepted one may create a
pending adjustment a second admin decides), reopen a rejected one once.

Who may do what: `domain/disputes.py` (403 otherwise). Every change is audited in its own
transaction; opening and reopening publish `dispute.opened`, resolving `dispute.resolved`
(`payouts.v1`, key: payee); the dispute gauges follow every change.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from payout_service.adapters import metrics
from payout_service.domain.adjustments import Adjustment
from payout_service.domain.disputes import (
    DISPUTE_STATUSES,
    Dispute,
    DisputeMessage,
    Forbidden,
    MessageKind,
    Outcome,
    check_text,
    may_comment,
    may_open,
    may_read,
    may_reopen,
    may_resolve,
)
from payout_service.domain.errors import Unprocessable
from payout_service.domain.periods import check_pay_period
from payout_service.service_layer import PayoutUoW, now, rules
from payout_service.service_layer.adjustments import audit_view as adjustment_audit_view
from provisio_common.auth import Principal, reports_to
from provisio_common.events import DisputeAdjustment, DisputeOpened, DisputeResolved
from provisio_common.ids import new_id
from provisio_common.money import is_currency_code
from provisio_common.problems import Problem

Rule = Callable[[str, str, str, bool], None]


@dataclass(frozen=True)
class AdjustmentAsk:
    """The adjustment a resolver asks for with an accepted outcome."""

    amount: Decimal
    currency: str


@dataclass(frozen=True)
class DisputeDetail:
    """A dispute with its adjustment (read live: its state is the adjustment's) and, when
    asked for, its thread."""

    dispute: Dispute
    adjustment: Adjustment | None
    thread: tuple[DisputeMessage, ...] = ()


@contextlib.contextmanager
def _access() -> Iterator[None]:
    try:
        yield
    except Forbidden as exc:
        raise Problem(403, exc.detail) from exc


async def _allow(uow: PayoutUoW, rule: Rule, principal: Principal, payee: str) -> None:
    manages = principal.role == "manager" and reports_to(
        payee, principal.sub, await uow.repos.payees.managers()
    )
    with _access():
        rule(principal.role, principal.sub, payee, manages)


def audit_view(dispute: Dispute, adjustment: Adjustment | None = None) -> dict[str, Any]:
    """The dispute as the audit log keeps it (with the adjustment it created, if any)."""
    return {
        "payee": dispute.payee,
        "pay_period": dispute.pay_period,
        "entry_id": dispute.entry_id,
        "component": dispute.component,
        "status": dispute.status,
        "outcome": dispute.outcome,
        "resolved_by": dispute.resolved_by,
        "adjustment": None
        if adjustment is None
        else {"id": adjustment.id, **adjustment_audit_view(adjustment)},
        "reopens": dispute.reopens,
    }


def _message_view(message: DisputeMessage) -> dict[str, Any]:
    return {"position": message.position, "kind": message.kind, "body": message.body}


async def _detail(uow: PayoutUoW, dispute: Dispute, *, thread: bool = True) -> DisputeDetail:
    adjustment = None
    if dispute.adjustment_id is not None:
        adjustment = await uow.repos.adjustments.get(dispute.adjustment_id)
    messages = tuple(await uow.repos.disputes.thread(dispute.id)) if thread else ()
    return DisputeDetail(dispute, adjustment, messages)


async def _get(uow: PayoutUoW, dispute_id: str, *, for_update: bool = False) -> Dispute:
    dispute = await uow.repos.disputes.get(dispute_id, for_update=for_update)
    if dispute is None:
        raise Problem(404, f"no dispute {dispute_id!r}")
    return dispute


async def _append(
    uow: PayoutUoW, principal: Principal, dispute: Dispute, kind: MessageKind, body: str
) -> DisputeMessage:
    position = len(await uow.repos.disputes.thread(dispute.id))
    message = DisputeMessage(dispute.id, position, kind, principal.sub, principal.role, body, now())
    with rules():
        await uow.repos.disputes.add_message(message)
    return message


def _opened(dispute: Dispute, by: str) -> DisputeOpened:
    return DisputeOpened(
        dispute_id=dispute.id,
        payee=dispute.payee,
        pay_period=dispute.pay_period,
        entry_id=dispute.entry_id,
        component=dispute.component,
        opened_by=by,
        opened_at=dispute.open_since,
        reopened=dispute.reopens > 0,
    )


async def _known_pay_periods(uow: PayoutUoW) -> set[str]:
    """The pay periods payout-service knows (as `GET /pay-periods` lists them)."""
    repos = uow.repos
    known = await repos.ledger.pay_periods()
    known |= {c.pay_period for c in await repos.pay_periods.closed()}
    known |= {a.paid_in for a in await repos.adjustments.find()}
    return known


async def _check_subject(
    uow: PayoutUoW, payee: str, pay_period: str, entry_id: str | None, component: str | None
) -> None:
    """422 naming the field: the pay period is one payout-service knows; the entry, when
    named, is the payee's, dated or paid in that pay period (and of that component)."""
    if pay_period not in await _known_pay_periods(uow):
        raise Unprocessable("pay_period", f"no pay period {pay_period!r} is known")
    if entry_id is None:
        return
    entry = next((e for e in await uow.repos.ledger.by_payee(payee) if e.entry_id == entry_id), None)
    if entry is None or pay_period not in (entry.pay_period, entry.paid_in):
        raise Unprocessable("entry_id", f"no entry {entry_id!r} of {payee!r} in pay period {pay_period}")
    if component is not None and component != entry.component:
        raise Unprocessable("component", f"entry {entry_id!r} is of component {entry.component!r}")


async def open_dispute(
    uow: PayoutUoW,
    principal: Principal,
    *,
    payee: str,
    pay_period: str,
    entry_id: str | None,
    component: str | None,
    message: str,
) -> DisputeDetail:
    """Open a dispute: a rep for themselves, a manager for their subtree (403 otherwise).
    An unknown payee or pay period, or an entry not of that payee in that pay period, is a
    422 naming the field. Publishes `dispute.opened`."""
    with rules():
        check_pay_period(pay_period)
        check_text(message, "message")
        if component is not None and not component.strip():
            raise Unprocessable("component", "must not be empty")
    async with uow:
        repos = uow.repos
        # The role (and a rep's own id) decide before the payee is looked up: a rep learns
        # nothing of other payees, not even whether they exist; a manager's subtree is
        # walked once the payee is known.
        if principal.role != "manager":
            await _allow(uow, may_open, principal, payee)
        if await repos.payees.get(payee) is None:
            with rules():
                raise Unprocessable("payee", f"no payee {payee!r} is known")
        if principal.role == "manager":
            await _allow(uow, may_open, principal, payee)
        with rules():
            await _check_subject(uow, payee, pay_period, entry_id, component)
        at = now()
        dispute = Dispute(
            id=new_id(),
            payee=payee,
            pay_period=pay_period,
            entry_id=entry_id,
            component=component,
            message=message,
            status="open",
            opened_by=principal.sub,
            opened_at=at,
        )
        await repos.disputes.add(dispute)
        first = await _append(uow, principal, dispute, "opened", message)
        await uow.publish(_opened(dispute, principal.sub))
        after = {**audit_view(dispute), "message": _message_view(first)}
        await uow.audit(principal, "dispute.open", f"dispute:{dispute.id}", None, after)
        detail = await _detail(uow, dispute)
        await uow.commit()
        await metrics.show_disputes(repos.disputes)
    return detail


async def list_disputes(
    uow: PayoutUoW, principal: Principal, *, payee: str | None, status: str | None
) -> list[DisputeDetail]:
    """Disputes oldest first (without threads), of a payee and/or in a status: a rep sees
    their own, a manager their subtree's, admin and ops everyone's."""
    if status is not None and status not in DISPUTE_STATUSES:
        with rules():
            raise Unprocessable("status", f"must be one of {', '.join(DISPUTE_STATUSES)}")
    async with uow:
        repos = uow.repos
        payees: set[str] | None = None
        if payee is not None:
            await _allow(uow, may_read, principal, payee)
            payees = {payee}
        elif principal.role == "rep":
            payees = {principal.sub}
        elif principal.role == "manager":
            managers = await repos.payees.managers()
            payees = {p for p in managers if reports_to(p, principal.sub, managers)} | {principal.sub}
        else:
            with _access():
                may_read(principal.role, principal.sub, "", False)
        found = await repos.disputes.find(payees=payees, status=status)
        return [await _detail(uow, d, thread=False) for d in found]


async def get_dispute(uow: PayoutUoW, principal: Principal, dispute_id: str) -> DisputeDetail:
    """One dispute with its thread and its adjustment's current state (read only)."""
    async with uow:
        dispute = await _get(uow, dispute_id)
        await _allow(uow, may_read, principal, dispute.payee)
        return await _detail(uow, dispute)


async def comment_dispute(
    uow: PayoutUoW, principal: Principal, dispute_id: str, message: str
) -> DisputeDetail:
    """Add a comment to a dispute's thread (open or resolved): whoever may read it, but ops."""
    with rules():
        check_text(message, "message")
    async with uow:
        dispute = await _get(uow, dispute_id, for_update=True)
        await _allow(uow, may_comment, principal, dispute.payee)
        added = await _append(uow, principal, dispute, "comment", message)
        await uow.audit(principal, "dispute.comment", f"dispute:{dispute.id}", None, _message_view(added))
        detail = await _detail(uow, dispute)
        await uow.commit()
    return detail


async def resolve_dispute(
    uow: PayoutUoW,
    principal: Principal,
    dispute_id: str,
    *,
    outcome: Outcome,
    note: str,
    adjustment: AdjustmentAsk | None,
) -> DisputeDetail:
    """Accept or reject an open dispute (an admin, or a manager above the payee; never the
    payee). Accepted with an adjustment: a pending adjustment for the payee in the
    dispute's pay period, created by the resolver, which another admin approves or rejects
    on `/adjustments` (it lands in the first open pay period if that one has closed).
    Resolving a resolved dispute is a 409; an adjustment with `rejected` a 422. Publishes
    `dispute.resolved`."""
    with rules():
        check_text(note, "note")
        if adjustment is not None:
            if outcome != "accepted":
                raise Unprocessable("adjustment", "only an accepted dispute carries an adjustment")
            if not is_currency_code(adjustment.currency):
                raise Unprocessable("adjustment.currency", "must be an ISO 4217 code such as USD")
            if adjustment.amount == 0:
                raise Unprocessable("adjustment.amount", "must not be zero")
    async with uow:
        repos = uow.repos
        dispute = await _get(uow, dispute_id, for_update=True)
        await _allow(uow, may_resolve, principal, dispute.payee)
        at = now()
        created = None
        if adjustment is not None:
            created = Adjustment(
                id=new_id(),
                payee=dispute.payee,
                amount=adjustment.amount,
                currency=adjustment.currency,
                reason=f"dispute {dispute.id}: {note}",
                pay_period=dispute.pay_period,
                status="pending",
                created_by=principal.sub,
                created_at=at,
            )
        with rules():
            resolved = dispute.resolve(outcome, principal.sub, at, created.id if created else None)
        if created is not None:
            await repos.adjustments.add(created)
        await repos.disputes.save(resolved)
        added = await _append(uow, principal, resolved, "resolved", note)
        assert resolved.resolved_at is not None and resolved.outcome is not None
        await uow.publish(
            DisputeResolved(
                dispute_id=resolved.id,
                payee=resolved.payee,
                pay_period=resolved.pay_period,
                outcome=resolved.outcome,
                resolved_by=principal.sub,
                resolved_at=resolved.resolved_at,
                adjustment=None
                if created is None
                else DisputeAdjustment(
                    adjustment_id=created.id,
                    amount=created.amount,
                    currency=created.currency,
                    status=created.status,
                ),
            )
        )
        after = {**audit_view(resolved, created), "message": _message_view(added)}
        await uow.audit(principal, "dispute.resolve", f"dispute:{dispute.id}", audit_view(dispute), after)
        detail = await _detail(uow, resolved)
        await uow.commit()
        await metrics.show_disputes(repos.disputes)
    return detail


async def reopen_dispute(
    uow: PayoutUoW, principal: Principal, dispute_id: str, message: str
) -> DisputeDetail:
    """Reopen a rejected dispute once, with a new message (whoever may open it for the
    payee); reopening again, or reopening an open or accepted one, is a 409. Publishes
    `dispute.opened` (`reopened: true`)."""
    with rules():
        check_text(message, "message")
    async with uow:
        repos = uow.repos
        dispute = await _get(uow, dispute_id, for_update=True)
        await _allow(uow, may_reopen, principal, dispute.payee)
        with rules():
            reopened = dispute.reopen(now())
        await repos.disputes.save(reopened)
        added = await _append(uow, principal, reopened, "reopened", message)
        await uow.publish(_opened(reopened, principal.sub))
        after = {**audit_view(reopened), "message": _message_view(added)}
        await uow.audit(principal, "dispute.reopen", f"dispute:{dispute.id}", audit_view(dispute), after)
        detail = await _detail(uow, reopened)
        await uow.commit()
        await metrics.show_disputes(repos.disputes)
    return detail
