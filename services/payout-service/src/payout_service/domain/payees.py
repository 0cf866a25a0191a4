"""The payee hierarchy replica: who reports to whom decides what a manager may see."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Payee:
    """One replicated `payees.v1` payee: only what statements need."""

    id: str
    name: str
    manager: str | None
