"""calc-engine's producers over HTTP: what deal-ingest and quota-service say they published,
and asking them to publish keys again (`provisio_common.inputs`). The caller's own bearer
token goes along: `POST /recompute` is an admin's request, and each producer checks it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

from provisio_common.inputs import (
    MAX_DEALS_PER_REQUEST,
    PublishedRevisionsPage,
    ReferenceSummary,
    RepublishRequest,
)


class PeerUnavailable(Exception):
    """A producer could not be asked (unreachable, or it refused); the reason says which."""


@dataclass(frozen=True)
class Peers:
    """Where deal-ingest and quota-service answer, and the bearer token to show them."""

    deal_ingest_url: str
    quota_service_url: str
    authorization: str
    timeout_s: float = 60.0

    async def _call(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        json: object = None,
    ) -> object:
        headers = {"Authorization": self.authorization}
        try:
            response = await client.request(method, url, headers=headers, params=params, json=json)
        except httpx.HTTPError as exc:
            raise PeerUnavailable(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise PeerUnavailable(f"{method} {url} answered {response.status_code}: {response.text[:300]}")
        return response.json()

    async def published_revisions(self, client: httpx.AsyncClient) -> AsyncIterator[tuple[str, list[int]]]:
        """Every deal's published revisions, page by page."""
        after: str | None = None
        while True:
            params = {"limit": str(MAX_DEALS_PER_REQUEST)} | ({"after": after} if after else {})
            url = f"{self.deal_ingest_url}/admin/published-revisions"
            page = PublishedRevisionsPage.model_validate(await self._call(client, "GET", url, params=params))
            for deal in page.deals:
                yield deal.deal, deal.revisions
            if page.next is None:
                return
            after = page.next

    async def reference(self, client: httpx.AsyncClient) -> ReferenceSummary:
        """quota-service's summary of plans, payees, quotas and fx rates."""
        body = await self._call(client, "GET", f"{self.quota_service_url}/admin/published")
        return ReferenceSummary.model_validate(body)

    async def replay_deals(self, client: httpx.AsyncClient, deals: list[str]) -> None:
        """Ask deal-ingest to publish every published revision of these deals again."""
        for start in range(0, len(deals), MAX_DEALS_PER_REQUEST):
            chunk = deals[start : start + MAX_DEALS_PER_REQUEST]
            await self._call(client, "POST", f"{self.deal_ingest_url}/admin/replay", json={"deals": chunk})

    async def republish(self, client: httpx.AsyncClient, request: RepublishRequest) -> None:
        """Ask quota-service to publish these keys again."""
        body = request.model_dump()
        await self._call(client, "POST", f"{self.quota_service_url}/admin/republish", json=body)
