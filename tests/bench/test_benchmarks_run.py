"""Every benchmark runs and checks its own answer, at small sizes (not a measurement).

A benchmark that no longer starts, or whose answer check fails, is found here rather than at the
next `make bench`. Sizes are the smallest at which each still exercises all of its parts (its
reference included); the figures they print mean nothing at these sizes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SMALL = {
    "account_duplicate_detection.py": ["--accounts", "3000", "--queries", "30"],
    "account_holdings_import.py": ["--holdings", "3000", "--accounts", "600", "--batch", "1000"],
    "lead_capture.py": ["--clients", "4", "--seconds", "2", "--warmup", "1", "--rounds", "2"],
    "opportunity_forecast.py": ["--opportunities", "3000", "--calls", "20"],
    "opportunity_next_best_actions.py": ["--book", "100", "--others", "1000", "--calls", "20", "--limit", "50"],
    "territory_attainment.py": ["--rms", "100", "--calls", "20", "--deals", "3"],
    "territory_realignment.py": ["--accounts", "3000", "--branches", "20", "--rms-per-branch", "2"],
}
# Servers the benchmarks start as their references.
REFERENCES = {"reference_capture.py", "reference_read.py"}


def test_every_benchmark_has_small_sizes_here() -> None:
    benchmarks = {path.name for path in (ROOT / "bench").glob("*.py")} - REFERENCES
    assert benchmarks == set(SMALL)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_the_benchmark_runs_and_its_answer_holds(name: str) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / name), *SMALL[name]], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert run.returncode == 0, f"{name} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert "reference" in run.stdout.lower(), f"{name} printed no reference measured in the same run:\n{run.stdout}"
