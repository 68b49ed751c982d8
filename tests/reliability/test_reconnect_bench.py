"""The reconnect benchmark (benchmarks/bench_reconnect.py) runs, and its helpers hold."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.bench_reconnect import collapse, summary

ROOT = Path(__file__).resolve().parents[2]


def test_collapse_counts_runs_of_the_same_event():
    types = ["session.update", "conversation.item.create", "conversation.item.create", "x"]
    assert collapse(types) == ["session.update", "conversation.item.create x2", "x"]
    assert collapse([]) == []


def test_summary_row_lists_percentiles_and_max():
    assert summary("d", [1.0, 2.0, 3.0, 4.0, 100.0]) == "| d | 3.0 | 61.6 | 96.2 | 100.0 |"


@pytest.mark.timeout(60)
def test_benchmark_runs_a_few_drops():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_reconnect.py"), "--drops", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    out = completed.stdout
    assert re.search(r"\| socket aborted -> conversation restored \| [0-9.]+ \|", out), out
    restore = out.split("restore, in order):")[1].split()
    assert restore[0] == "session.update"
    assert "conversation.item.create" in restore
