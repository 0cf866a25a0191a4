"""`make bench`'s figures, machine-readable: `.provisio/bench/results.json` in the shape of
docs/benchmarks.md (issue #10 item 6)."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def engine_figures(lines: Iterable[str]) -> dict[str, Any]:
    """The plan engine's figures from the `RESULT {...}` lines of libs/calc/bench."""
    full: dict[str, int] = {}
    incremental: list[dict[str, Any]] = []
    for line in lines:
        if not line.startswith("RESULT "):
            continue
        figures = json.loads(line.removeprefix("RESULT "))
        if figures["kind"] == "full":
            full[str(figures["deals"])] = figures["deals_per_s"]
        else:
            incremental.append({k: v for k, v in figures.items() if k != "kind"})
    return {"recompute_deals_per_s_per_core": full, "incremental": incremental}


def results(service: Mapping[str, Any], engine: Mapping[str, Any], *, quick: bool = False) -> dict[str, Any]:
    """The whole results document: the service-level sections (`provisio_cli.bench.run`)
    and the plan engine's; `quick` marks a `--quick` run (small sizes, not the figures)."""
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "quick": quick,
        "e2e": dict(service["e2e"]),
        "history": list(service["history"]),
        "engine": dict(engine),
        "restart": dict(service["restart"]),
        "scale_out": dict(service["scale_out"]),
        "memory": dict(service["memory"]),
    }


def write(document: Mapping[str, Any], state: Path) -> Path:
    """Write `results.json` under `state/bench/`; return its path."""
    target = state / "bench" / "results.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(document, indent=2) + "\n")
    return target
