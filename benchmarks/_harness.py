"""Shared pieces of the webhook benchmarks.

* ``scratch_database``: a fresh, migrated database on a PostgreSQL server (``--database-url``,
  else the local server, else an embedded one), dropped afterwards.
* ``AppProcess``: the real ``storelink serve`` (waitress) in its own process on a free port.
* ``SandboxProcess``: the simulated Shopify in its own process (run this file as
  ``python _harness.py sandbox '<SandboxConfig as JSON>'``), so its GraphQL execution and
  webhook thread do not share the benchmark's interpreter lock.
* ``Summary``: throughput and latency percentiles, printed as aligned rows.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlencode

import httpx
import psycopg
from attrs import frozen
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from adapters.crypto import generate_key_spec

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_SECRET_KEY = "benchmark-secret-key-" + "x" * 32
REPO = Path(__file__).resolve().parent.parent


# --- PostgreSQL -------------------------------------------------------------------------------


@frozen
class ScratchDatabase:
    url: str  # the scratch database
    server: str  # where it lives, for the report (no password)
    settings: Mapping[str, str]  # durability settings of the server


def _reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def _describe(url: str) -> str:
    parts = conninfo_to_dict(url)
    host = parts.get("host") or "local socket"
    if str(host).startswith("/"):
        host = f"unix socket {host}"
    version = "?"
    with contextlib.suppress(psycopg.Error), psycopg.connect(url, connect_timeout=3) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        version = row[0] if row else "?"
    return f"PostgreSQL {version} at {host}:{parts.get('port', 5432)}"


def as_url(conninfo: str) -> str:
    """A ``postgresql://`` URL for any conninfo (``DATABASE_URL`` must be a URL)."""
    params = {k: str(v) for k, v in conninfo_to_dict(conninfo).items() if v is not None}
    user = quote(params.pop("user", ""), safe="")
    password = params.pop("password", None)
    auth = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
    host = params.pop("host", "")
    port = params.pop("port", "")
    dbname = quote(params.pop("dbname", ""), safe="")
    netloc = ""
    if host.startswith("/"):  # a unix socket directory goes in the query
        params["host"] = host
        if port:
            params["port"] = port
    else:
        netloc = host + (f":{port}" if port else "")
    query = f"?{urlencode(params)}" if params else ""
    return f"postgresql://{auth}{netloc}/{dbname}{query}"


def _show(conn: psycopg.Connection[Any], setting: str) -> str:
    row = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(setting))).fetchone()
    return str(row[0]) if row else "?"


DURABILITY = ("synchronous_commit", "fsync", "wal_sync_method", "full_page_writes")


@contextlib.contextmanager
def scratch_database(server_url: str | None) -> Iterator[ScratchDatabase]:
    """A new database ``storelink_bench_<pid>_<hex>``, migrated; dropped at the end.

    ``server_url``: any database of a server whose role may create databases. ``None``: the
    local server at ``LOCAL_SERVER``, or an embedded server (deleted afterwards) when that is
    unreachable.
    """
    from adapters.postgres import migrate, start_embedded

    with contextlib.ExitStack() as stack:
        if server_url is None:
            if _reachable(LOCAL_SERVER):
                server_url = LOCAL_SERVER
            else:
                print(f"({LOCAL_SERVER} is unreachable: starting an embedded PostgreSQL)")
                workdir = tempfile.mkdtemp(prefix="storelink-bench-pg-")
                stack.callback(shutil.rmtree, workdir, ignore_errors=True)
                embedded = start_embedded(workdir, database="postgres", cleanup="delete")
                stack.callback(embedded.stop)
                server_url = embedded.server_conninfo
        name = f"storelink_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            settings = {setting: _show(conn, setting) for setting in DURABILITY}

        def drop() -> None:
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )

        stack.callback(drop)
        url = as_url(make_conninfo(server_url, dbname=name))
        migrate(url)
        yield ScratchDatabase(url=url, server=_describe(server_url), settings=settings)


# --- processes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def bench_environment(
    database_url: str,
    data_dir: Path,
    *,
    app_url: str,
    client_id: str,
    client_secret: str,
    shop_url_template: str = "https://{shop}",
) -> dict[str, str]:
    """The settings of ``storelink serve`` (and of the benchmark's own bootstrap)."""
    keys_file = data_dir / "bench_token_keys"
    if not keys_file.exists():
        keys_file.write_text(generate_key_spec("k1"))
    return {
        "DATABASE_URL": database_url,
        "STORELINK_DATA_DIR": str(data_dir),
        "APP_URL": app_url,
        "SECRET_KEY": BENCH_SECRET_KEY,
        "TOKEN_ENCRYPTION_KEYS": keys_file.read_text(),
        "SHOPIFY_CLIENT_ID": client_id,
        "SHOPIFY_CLIENT_SECRET": client_secret,
        "SHOPIFY_SHOP_URL_TEMPLATE": shop_url_template,
    }


def _child_environment(settings: Mapping[str, str]) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(settings)
    env["PYTHONPATH"] = str(REPO / "benchmarks")
    return env


def _stop(process: subprocess.Popen[bytes], log: IO[bytes] | None = None) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    if log is not None:
        log.close()


