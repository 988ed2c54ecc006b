"""The reply-all tables at 80 columns: nothing cut, counts whole with separators."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from simulator.cli.replyall import (
    calibration_tables,
    compare_tables,
    ended_by_words,
    fmt_figure,
    leave_one_out_table,
    show_model,
)
from simulator.replyall.compare import COLUMNS, CompareRow
from simulator.replyall.params import ReplyAllScenario
from simulator.replyall.section import model_storm


def _render(*tables: Table) -> str:
    out = io.StringIO()
    console = Console(width=80, file=out, color_system=None)
    for t in tables:
        console.print(t)
    return out.getvalue()


def _fits(text: str) -> None:
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text, "a cell was cut"


def test_comparison_of_a_huge_storm_fits_80_columns() -> None:
    medians = {c: 8.64e9 for c in COLUMNS} | {"gigabytes": 144_250.0, "drain_h": 488.1}
    rows = [
        CompareRow(case, medians, "exchange_protection", 0.12)
        for case in ("none", "exchange_protection (original)", "mailbox_receiving_limit")
    ]
    text = _render(*compare_tables(rows))
    _fits(text)
    assert text.count("8,640,000,000") == 3 * 8  # every large column, every row, whole
    assert "protection" in text and "488.10" in text and "144,250" in text
    assert "e+0" not in text


def test_counts_are_whole_with_separators() -> None:
    assert fmt_figure("list_posts", 10.0) == "10"
    assert fmt_figure("deliveries", 11_606_657.4) == "11,606,657"
    assert fmt_figure("max_backlog", 8.75e10) == "87,500,000,000"
    assert fmt_figure("bytes", 1.95e11) == "195.0 GB"
    assert fmt_figure("drain_h", 0.0712) == "0.07"
    assert fmt_figure("ended_by", "pool_exhausted") == "pool exhausted"


def test_a_modelled_storm_prints_narrow(small: ReplyAllScenario) -> None:
    model = model_storm(small, runs=3, seed=1)
    out = io.StringIO()
    show_model(model, Console(width=80, file=out, color_system=None))
    text = out.getvalue()
    _fits(text)
    for row in model.rows:
        assert row.case.replace("_", " ").split(" (")[0] in text
        assert f"{round(row.medians['deliveries']):,}" in text
    assert "{" not in text and "ended by: " in text
    assert ended_by_words(model.band.ended_by, 3) in text


def test_calibration_prints_tables_not_a_dict() -> None:
    params = {"rate_scale": 1.0, "size_scale": {"bedlam_dl3": 0.993, "cisco_2013": 1.001}}
    checks = {
        "bedlam_dl3": {
            "deliveries": {
                "target": 15e6,
                "p10": 15_363_227.0,
                "p50": 15_363_227.0,
                "p90": 15_363_227.0,
                "error": 0.024,
                "ok": True,
            },
            "peak_posts_per_s": {
                "target": None,
                "p10": 3.7,
                "p50": 3.77,
                "p90": 3.94,
                "error": None,
                "ok": None,
            },
        }
    }
    text = _render(*calibration_tables(params, checks, 3))
    _fits(text)
    assert "{" not in text and "'" not in text
    assert "size_scale (Cisco 2013)" in text and "15,363,227" in text and "+2%" in text
    assert "peak posts/s" in text


def test_leave_one_out_table_fits_80_columns() -> None:
    figs = {"record": 2.2e6, "predicted": 5_274_000.0, "error": 1.397}
    rows = [
        {
            "left_out": "dhs_2007",
            "list_size": 7500,
            "figures": {
                "posts": {"record": 275.0, "predicted": 670.0, "error": 1.44},
                "deliveries": figs,
                "bytes": {"record": None, "predicted": 47.3e9, "error": None},
            },
        }
    ]
    text = _render(leave_one_out_table(rows, 20))
    _fits(text)
    assert "DHS 2007" in text and "7,500" in text and "5,274,000" in text and "+140%" in text
    assert "47.3 GB" in text
