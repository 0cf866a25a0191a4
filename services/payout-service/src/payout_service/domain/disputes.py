"""Disputes: a payee (or a manager for their subtree) questions a pay period or one entry.

States: `open` → `resolved` (outcome `accepted` or `rejected`); a rejected dispute may be
reopened once (`open` again, with a new message); it is then resolved again for good. An
accepted dispute may carry a pending adjustment (linked by `adjustment_id`): the
adjustments path decides it (a second admin approves), and the dispute shows its state.

Who may do what is decided here from the caller's role and id, the payee, and whether the
caller manages the payee (`manages`: the payee is the caller or below them, as
`provisio_common.auth.reports_to` walks the hierarchy).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from payout_service.domain.errors import Conflict, Unprocessable

DisputeStatus = Literal["open", "resolved"]
DISPUTE_STATUSES: tuple[DisputeStatus, ...] = ("open", "resolved")
Outcome = Literal["accepted", "rejected"]
OUTCOMES: tuple[Outcome, ...] = ("accepted", "rejected")
MessageKind = Literal["opened", "comment", "resolved", "reopened"]
MAX_TEXT = 4000
"""The longest message, comment, resolution note or reopen message (characters)."""
MAX_REOPENS = 1


class Forbidden(Exception):
    """The caller may not do this to this dispute (answered 403)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Dispute:
    """A payee's question about a pay period (or one ledger entry, or one component)."""

    id: str
    payee: str
    pay_period: str
    entry_id: str | None
    component: str | None
    message: str
    status: DisputeStatus
    opened_by: str
    opened_at: datetime
    outcome: Outcome | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    adjustment_id: str | None = None
    reopens: int = 0
    reopened_at: datetime | None = None

    @property
    def open_since(self) -> datetime:
        """When it last became open: opened, or reopened."""
        return self.reopened_at or self.opened_at

    def resolve(self, outcome: Outcome, by: str, at: datetime, adjustment_id: str | None) -> Dispute:
        """Resolve an open dispute (409 when it is resolved already); only an accepted one
        carries an adjustment."""
        if adjustment_id is not None and outcome != "accepted":
            raise Unprocessable("adjustment", "only an accepted dispute carries an adjustment")
        if self.status != "open":
            raise Conflict(f"dispute {self.id} is already resolved ({self.outcome})")
        return replace(
            self,
            status="resolved",
            outcome=outcome,
            resolved_by=by,
            resolved_at=at,
            adjustment_id=adjustment_id,
        )

    def reopen(self, at: datetime) -> Dispute:
        """Open a rejected dispute again, once (409 otherwise)."""
        if self.status == "open":
            raise Conflict(f"dispute {self.id} is open")
        if self.outcome != "rejected":
            raise Conflict(f"dispute {self.id} was {self.outcome}; only a rejected dispute can be reopened")
        if self.reopens >= MAX_REOPENS:
            raise Conflict(f"dispute {self.id} was reopened already; it can be reopened once")
        return replace(
            self,
            status="open",
            outcome=None,
            resolved_by=None,
            resolved_at=None,
            reopens=self.reopens + 1,
            reopened_at=at,
        )


@dataclass(frozen=True)
class DisputeMessage:
    """One entry of a dispute's thread: the opening message, a comment, the resolution
    note, or a reopen message; `position` orders the thread from 0."""

    dispute_id: str
    position: int
    kind: MessageKind
    author: str
    role: str
    body: str
    at: datetime


def check_text(value: str, field: str) -> str:
    """A message as given, if it is one: not blank, at most 4000 characters, and text
    Postgres can store (no NUL, no lone surrogate); 422 naming the field otherwise."""
    if not value.strip():
        raise Unprocessable(field, "must not be empty")
    if len(value) > MAX_TEXT:
        raise Unprocessable(field, f"must be at most {MAX_TEXT} characters")
    if "\x00" in value:
        raise Unprocessable(field, "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Unprocessable(field, "is not valid Unicode text (a lone surrogate)") from None
    return value


# ---------------------------------------------------------------- who may do what


def may_open(role: str, sub: str, payee: str, manages: bool) -> None:
    """A rep for themselves, a manager for their subtree (themselves included); the same
    people reopen. Forbidden otherwise."""
    if role == "rep" and sub == payee:
        return
    if role == "manager" and manages:
        return
    if role in ("rep", "manager"):
        raise Forbidden(f"{role} {sub!r} may not open a dispute for payee {payee!r}")
    raise Forbidden(f"role {role!r} may not open disputes; a rep or their manager does")


def may_read(role: str, sub: str, payee: str, manages: bool) -> None:
    """Admin and ops every dispute; a manager their subtree's; a rep their own."""
    if role in ("admin", "ops"):
        return
    if (role == "rep" and sub == payee) or (role == "manager" and manages):
        return
    if role in ("rep", "manager"):
        raise Forbidden(f"{role} {sub!r} may not see the disputes of payee {payee!r}")
    raise Forbidden(f"role {role!r} may not read disputes")


def may_comment(role: str, sub: str, payee: str, manages: bool) -> None:
    """Whoever may read the dispute, except ops (read-only)."""
    if role == "ops":
        raise Forbidden("ops is read-only")
    may_read(role, sub, payee, manages)


def may_resolve(role: str, sub: str, payee: str, manages: bool) -> None:
    """An admin, or a manager above the payee; never the payee."""
    if sub == payee:
        raise Forbidden(f"{sub!r} may not resolve their own dispute")
    if role == "admin" or (role == "manager" and manages):
        return
    if role == "manager":
        raise Forbidden(f"manager {sub!r} is not above payee {payee!r}")
    raise Forbidden(f"role {role!r} may not resolve disputes; an admin or a manager above the payee does")


def may_reopen(role: str, sub: str, payee: str, manages: bool) -> None:
    """Whoever may open a dispute for the payee."""
    may_open(role, sub, payee, manages)
