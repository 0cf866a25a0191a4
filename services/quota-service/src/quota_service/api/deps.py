"""Role aliases of quota-service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from provisio_common.auth import Principal, require_roles
from provisio_common.deps import Admin, Session

Reader = Annotated[Principal, Depends(require_roles("admin", "ops", "manager", "payroll"))]

__all__ = ["Admin", "Reader", "Session"]
