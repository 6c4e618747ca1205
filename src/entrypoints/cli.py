"""The ``storelink`` command line.

Exit status: 0 on success, 1 on failure with one readable line on stderr, 2 on bad usage.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import click

from core.errors import StorelinkError
from core.model import ROLES
from core.services import SYSTEM, tenancy
from core.services.worker import Worker, WorkReport
from entrypoints import logs
from entrypoints.bootstrap import Services, bootstrap
from entrypoints.settings import ConfigError, Settings, read_log_format

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> NoReturn:
    click.echo(f"storelink: error: {message}", err=True)
    sys.exit(1)


@contextmanager
def services_from_env(**kwargs: Any) -> Iterator[Services]:
    """Bootstrap from the environment; any known failure becomes one line and exit 1."""
    services: Services | None = None
    try:
        services = bootstrap(Settings.from_env(), **kwargs)
        yield services
    except ConfigError as exc:
        fail(str(exc))
    except StorelinkError as exc:
        fail(exc.message)
    finally:
        if services is not None:
            services.close()


def _logging(verbose: bool) -> None:
    """One line per event on stderr, as text or (``LOG_FORMAT=json``) JSON."""
    try:
        log_format = read_log_format()
    except ConfigError as exc:
        fail(str(exc))
    logs.configure(log_format, verbose=verbose)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
def main(verbose: bool) -> None:
    """storelink: a 3PL warehouse connected to its merchants' Shopify stores."""
    _logging(verbose)


@main.command()
def migrate() -> None:
    """Apply pending database migrations (serve, worker and demo do this too)."""
    from entrypoints.bootstrap import embedded_database_url  # noqa: PLC0415

    try:
        settings = Settings.from_env()
        from adapters.postgres import migrate as apply_migrations  # noqa: PLC0415

        url = settings.database_url or embedded_database_url(settings.data_dir)
        applied = apply_migrations(url)
    except ConfigError as exc:
        fail(str(exc))
    except StorelinkError as exc:
        fail(exc.message)
    click.echo(
        f"applied {len(applied)} migration(s): {', '.join(applied)}"
        if applied
        else "database is up to date"
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256))
def serve(host: str, port: int, threads: int) -> None:
    """Serve the web app and API (waitress, a production WSGI server)."""
    from waitress import serve as waitress_serve  # noqa: PLC0415

    from entrypoints.web import create_app  # noqa: PLC0415

    with services_from_env() as services:
        app = create_app(services)
        click.echo(
            f"storelink serving on http://{host}:{port} (app URL {services.settings.app_url})"
        )
        # SIGTERM (a service manager's stop) leaves through ``services.close()`` like Ctrl-C
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        waitress_serve(app, host=host, port=port, threads=threads, ident="storelink")


def run_worker(
    services: Services,
    stop: threading.Event,
    *,
    idle_seconds: float = 1.0,
    worker_id: str | None = None,
) -> WorkReport:
    """The worker loop until ``stop`` is set. Never dies on a handler's failure."""
    worker = Worker(
        services.ctx,
        services.handlers,
        worker_id=worker_id or f"{socket.gethostname()}:{os.getpid()}",
    )
    total = WorkReport()
    log = logging.getLogger("storelink.worker")
    while not stop.is_set():
        try:
            report = worker.run_once()
        except StorelinkError as exc:  # e.g. the database is briefly unreachable
            log.warning("worker round failed: %s", exc.message)
            stop.wait(idle_seconds * 5)
            continue
        total.add(report)
        if report.total:
            log.info(
                "worked %d item(s): %d processed, %d skipped, %d retried, %d dead",
                report.total,
                report.processed,
                report.skipped,
                report.retried,
                report.dead,
            )
        else:
            stop.wait(idle_seconds)
    return total


@main.command()
@click.option("--once", is_flag=True, help="Work until nothing is due, then exit.")
@click.option(
    "--idle",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0.05, 60),
    help="Seconds to wait when nothing is due.",
)
def worker(once: bool, idle: float) -> None:
    """Claim due webhook events and store commands and work them (run several for more)."""
    with services_from_env() as services:
        if once:
            report = Worker(
                services.ctx, services.handlers, worker_id=f"{socket.gethostname()}:{os.getpid()}"
            ).drain()
            click.echo(
                f"processed {report.processed}, skipped {report.skipped}, "
                f"retried {report.retried}, dead {report.dead}"
            )
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        click.echo("worker running; Ctrl-C stops it")
        run_worker(services, stop, idle_seconds=idle)


