"""calc-engine's use cases and event handlers, on a unit of work over its repositories."""

from __future__ import annotations

from calc_engine.adapters.repositories import CalcRepositories
from provisio_common.uow import UnitOfWork

CalcUoW = UnitOfWork[CalcRepositories]
