"""calc-engine's inputs against what their producers say they published (DESIGN.md §4,
"reconcile across services"): which deal revisions, plan versions, payees, quotas and fx
rates calc-engine lacks or holds differently, and so must be published again."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from provisio_common.inputs import ReferenceSummary, same_amount

KINDS = ("deal_revisions", "plans", "payees", "quotas", "fx_rates")


@dataclass(frozen=True)
class InputDifferences:
    """What to publish again, per kind: deal keys (a revision missing), plan ids (a version
    missing), payee ids (missing or different), quota and fx keys (missing, different, or
    held here though deleted there). `missing` counts the revisions and versions, not keys."""

    deals: list[str] = field(default_factory=list)
    plans: list[str] = field(default_factory=list)
    payees: list[str] = field(default_factory=list)
    quotas: list[str] = field(default_factory=list)
    fx_rates: list[str] = field(default_factory=list)
    missing_revisions: int = 0
    missing_versions: int = 0

    def counts(self) -> dict[str, int]:
        """Differences per kind (revisions and versions for deals and plans)."""
        return {
            "deal_revisions": self.missing_revisions,
            "plans": self.missing_versions,
            "payees": len(self.payees),
            "quotas": len(self.quotas),
            "fx_rates": len(self.fx_rates),
        }

    @property
    def total(self) -> int:
        """Every difference."""
        return sum(self.counts().values())


def missing_revisions(
    published: Iterable[tuple[str, Iterable[int]]], held: Mapping[str, Iterable[int]]
) -> dict[str, int]:
    """Deals with a published revision calc-engine does not hold, and how many."""
    out: dict[str, int] = {}
    for deal, revisions in published:
        lacking = set(revisions) - set(held.get(deal, ()))
        if lacking:
            out[deal] = len(lacking)
    return out


def _changed(truth: Mapping[str, str], held: Mapping[str, str]) -> list[str]:
    """Keys whose amount differs, is missing here, or is held here though gone there."""
    return sorted(k for k in set(truth) | set(held) if not same_amount(truth.get(k), held.get(k)))


def differences(
    published_deals: Iterable[tuple[str, Iterable[int]]],
    held_deals: Mapping[str, Iterable[int]],
    reference: ReferenceSummary,
    held_reference: ReferenceSummary,
) -> InputDifferences:
    """Everything calc-engine lacks or holds differently. A deal or plan calc-engine holds
    that its producer never published is not a difference to heal (nothing to publish)."""
    deals = missing_revisions(published_deals, held_deals)
    plans = {
        plan: len(set(versions) - set(held_reference.plans.get(plan, ())))
        for plan, versions in reference.plans.items()
    }
    payees = sorted(p for p, digest in reference.payees.items() if held_reference.payees.get(p) != digest)
    return InputDifferences(
        deals=sorted(deals),
        plans=sorted(p for p, n in plans.items() if n),
        payees=payees,
        quotas=_changed(reference.quotas, held_reference.quotas),
        fx_rates=_changed(reference.fx_rates, held_reference.fx_rates),
        missing_revisions=sum(deals.values()),
        missing_versions=sum(plans.values()),
    )
