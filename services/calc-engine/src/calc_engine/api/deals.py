"""`GET /deals`: which revision of each deal calc-engine holds (for ops and tooling)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from calc_engine.domain.model import HeldDeal
from calc_engine.service_layer.queries import held_deals
from provisio_common.deps import Ops, UoW
from provisio_common.problems import problem_responses

router = APIRouter(tags=["deals"])


class HeldDealView(BaseModel):
    """A deal (`source:external_id`) with the revision and status calc-engine applied."""

    deal: str
    revision: int
    status: str

    @classmethod
    def of(cls, held: HeldDeal) -> HeldDealView:
        return cls(deal=held.deal, revision=held.revision, status=held.status)


@router.get("/deals", response_model=list[HeldDealView], responses=problem_responses(401, 403))
async def list_held_deals(uow: UoW, principal: Ops) -> list[HeldDealView]:
    """Every deal with the revision and status calc-engine has applied.

    Roles: admin, ops.
    """
    return [HeldDealView.of(d) for d in await held_deals(uow)]
