"""Where a server process's CPU goes, from a py-spy sampling profile.

``Sampler`` attaches ``py-spy record --gil`` (raw, collapsed stacks of the thread holding the
interpreter lock: CPU spent in Python, and in C called from it without releasing the lock) to a
running process; ``Profile`` reads its output, puts every stack into the first of
``CATEGORIES`` that one of its frames matches, and prints the shares, in ms a request when
given the measured CPU a request.

py-spy is not a dependency of the project: ``pip install py-spy`` into the venv to use it.
It pauses the process briefly at every sample, so figures of a profiled run are a little
worse than those of an unprofiled one.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from attrs import frozen

# (label, substrings of a frame "function (package/file.py)"); the first match wins, so the
# specific pieces come before the layers that call them.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("HMAC check (base64 HMAC-SHA256, compare_digest)", ("webhook_signature_valid",)),
    ("rate limiter (limits, Redis client)", ("adapters/ratelimit.py", "(limits/", "(redis/")),
    ("body: strict_json (checks, parse)", ("(entrypoints/web/strict_json.py)",)),
    ("DB: pool checkout and return", ("(psycopg_pool/",)),
    ("DB: integration lookup", ("_integrations.py)",)),
    (
        "DB: inbox INSERT (params, jsonb, execute)",
        ("PostgresInboxRepository.add", "PostgresInboxWriter.add"),
    ),
    (
        "DB: BEGIN / COMMIT / unit of work",
        ("Session.commit", "Session.rollback", "Session._begin", "PostgresUnitOfWork"),
    ),
    ("Flask: session cookie", ("open_session", "save_session", "(flask/sessions.py)")),
    ("Flask: before_request (auth, CSRF)", ("_load_user", "_check_csrf", "authenticate (")),
    ("logging (the access line)", ("(logging/",)),
    ("view: headers, Delivery, rest of receive", ("_receive (", "receive (core/")),
    ("Flask/werkzeug: request, dispatch, response", ("(flask/", "(werkzeug/")),
    ("bare app: its HMAC check and INSERT", ("bare_wsgi_app",)),
    ("waitress: read, parse, write", ("(waitress/",)),
)
OTHER = "other"


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Sampler:
    """``py-spy record`` on ``pid`` until ``stop()``; raw output in ``path``."""

    def __init__(self, pid: int, path: Path, rate: int = 200) -> None:
        binary = py_spy()
        if binary is None:
            raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
        self.path = path
        command = [binary, "record", "-p", str(pid), "-r", str(rate), "-f", "raw"]
        # --gil: py-spy's idle detection counts threads waiting on a condition or a socket
        # as running here, so only the holder of the interpreter lock is sampled
        command += ["--gil", "--nolineno", "-o", str(path)]
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def stop(self) -> Profile:
        self._process.send_signal(signal.SIGINT)
        self._process.wait(60)
        return Profile.read(self.path)


@frozen
class Profile:
    samples: int
    by_category: dict[str, int]
    own: dict[str, int]  # by innermost frame
    within: dict[str, int]  # by every frame of the stack (each counted once a stack)

    @classmethod
    def read(cls, path: Path) -> Profile:
        by_category: Counter[str] = Counter()
        own: Counter[str] = Counter()
        within: Counter[str] = Counter()
        total = 0
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack.strip() or not count.isdigit():
                continue
            n = int(count)
            total += n
            by_category[category(stack)] += n
            frames = stack.split(";")
            own[frames[-1]] += n
            for frame in set(frames):
                within[frame] += n
        return cls(total, dict(by_category), dict(own), dict(within))

    def print(self, cpu_ms_per_request: float | None = None, top: int = 12) -> None:
        print(f"  {self.samples:,} samples of the thread holding the interpreter lock (--gil)")
        labels = [label for label, _ in CATEGORIES] + [OTHER]
        width = max(len(label) for label in labels)
        unit = "ms/req" if cpu_ms_per_request is not None else ""
        print(f"  {'where':<{width}} {'share':>6} {unit:>7}")
        for label in labels:
            n = self.by_category.get(label, 0)
            share = n / self.samples if self.samples else 0.0
            ms = f"{share * cpu_ms_per_request:>7.3f}" if cpu_ms_per_request is not None else ""
            print(f"  {label:<{width}} {share:>6.1%} {ms}")
        print(f"  top {top} functions by own samples:")
        for frame, n in sorted(self.own.items(), key=lambda kv: -kv[1])[:top]:
            print(f"    {n / self.samples:>6.1%}  {frame}")


def category(stack: str) -> str:
    for label, needles in CATEGORIES:
        if any(needle in stack for needle in needles):
            return label
    return OTHER
