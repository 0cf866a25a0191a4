"""Payees and the manager hierarchy: pure rules."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from provisio_common.events import PlanAssignment

Role = Literal["rep", "manager", "admin"]
CRM_REF = re.compile(r"^(hubspot|pipedrive|salesforce|generic):[^\s:]+$")
PAYEE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _default_roles() -> list[Role]:
    return ["rep"]


class PayeeIn(BaseModel):
    """The body of `PUT /payees/{id}`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    email: str | None = None
    manager: str | None = None
    roles: list[Role] = Field(default_factory=_default_roles, min_length=1)
    team: str | None = None
    territories: list[str] = Field(default_factory=list)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    payroll_id: str | None = None
    crm_ids: list[str] = Field(default_factory=list)
    assignments: list[PlanAssignment] = Field(default_factory=list)
    active: bool = True

    @field_validator("crm_ids")
    @classmethod
    def _crm_refs(cls, value: list[str]) -> list[str]:
        for ref in value:
            if not CRM_REF.match(ref):
                raise ValueError(f"{ref!r} is not a CRM user reference such as hubspot:123")
        return value


@dataclass(frozen=True)
class PayeeLink:
    """Where a payee sits: its manager and the CRM user references mapped to it."""

    id: str
    manager: str | None
    crm_ids: tuple[str, ...]


def manager_cycle(payee_id: str, manager: str | None, managers: Mapping[str, str | None]) -> bool:
    """True if making `manager` the manager of `payee_id` closes a loop in the hierarchy."""
    seen = {payee_id}
    current = manager
    while current is not None:
        if current in seen:
            return True
        seen.add(current)
        current = managers.get(current)
    return False


def manager_problem(payee_id: str, manager: str | None, managers: Mapping[str, str | None]) -> str | None:
    """Why `manager` cannot manage `payee_id` (unknown, or a loop), or None if it can."""
    if manager is None:
        return None
    if manager not in managers:
        return f"no payee {manager!r}"
    if manager_cycle(payee_id, manager, managers):
        return "would make a management loop"
    return None


def crm_ids_taken(
    payee_id: str, crm_ids: Iterable[str], links: Iterable[PayeeLink]
) -> tuple[str, list[str]] | None:
    """The first other payee already mapped to one of `crm_ids`, with those ids; None if none is."""
    wanted = set(crm_ids)
    for link in links:
        taken = set(link.crm_ids) & wanted
        if link.id != payee_id and taken:
            return link.id, sorted(taken)
    return None
