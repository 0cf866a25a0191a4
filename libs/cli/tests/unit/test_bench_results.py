"""results.json: the engine's figures read from its RESULT lines, every section present,
and a section not measured yet `null` with its reason (never a number made up)."""

from __future__ import annotations

import json
from pathlib import Path

from provisio_cli.bench_results import engine_figures, results, write

LINES = [
    "python 3.11.9; each scenario in its own process (own peak RSS)\n",
    "full recompute   100,000 deals: ...\n",
    'RESULT {"kind": "full", "deals": 100000, "deals_per_s": 31000, "rss_mb": 900}\n',
    'RESULT {"kind": "full", "deals": 1000000, "deals_per_s": 24000, "rss_mb": 7000}\n',
    'RESULT {"kind": "incremental", "deals_held": 10000, "per_deal_ms": 0.2, "per_cancellation_ms": 0.3, '
    '"rss_mb": 200}\n',
]


def test_the_engine_figures_come_from_the_result_lines_only() -> None:
    engine = engine_figures(LINES)
    assert engine["recompute_deals_per_s_per_core"] == {"100000": 31000, "1000000": 24000}
    assert engine["incremental"] == [
        {"deals_held": 10000, "per_deal_ms": 0.2, "per_cancellation_ms": 0.3, "rss_mb": 200}
    ]


def test_the_document_has_every_section_and_says_what_is_not_measured(tmp_path: Path) -> None:
    e2e = {
        "deals": 300,
        "deals_per_s": 40.0,
        "p50_ms": 120,
        "p99_ms": 300,
        "pgbench_tps": 2000,
        "ratio": 0.02,
    }
    path = write(results(e2e, engine_figures(LINES)), tmp_path)
    document = json.loads(path.read_text())
    assert path == tmp_path / "bench" / "results.json"
    assert set(document) == {
        "machine",
        "e2e",
        "history",
        "engine",
        "restart",
        "scale_out",
        "memory",
        "not_measured",
    }
    assert document["e2e"] == e2e
    missing = [
        section for section in ("history", "restart", "scale_out", "memory") if document[section] is None
    ]
    assert sorted(document["not_measured"]) == sorted(missing)
