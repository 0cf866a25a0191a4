"""results.json: the engine's figures read from its RESULT lines, and every section of
issue #10's shape present with the figures measured."""

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


def test_the_document_has_every_section_of_the_issue(tmp_path: Path) -> None:
    service = {
        "e2e": {"deals": 300, "deals_per_s": 40.0, "p50_ms": 120, "p99_ms": 300, "offered_per_s": 20.0,
                "pgbench_tps": 2000, "ratio": 0.02},
        "history": [{"deals_held": 10000, "per_deal_ms": 50.0},
                    {"deals_held": 1000000, "per_deal_ms": 900.0}],
        "restart": {"deals_held": 1000000, "ready_s": 4.2},
        "scale_out": {"replicas": [1, 2], "deals_per_s": [30.0, 31.0]},
        "memory": {"calc_engine_rss_mb_per_100k_deals": 12.5},
    }  # fmt: skip
    path = write(results(service, engine_figures(LINES), quick=True), tmp_path)
    document = json.loads(path.read_text())
    assert path == tmp_path / "bench" / "results.json"
    assert set(document) == {"machine", "quick", "e2e", "history", "engine", "restart", "scale_out", "memory"}
    assert document["quick"] is True
    for section in ("e2e", "history", "restart", "scale_out", "memory"):
        assert document[section] == service[section]
    assert document["engine"]["recompute_deals_per_s_per_core"] == {"100000": 31000, "1000000": 24000}
