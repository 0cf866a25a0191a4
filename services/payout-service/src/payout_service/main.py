"""Entry point: `python -m payout_service.main` (or `provisio serve payout-service`)."""

from __future__ import annotations

from payout_service.bootstrap import MIGRATIONS, build_app
from payout_service.settings import PayoutSettings
from provisio_common.serve import serve_service


def main() -> None:
    settings = PayoutSettings()
    serve_service(settings, build_app(settings), MIGRATIONS)


if __name__ == "__main__":
    main()
