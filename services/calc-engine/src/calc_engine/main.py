"""Entry point: `python -m calc_engine.main` (or `provisio serve calc-engine`)."""

from __future__ import annotations

from calc_engine.bootstrap import MIGRATIONS, build_app
from calc_engine.settings import CalcSettings
from provisio_common.serve import serve_service


def main() -> None:
    settings = CalcSettings()
    serve_service(settings, build_app(settings), MIGRATIONS)


if __name__ == "__main__":
    main()
