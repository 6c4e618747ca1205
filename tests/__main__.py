"""Every check CI runs, in order: ``python -m tests`` (extra arguments go to pytest).

ruff (lint and format), mypy in strict mode on src/, import-linter's contracts, then pytest.
Stops at the first failing step and exits with its status.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def main() -> int:
    steps = [
        ("ruff lint", [str(BIN / "ruff"), "check", "src", "tests", "benchmarks"]),
        ("ruff format", [str(BIN / "ruff"), "format", "--check", "src", "tests", "benchmarks"]),
        ("mypy (strict, src/)", [str(BIN / "mypy")]),
        ("import contracts", [str(BIN / "lint-imports")]),
        ("pytest", [sys.executable, "-m", "pytest", *sys.argv[1:]]),
    ]
    for name, command in steps:
        print(f"\n=== {name} ...", flush=True)
        started = time.monotonic()
        status = subprocess.call(command, cwd=ROOT)
        print(
            f"=== {name}: {'ok' if status == 0 else 'FAILED'} ({time.monotonic() - started:.1f} s)",
            flush=True,
        )
        if status != 0:
            return status
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
