"""Entry point: `python -m quota_service.main` (or `provisio serve quota-service`)."""

from __future__ import annotations

from provisio_common.serve import serve_service
from quota_service.bootstrap import MIGRATIONS, build_app
from quota_service.settings import QuotaSettings


def main() -> None:
    settings = QuotaSettings()
    serve_service(settings, build_app(settings), MIGRATIONS)


if __name__ == "__main__":
    main()
