"""The chaos run at CI size: ``benchmarks/chaos.py`` itself, with 110 orders.

Real processes (2 x ``storelink serve`` behind a round-robin proxy, 3 x ``storelink worker``,
``storelink sandbox`` with its faults on, a ``redis-server`` of the run's own) on a scratch
database of the test server; a worker killed in the middle of a batch, a web process killed
right after acknowledging a webhook, Redis restarted; then one reconciliation, quiescence and
the books (orders exactly once, fulfilments exactly once, no oversell, ledger = levels = open
orders). The script exits 0 only if every count that must be 0 is 0; its table is the
failure message. About 40 s on 2 cores (longer on a busy machine).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tests.pg
from tests.conftest import IN_CI

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "chaos.py"


@pytest.mark.timeout(300)
def test_the_chaos_run_keeps_the_books() -> None:
    if shutil.which("redis-server") is None:
        message = "the chaos run starts (and restarts) a redis-server of its own: none on PATH"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    command = [sys.executable, str(SCRIPT), "--orders", "110", "--seed", "8"]
    command += ["--settle-timeout", "100", "--database-url", tests.pg.server_url()]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=280, check=False, cwd=SCRIPT.parent
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "all checks passed" in output, output
