"""Payroll's side: approved batches to pull (a stable cursor over approval order), one
batch with its lines (the first pull by payroll marks it pulled: it can no longer be
cancelled), and acknowledgements (idempotent per Idempotency-Key), each settled line
published as `payout.line_settled`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from payout_service.adapters import metrics
from payout_service.domain.batches import SENT, Ack, AckRecord, acknowledge, decode_cursor, encode_cursor
from payout_service.domain.errors import Unprocessable
from payout_service.service_layer import PayoutUoW, now, rules
from payout_service.service_layer.batches import BatchWithLines, payout_line
from provisio_common.auth import Principal
from provisio_common.events import PayoutLineSettled
from provisio_common.problems import Problem

PAYROLL_STATUSES = ("approved", "settled", "cancelled")


async def pull_page(
    uow: PayoutUoW, status: str, after: str | None, limit: int
) -> tuple[list[BatchWithLines], str | None]:
    """Approved batches (now in `status`) after the cursor, in approval order, and the
    cursor to continue from (the last batch's; the one given when there is nothing new)."""
    with rules():
        if status not in PAYROLL_STATUSES:
            raise Unprocessable("status", f"must be one of {', '.join(PAYROLL_STATUSES)}")
        position = 0 if after is None else decode_cursor(after)
    async with uow:
        found = await uow.repos.batches.approved_after([status], position, limit)
        lines = await uow.repos.batches.lines([b.id for b in found])
    page = [BatchWithLines(b, lines[b.id]) for b in found]
    if not page:
        return page, after
    last = page[-1].batch.approval_seq
    assert last is not None
    return page, encode_cursor(last)


async def pull_batch(uow: PayoutUoW, principal: Principal, batch_id: str) -> BatchWithLines:
    """An approved batch with its lines; payroll's first pull marks it pulled (audited)."""
    async with uow:
        repos = uow.repos
        if principal.role == "payroll":
            await repos.batches.lock(f"batch:{batch_id}")  # a cancel waits, or the pull sees it
        batch = await repos.batches.get(batch_id)
        if batch is None or batch.approval_seq is None:
            raise Problem(404, f"no approved batch {batch_id!r}")
        lines = (await repos.batches.lines([batch_id]))[batch_id]
        if principal.role == "payroll" and batch.pulled_at is None and batch.status == "approved":
            batch = replace(batch, pulled_at=now())
            await repos.batches.save(batch)
            pulled = {"pulled_at": batch.pulled_at.isoformat() if batch.pulled_at else None}
            await uow.audit(principal, "batch.pull", f"batch:{batch_id}", {"pulled_at": None}, pulled)
            await uow.commit()
    return BatchWithLines(batch, lines)


def fingerprint(batch_id: str, acks: Sequence[Ack]) -> str:
    """What makes two acknowledgements the same request."""
    body = [
        {"line_id": a.line_id, "status": a.status, "payroll_ref": a.payroll_ref, "reason": a.reason}
        for a in acks
    ]
    text = json.dumps({"batch_id": batch_id, "lines": body}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def ack_response(found: BatchWithLines, settled: Sequence[str]) -> dict[str, Any]:
    """The answer to an acknowledgement (kept, and given again for the same key and body)."""
    return {
        "batch_id": found.batch.id,
        "status": found.batch.status,
        "settled": list(settled),
        "lines": [
            {
                "line_id": line.id,
                "status": line.status,
                "payroll_ref": line.payroll_ref,
                "reason": line.reason,
            }
            for line in found.lines
            if line.status in SENT
        ],
    }


async def acknowledge_lines(
    uow: PayoutUoW, principal: Principal, batch_id: str, key: str, acks: Sequence[Ack]
) -> dict[str, Any]:
    """Settle lines as payroll says. The same key with the same body answers as the first
    time and changes nothing; with another body it is unprocessable. A line settled with
    another status is a conflict; a line the batch does not send is unprocessable."""
    if not key.strip():
        with rules():
            raise Unprocessable(
                "Idempotency-Key", "the header is required (a unique key per acknowledgement)"
            )
    digest = fingerprint(batch_id, acks)
    async with uow:
        repos = uow.repos
        await repos.batches.lock(f"ack:{key}")
        await repos.batches.lock(f"batch:{batch_id}")
        known = await repos.batches.ack(key)
        if known is not None:
            if known.fingerprint != digest:
                with rules():
                    raise Unprocessable("Idempotency-Key", "was already used with another request")
            return known.response
        batch = await repos.batches.get(batch_id)
        if batch is None or batch.approval_seq is None:
            raise Problem(404, f"no approved batch {batch_id!r}")
        lines = (await repos.batches.lines([batch_id]))[batch_id]
        at = now()
        with rules():
            settled_batch, changed = acknowledge(batch, lines, acks, at)
        await repos.batches.save_lines(changed)
        if settled_batch != batch:
            await repos.batches.save(settled_batch)
        by_id = {line.id: line for line in changed}
        after = BatchWithLines(settled_batch, [by_id.get(line.id, line) for line in lines])
        for line in changed:
            assert line.status in ("paid", "rejected")
            await uow.publish(
                PayoutLineSettled(
                    batch_id=batch_id,
                    line=payout_line(line),
                    status="paid" if line.status == "paid" else "rejected",
                    payroll_ref=line.payroll_ref,
                    reason=line.reason,
                    settled_at=at,
                    batch_status="settled" if settled_batch.status == "settled" else "approved",
                )
            )
        response = ack_response(after, [line.id for line in changed])
        await repos.batches.add_ack(AckRecord(key, batch_id, digest, response, at))
        await uow.audit(
            principal,
            "batch.ack",
            f"batch:{batch_id}",
            {"status": batch.status},
            {"status": settled_batch.status, "settled": {line.id: line.status for line in changed}},
        )
        await uow.commit()
        metrics.count_paid(changed)
        await metrics.show_batches(repos.batches)
    return response