@main.command()
@click.option(
    "--orders",
    "jobs",
    flag_value="orders",
    multiple=True,
    help="Reconcile orders changed since the last run (repairs missed webhooks).",
)
@click.option(
    "--inventory",
    "jobs",
    flag_value="inventory",
    multiple=True,
    help="Push stock to the stores: read each store's levels, repair drift, push what differs "
    "(stores with automatic sync on whose interval has passed).",
)
@click.option(
    "--tokens",
    "jobs",
    flag_value="tokens",
    multiple=True,
    help="Refresh access tokens that expire soon.",
)
@click.option(
    "--webhooks",
    "jobs",
    flag_value="webhooks",
    multiple=True,
    help="Re-create webhook subscriptions the store dropped.",
)
@click.option("--integration", "integration_id", help="Only this integration (and run it now).")
@click.option("--enqueue", is_flag=True, help="Queue the work for the workers instead of doing it.")
def sync(jobs: tuple[str, ...], integration_id: str | None, enqueue: bool) -> None:
    """The scheduled job (cron): with no flag, everything that is due."""
    from core.services import schedule  # noqa: PLC0415

    chosen = tuple(j for j in schedule.JOBS if j in jobs) or schedule.JOBS
    with services_from_env() as services:
        work = schedule.due(
            services.store,
            chosen,
            integration_id,
            force=integration_id is not None,
        )
        if integration_id is not None and not work:
            fail(f"no connected integration {integration_id}")
        failures = 0
        with click.progressbar(
            work,
            label="syncing",
            file=sys.stderr,
            hidden=not sys.stderr.isatty(),  # a bar on a terminal; nothing in cron's mail
            item_show_func=lambda w: f"{w[0]} {w[1].shop_domain}" if w else "",
        ) as bar:
            results = []
            for job, integration in bar:
                if enqueue:
                    queued = schedule.enqueue(services.store, job, integration)
                    results.append((job, integration, {"queued": int(queued)}))
                    continue
                try:
                    results.append(
                        (job, integration, schedule.run(services.store, job, integration.id))
                    )
                except StorelinkError as exc:
                    failures += 1
                    results.append((job, integration, {"failed": 1}))
                    click.echo(f"{job} {integration.shop_domain}: {exc.message}", err=True)
        width = max(len(j) for j in schedule.JOBS)
        for job, integration, counts in results:
            summary = ", ".join(f"{k} {v}" for k, v in counts.items())
            click.echo(f"{job:{width}} {integration.shop_domain}: {summary}")
        if not results:
            click.echo("nothing is due")
        if failures:
            sys.exit(1)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--sandbox-port", default=8081, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--orders",
    default=3,
    show_default=True,
    type=click.IntRange(0, 100),
    help="Orders to place in the demo store at start.",
)
def demo(host: str, port: int, sandbox_port: int, orders: int) -> None:
    """Everything on one machine: database, simulated Shopify, web app, worker, demo data."""
    from entrypoints import demo as demo_module  # noqa: PLC0415

    try:
        running = demo_module.start(
            Settings.from_env(), host=host, port=port, sandbox_port=sandbox_port, orders=orders
        )
    except ConfigError as exc:
        fail(str(exc))
    except (StorelinkError, OSError, RuntimeError) as exc:
        fail(getattr(exc, "message", None) or str(exc))
    click.echo(f"storelink demo running at {running.app_url}")
    click.echo(f"  simulated Shopify: {running.sandbox.url} (shop {demo_module.DEMO_SHOP})")
    for email, password in running.logins.items():
        click.echo(f"  sign in: {email} / {password}")
    click.echo(
        f"  place another store order: curl -X POST "
        f"{running.sandbox.url}/_sandbox/shops/{demo_module.DEMO_SHOP}/orders "
        """-H 'Content-Type: application/json' -d '{"line_items": [{"sku": "TENT-2P", """
        """"quantity": 1}]}'"""
    )
    click.echo("Ctrl-C stops it all.")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        click.echo("stopping")
        running.close()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True, type=click.IntRange(1, 65535))
