"""Entry point: `python -m deal_ingest.main` (or `provisio serve deal-ingest`)."""

from __future__ import annotations

from deal_ingest.bootstrap import MIGRATIONS, build_app
from deal_ingest.settings import IngestSettings
from provisio_common.serve import serve_service


def main() -> None:
    settings = IngestSettings()
    serve_service(settings, build_app(settings), MIGRATIONS)


if __name__ == "__main__":
    main()
