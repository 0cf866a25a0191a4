"""`make bench`'s figures, machine-readable: `.provisio/bench/results.json` in the shape of
docs/benchmarks.md. A figure not measured yet is `null`, with the reason under `not_measured`
(never a made-up number)."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

NOT_MEASURED = {
    "history": "service-level latency with N deals already held needs the history loader "
    "(issue #10 item 6); the engine's own incremental cost is under `engine.incremental`",
    "restart": "calc-engine ready after restart with 1M deals held: not measured yet (issue #10 item 6)",
    "scale_out": "needs calc-engine partitioned across replicas (issue #10 item 4)",
    "memory": "calc-engine RSS per 100k deals held: not measured yet (issue #10 item 6)",
}


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


def results(e2e: Mapping[str, Any] | None, engine: Mapping[str, Any]) -> dict[str, Any]:
    """The whole results document."""
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "e2e": dict(e2e) if e2e is not None else None,
        "history": None,
        "engine": dict(engine),
        "restart": None,
        "scale_out": None,
        "memory": None,
        "not_measured": dict(NOT_MEASURED),
    }


def write(document: Mapping[str, Any], state: Path) -> Path:
    """Write `results.json` under `state/bench/`; return its path."""
    target = state / "bench" / "results.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(document, indent=2) + "\n")
    return target
