"""Teams (a lead and members over date ranges) and territories (named sets of the
`territory` values deals carry): pure rules."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from quota_service.domain.periods import overlap


class MemberIn(BaseModel):
    """One membership: `payee` is in the team from `valid_from` to `valid_to` (inclusive;
    an open end is unbounded)."""

    model_config = ConfigDict(extra="forbid")

    payee: str = Field(min_length=1)
    valid_from: date | None = None
    valid_to: date | None = None


class TeamIn(BaseModel):
    """The body of `PUT /teams/{id}`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    lead: str = Field(min_length=1)
    members: list[MemberIn] = Field(default_factory=list)
    territories: list[str] = Field(default_factory=list)


class TerritoryIn(BaseModel):
    """The body of `PUT /territories/{id}`: a name and the deal `territory` values it covers."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    values: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class Membership:
    """A payee's membership of a team over a date range (open ends allowed)."""

    payee: str
    valid_from: date | None
    valid_to: date | None

    def covers(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


@dataclass(frozen=True)
class Team:
    """A team: its lead and its members over date ranges, and the territories it covers."""

    id: str
    name: str
    lead: str
    members: tuple[Membership, ...]
    territories: tuple[str, ...]

    def document(self) -> dict[str, Any]:
        """The stored (and answered) form of the team."""
        return {
            "id": self.id,
            "name": self.name,
            "lead": self.lead,
            "members": [
                {
                    "payee": m.payee,
                    "valid_from": None if m.valid_from is None else m.valid_from.isoformat(),
                    "valid_to": None if m.valid_to is None else m.valid_to.isoformat(),
                }
                for m in self.members
            ],
            "territories": list(self.territories),
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Team:
        return cls(
            id=document["id"],
            name=document["name"],
            lead=document["lead"],
            members=tuple(
                Membership(
                    m["payee"],
                    None if m["valid_from"] is None else date.fromisoformat(m["valid_from"]),
                    None if m["valid_to"] is None else date.fromisoformat(m["valid_to"]),
                )
                for m in document["members"]
            ),
            territories=tuple(document["territories"]),
        )

    @property
    def people(self) -> set[str]:
        """The lead and everyone who is or was a member."""
        return {self.lead, *(m.payee for m in self.members)}

    def members_on(self, day: date) -> list[Membership]:
        """The memberships in force on `day`, by payee."""
        return sorted((m for m in self.members if m.covers(day)), key=lambda m: m.payee)

    def spans(self, first: date, last: date) -> list[tuple[str, date, date]]:
        """(payee, from, to) for each membership overlapping [first, last], clipped to it."""
        out: list[tuple[str, date, date]] = []
        for m in self.members:
            days = overlap(first, last, m.valid_from, m.valid_to)
            if days is not None:
                out.append((m.payee, *days))
        return sorted(out)

    def payees_in(self, first: date, last: date) -> list[str]:
        """Every payee who was a member on at least one day of [first, last], by id."""
        return sorted({payee for payee, _, _ in self.spans(first, last)})


def team_of(team_id: str, body: TeamIn) -> Team:
    """The team a valid body describes (memberships ordered by payee, then start)."""
    members = sorted(
        (Membership(m.payee, m.valid_from, m.valid_to) for m in body.members),
        key=lambda m: (m.payee, m.valid_from or date.min),
    )
    return Team(team_id, body.name, body.lead, tuple(members), tuple(body.territories))


def team_problems(
    body: TeamIn, payees: Collection[str], territories: Collection[str]
) -> list[dict[str, str]]:
    """Every field that makes a team unacceptable: an unknown lead, member or territory, a
    range that ends before it starts, or two ranges of one payee that overlap."""
    errors: list[dict[str, str]] = []
    if body.lead not in payees:
        errors.append({"field": "lead", "message": f"no payee {body.lead!r}"})
    for i, member in enumerate(body.members):
        if member.payee not in payees:
            errors.append({"field": f"members[{i}].payee", "message": f"no payee {member.payee!r}"})
        if member.valid_from and member.valid_to and member.valid_to < member.valid_from:
            errors.append({"field": f"members[{i}].valid_to", "message": "is before valid_from"})
    errors += _overlaps(body.members)
    for i, territory in enumerate(body.territories):
        if territory not in territories:
            errors.append({"field": f"territories[{i}]", "message": f"no territory {territory!r}"})
    return errors


def _overlaps(members: Iterable[MemberIn]) -> list[dict[str, str]]:
    errors = []
    ranges: dict[str, list[tuple[int, MemberIn]]] = {}
    for i, member in enumerate(members):
        ranges.setdefault(member.payee, []).append((i, member))
    for held in ranges.values():
        for a, (i, one) in enumerate(held):
            for j, other in held[a + 1 :]:
                if _intersect(one, other):
                    errors.append(
                        {"field": f"members[{j}]", "message": f"overlaps members[{i}] of the same payee"}
                    )
    return errors


def _intersect(a: MemberIn, b: MemberIn) -> bool:
    start = max(a.valid_from or date.min, b.valid_from or date.min)
    end = min(a.valid_to or date.max, b.valid_to or date.max)
    return start <= end


def territory_problems(body: TerritoryIn) -> list[dict[str, str]]:
    """Every value of a territory must be a non-blank text, given once."""
    errors = []
    seen: set[str] = set()
    for i, value in enumerate(body.values):
        if not value.strip():
            errors.append({"field": f"values[{i}]", "message": "must not be blank"})
        elif value in seen:
            errors.append({"field": f"values[{i}]", "message": f"{value!r} is given twice"})
        seen.add(value)
    return errors