class ServerProcess:
    """An HTTP server in its own process on ``port``, ready once ``GET /healthz`` answers 200.

    Its output goes to ``<workdir>/<name>.log``; it runs in ``workdir``, so no stray ``.env``
    of the working tree is read. Stopped with SIGINT (as Ctrl-C would), killed after 15 s.
    """

    def __init__(
        self,
        command: Sequence[str],
        settings: Mapping[str, str],
        port: int,
        workdir: Path,
        name: str,
    ) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            list(command),
            cwd=workdir,
            env=_child_environment(settings),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_path.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not become ready")

    def log_lines(self, containing: str) -> list[str]:
        return [line for line in self.log_path.read_text().splitlines() if containing in line]

    def stop(self) -> None:
        _stop(self.process, self._log)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def app_process(settings: Mapping[str, str], port: int, *, threads: int = 8) -> ServerProcess:
    """``storelink serve`` (waitress, the production server) with ``settings`` as environment."""
    command = [sys.executable, "-m", "entrypoints.cli", "serve", "--port", str(port)]
    command += ["--threads", str(threads)]
    workdir = Path(settings["STORELINK_DATA_DIR"])
    return ServerProcess(command, settings, port, workdir, "storelink-serve")


class SandboxProcess:
    """The simulated Shopify on a free port in its own process."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        command = [sys.executable, __file__, "sandbox", json.dumps(dict(config))]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_child_environment({})
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode().strip()
        if not line.startswith("http://"):
            self.stop()
            raise RuntimeError(f"the sandbox did not start: {line!r}")
        self.url = line
        self.shop_url_template = f"{line}/store/{{shop}}"

    def stop(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()  # the child stops when its stdin closes
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            _stop(self.process)

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _run_sandbox(config_json: str) -> None:
    from adapters.shopify.sandbox import SandboxConfig, SandboxServer

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us by closing stdin
    with SandboxServer(SandboxConfig(**json.loads(config_json))) as server:
        print(server.url, flush=True)
        sys.stdin.read()


# --- CPU ------------------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")
_PG_BACKGROUND = (
    "walwriter",
    "checkpointer",
    "background writer",
    "autovacuum launcher",
    "autovacuum worker",
)


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a local process (0 if it is gone or not visible)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def machine_busy() -> float:
    """CPU seconds all cores spent working (not idle, not waiting for I/O), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / _TICKS


def postgres_pids(database_url: str) -> list[int]:
    """The scratch database's backends and the server's background processes, if local."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
            " AND (datname = current_database() OR backend_type = ANY(%s))",
            [list(_PG_BACKGROUND)],
        ).fetchall()
    return [int(row[0]) for row in rows if Path(f"/proc/{row[0]}").exists()]


@frozen
class CpuSnapshot:
    machine: float
    own: float
    processes: dict[str, float]
    postgres: dict[int, float]


@frozen
class Cpu:
    """CPU seconds a phase used: named processes, this one, PostgreSQL, and the rest."""

    seconds: float
    own: float
    postgres: float
    other: float
    processes: dict[str, float]

    @property
    def busy_cores(self) -> float:
        return (self.own + self.postgres + self.other + sum(self.processes.values())) / self.seconds


class CpuMeter:
    """Snapshots of /proc around a phase (Linux; PostgreSQL only when it runs here)."""

    def __init__(self, database_url: str, processes: Mapping[str, int] | None = None) -> None:
        self.database_url = database_url
        self.processes = dict(processes or {})

    def snapshot(self) -> CpuSnapshot:
        pids = postgres_pids(self.database_url)
        times = os.times()
        return CpuSnapshot(
            machine=machine_busy(),
            own=times.user + times.system,
            processes={name: process_cpu(pid) for name, pid in self.processes.items()},
            postgres={pid: process_cpu(pid) for pid in pids},
        )

    @staticmethod
    def between(first: CpuSnapshot, last: CpuSnapshot, seconds: float) -> Cpu:
        postgres = sum(cpu - first.postgres.get(pid, 0.0) for pid, cpu in last.postgres.items())
        processes = {name: cpu - first.processes[name] for name, cpu in last.processes.items()}
        own = last.own - first.own
        other = last.machine - first.machine - own - postgres - sum(processes.values())
        return Cpu(seconds, own, postgres, max(0.0, other), processes)


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


# --- figures ----------------------------------------------------------------------------------


def percentile(ordered: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@frozen
class Summary:
    label: str
    count: int
    seconds: float  # wall time of the whole phase
    latencies: tuple[float, ...]  # seconds, ascending

    @classmethod
    def of(cls, label: str, latencies: Sequence[float], seconds: float) -> Summary:
        return cls(label, len(latencies), seconds, tuple(sorted(latencies)))

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else math.nan

    def ms(self, p: float) -> float:
        return percentile(self.latencies, p) * 1000

    @property
    def max_ms(self) -> float:
        return self.latencies[-1] * 1000 if self.latencies else math.nan

    @property
    def mean_ms(self) -> float:
        return sum(self.latencies) / len(self.latencies) * 1000 if self.latencies else math.nan


def print_summaries(rows: Sequence[Summary], *, rate_label: str = "req/s") -> None:
    width = max(len(r.label) for r in rows)
    print(
        f"  {'':<{width}} {'count':>7} {'wall s':>7} {rate_label:>8} {'mean ms':>8} "
        f"{'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    )
    for r in rows:
        print(
            f"  {r.label:<{width}} {r.count:>7,} {r.seconds:>7.2f} {r.rate:>8.1f} "
            f"{r.mean_ms:>8.2f} {r.ms(50):>8.2f} {r.ms(90):>8.2f} {r.ms(99):>8.2f} "
            f"{r.max_ms:>8.2f}"
        )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "sandbox":
        _run_sandbox(sys.argv[2])
    else:
        sys.exit("usage: _harness.py sandbox '<SandboxConfig as JSON>'")
