"""Plan versions: each stored change of a plan document is a new, numbered version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class StoredPlanVersion:
    """One stored version of a plan: the normalized document and the text it came from."""

    plan_id: str
    version: int
    document: dict[str, Any]
    source_text: str
    created_by: str
    created_at: datetime


def next_version(latest: StoredPlanVersion | None) -> int:
    """The number the next version of a plan gets."""
    return 1 if latest is None else latest.version + 1


@dataclass(frozen=True)
class FieldChange:
    """One changed field: its path (`tiers.bands[1].rate`) and its values before and after
    (None where absent)."""

    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class PlanDiff:
    """What changed between two versions of a plan."""

    plan_id: str
    from_version: int
    to_version: int
    fields: list[FieldChange]  # plan-level fields (everything but `components`)
    components_added: list[str]
    components_removed: list[str]
    components_changed: dict[str, list[FieldChange]]  # by component id


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Every leaf of a JSON document by path: `a.b`, `a.list[0].c`; an empty object or list
    is a leaf itself."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out |= flatten(item, f"{path}.{key}" if path else str(key))
        return out
    if isinstance(value, list) and value:
        out = {}
        for i, item in enumerate(value):
            out |= flatten(item, f"{path}[{i}]")
        return out
    return {path: value}


def field_changes(before: Any, after: Any) -> list[FieldChange]:
    """The leaves that differ between two documents, by path."""
    old, new = flatten(before), flatten(after)
    return [
        FieldChange(path, old.get(path), new.get(path))
        for path in sorted(set(old) | set(new))
        if old.get(path) != new.get(path) or (path in old) != (path in new)
    ]


def plan_diff(old: StoredPlanVersion, new: StoredPlanVersion) -> PlanDiff:
    """Components added, removed and changed (matched by id; order is not a change), and the
    plan's own fields that changed."""
    old_components = {c["id"]: c for c in old.document.get("components", [])}
    new_components = {c["id"]: c for c in new.document.get("components", [])}
    plan_fields = field_changes(
        {k: v for k, v in old.document.items() if k != "components"},
        {k: v for k, v in new.document.items() if k != "components"},
    )
    changed = {
        cid: changes
        for cid in sorted(set(old_components) & set(new_components))
        if (changes := field_changes(old_components[cid], new_components[cid]))
    }
    return PlanDiff(
        plan_id=new.plan_id,
        from_version=old.version,
        to_version=new.version,
        fields=plan_fields,
        components_added=sorted(set(new_components) - set(old_components)),
        components_removed=sorted(set(old_components) - set(new_components)),
        components_changed=changed,
    )
