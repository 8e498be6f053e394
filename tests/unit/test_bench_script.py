"""Smoke test for scripts/bench.py: it starts, parses its options and plans a run.

No timing here (the benchmark is the judge, DESIGN.md §7); ``--dry-run`` runs nothing and
installs nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "scripts" / "bench.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=60
    )


def test_help_lists_the_options() -> None:
    proc = _run("--help")
    assert proc.returncode == 0, proc.stderr
    for opt in ("--quick", "--dry-run", "--out", "--only", "--cfsession-b"):
        assert opt in proc.stdout


def test_dry_run_plans_quick_sizes_and_resolves_tools() -> None:
    proc = _run("--dry-run", "--quick", "--only", "bulk,startup", "--no-install")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["plan"]["workloads"] == ["bulk", "startup"]
    assert plan["plan"]["size"] == 20 * 2**20  # quick sizes, not the full 100 MiB
    assert plan["plan"]["count"] == 200
    assert plan["tools"]["cfsession"], "no way to run cfsession was found"


def test_unknown_workload_is_refused() -> None:
    proc = _run("--dry-run", "--only", "bulk,nonsense")
    assert proc.returncode != 0
    assert "nonsense" in proc.stderr
