"""Subjects of targets, scorecards and attainment: `payee:<id>` or `team:<id>`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ENTITY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
SUBJECT_HINT = "use payee:<id> or team:<id>"

Kind = Literal["payee", "team"]


@dataclass(frozen=True)
class Subject:
    """Whom a figure is about: one payee or one team."""

    kind: Kind
    id: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


def parse_subject(text: str, *, bare_is_payee: bool = False) -> Subject | None:
    """`payee:ann` or `team:east` (with `bare_is_payee`, also `ann`); None otherwise."""
    kind, sep, ident = text.partition(":")
    if not sep:
        kind, ident = ("payee", text) if bare_is_payee else ("", "")
    if kind == "payee" and ENTITY_ID.match(ident):
        return Subject("payee", ident)
    if kind == "team" and ENTITY_ID.match(ident):
        return Subject("team", ident)
    return None
