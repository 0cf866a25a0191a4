"""deal-ingest's use cases: plain async functions taking a unit of work.

`deliveries.receive_delivery` is the one sequence every webhook door runs (raw log, dedupe,
apply, outcome, commit, metrics); `deals` stores deals and activities and reads them back;
`batches` merges batched CRM deliveries; `replay` re-publishes snapshots.
"""

from __future__ import annotations

from deal_ingest.adapters.repositories import IngestRepositories
from provisio_common.uow import UnitOfWork

IngestUoW = UnitOfWork[IngestRepositories]