@click.option("--auto-approve", is_flag=True, help="Skip the consent page (for scripts).")
def sandbox(host: str, port: int, auto_approve: bool) -> None:
    """The simulated Shopify alone (shops under /store/<shop>/, control API under /_sandbox/)."""
    from adapters.shopify.sandbox import SandboxConfig  # noqa: PLC0415
    from adapters.shopify.sandbox import serve as serve_sandbox  # noqa: PLC0415

    click.echo(
        f"simulated Shopify on http://{host}:{port} "
        f"(SHOPIFY_SHOP_URL_TEMPLATE=http://{host}:{port}/store/{{shop}})"
    )
    try:
        serve_sandbox(host, port, SandboxConfig(auto_approve=auto_approve))
    except OSError as exc:
        fail(f"cannot serve on {host}:{port}: {exc.strerror}")


@main.group()
def user() -> None:
    """Create users and API tokens; reset passwords; disable and enable users."""


@user.command("create")
@click.argument("email")
@click.option("--staff", is_flag=True, help="A warehouse staff user (sees every client).")
@click.option("--client", "client_name", help="The client (merchant) the user belongs to.")
@click.option("--role", type=click.Choice(ROLES), help="The user's role in the client.")
@click.option("--password", help="Asked for when not given.")
def user_create(
    email: str, staff: bool, client_name: str | None, role: str | None, password: str | None
) -> None:
    """Create a staff user (--staff) or a client user (--client NAME --role ROLE)."""
    if staff == bool(client_name):
        raise click.UsageError("give either --staff or --client NAME --role ROLE")
    if client_name and not role:
        raise click.UsageError("--client needs --role")
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with services_from_env() as services:
        created = tenancy.create_user(
            services.ctx,
            services.passwords,
            SYSTEM,
            email=email,
            password=password or "",
            staff=staff,
            client_name=client_name,
            role=role,  # type: ignore[arg-type]
        )
        kind = "staff" if created.is_staff else f"{created.role} of {client_name}"
        click.echo(f"created {created.email} ({kind})")


@user.command("token")
@click.argument("email")
@click.option("--label", default="", help="A note to remember the token by.")
def user_token(email: str, label: str) -> None:
    """Print a new API token for the user (shown once; store it safely)."""
    with services_from_env() as services:
        _, token = tenancy.create_api_token(services.ctx, email=email, label=label)
        click.echo(token)


@user.command("password")
@click.argument("email")
@click.option("--password", help="Asked for when not given.")
def user_password(email: str, password: str | None) -> None:
    """Set a user's password; every session of the user is signed out."""
    if password is None:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    with services_from_env() as services:
        ended = tenancy.set_password(
            services.ctx, services.passwords, SYSTEM, email=email, password=password or ""
        )
        click.echo(f"password of {email} changed; {_sessions(ended)} signed out")


@user.command("disable")
@click.argument("email")
def user_disable(email: str) -> None:
    """Disable a user: signed out everywhere, no sign-in, API tokens refused."""
    with services_from_env() as services:
        ended = tenancy.set_active(services.ctx, SYSTEM, email=email, active=False)
        click.echo(f"disabled {email}; {_sessions(ended)} signed out")


@user.command("enable")
@click.argument("email")
def user_enable(email: str) -> None:
    """Enable a disabled user again (their old sessions stay ended)."""
    with services_from_env() as services:
        tenancy.set_active(services.ctx, SYSTEM, email=email, active=True)
        click.echo(f"enabled {email}")


def _sessions(count: int) -> str:
    return f"{count} session{'' if count == 1 else 's'}"


@main.command("client")
@click.argument("name")
def client_create(name: str) -> None:
    """Create a client (merchant)."""
    with services_from_env() as services:
        created = tenancy.create_client(services.ctx, SYSTEM, name=name)
        click.echo(f"created client {created.name} ({created.id})")


if __name__ == "__main__":
    main()
