"""The composition root: the only place that knows which adapter serves which port.

``bootstrap()`` builds a ``Services`` from settings; every adapter can be passed in instead
(tests pass in-memory ones). Nothing is built at import time. Flask (``create_app``), the CLI,
the worker and the test fixtures all call it.

Metrics: each ``Services`` gets its own ``PrometheusMetrics`` (its own registry), handed to
the core as ``ctx.metrics`` and to the store platforms; it reads the queue backlog at scrape
time. A ``metrics`` passed in serves one ``Services`` only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

from attrs import define, field

from adapters.crypto import AesGcmCipher
from adapters.metrics import MultiprocessNotEnabled, PrometheusMetrics
from adapters.passwords import Argon2PasswordHasher
from adapters.ratelimit import (
    FailOpenRateLimiter,
    FallbackRateLimiter,
    LimitsRateLimiter,
    MemoryRateLimiter,
)
from adapters.system import SystemClock, UuidIdGenerator
from core.errors import InvalidInput
from core.ports import (
    Cipher,
    Clock,
    IdGenerator,
    InboxWriter,
    PasswordHasher,
    RateLimiter,
    StorePlatform,
    UnitOfWorkFactory,
)
from core.services import Context
from core.services.health import queue_backlog
from core.services.integrations import StoreContext
from core.services.webhooks import IntegrationShops
from core.services.worker import Handlers
from entrypoints.settings import ConfigError, Settings

log = logging.getLogger(__name__)

Check = Callable[[], None]  # raises when the dependency is not ready


@define
class Services:
    """Everything a process needs, wired. ``close()`` releases pools and servers."""

    settings: Settings
    ctx: Context
    passwords: PasswordHasher
    cipher: Cipher
    # logins, tokens, OAuth starts, bad signatures: per-process limits while Redis is down
    rate_limiter: RateLimiter
    webhook_limiter: RateLimiter  # fails open: never lose a store's delivery to a Redis outage
    metrics: PrometheusMetrics  # also ``ctx.metrics``; what ``GET /metrics`` renders
    platforms: Mapping[str, StorePlatform] = field(factory=dict)
    handlers: Handlers = field(factory=Handlers)
    checks: dict[str, Check] = field(factory=dict)
    # the web process's copy of integrations' shops, for webhook ingest (see IntegrationShops)
    integration_shops: IntegrationShops = field(factory=IntegrationShops)
    # checks whose failure degrades the service without making it unready (Redis)
    degraded_only: frozenset[str] = frozenset()
    _closers: list[Callable[[], None]] = field(factory=list, alias="closers")

    @property
    def store(self) -> StoreContext:
        """What the store-facing use cases need."""
        return StoreContext(
            ctx=self.ctx,
            cipher=self.cipher,
            platforms=self.platforms,
            app_url=self.settings.app_url,
        )

    def on_close(self, closer: Callable[[], None]) -> None:
        self._closers.append(closer)

    def close(self) -> None:
        while self._closers:
            closer = self._closers.pop()
            try:
                closer()
            except Exception:  # closing must go on; say what failed
                log.exception("error while shutting down")


def database(
    settings: Settings, *, migrate: bool = True
) -> tuple[UnitOfWorkFactory, InboxWriter, Check, Callable[[], None]]:
    """PostgreSQL at ``DATABASE_URL``, or an embedded server under the data dir."""
    from adapters.postgres import (  # noqa: PLC0415
        PostgresDatabase,
        PostgresInboxWriter,
        PostgresUnitOfWork,
    )
    from adapters.postgres import migrate as apply_migrations  # noqa: PLC0415

    url = settings.database_url or embedded_database_url(settings.data_dir)
    if migrate:
        apply_migrations(url)
    # web threads and workers may each hold two connections (a handler and a token refresh)
    db = PostgresDatabase(url, max_size=20)
    db.open()
    return (lambda: PostgresUnitOfWork(db)), PostgresInboxWriter(db), db.check, db.close


def embedded_database_url(data_dir: Path) -> str:
    """Start (or reuse) the embedded server under ``<data_dir>/pg``; its conninfo."""
    from adapters.postgres import embedded_conninfo  # noqa: PLC0415

    return embedded_conninfo(data_dir)


def bootstrap(
    settings: Settings | None = None,
    *,
    uow: UnitOfWorkFactory | None = None,
    clock: Clock | None = None,
    ids: IdGenerator | None = None,
    passwords: PasswordHasher | None = None,
    cipher: Cipher | None = None,
    rate_limiter: RateLimiter | None = None,
    platforms: Mapping[str, StorePlatform] | None = None,
    handlers: Handlers | None = None,
    metrics: PrometheusMetrics | None = None,
    migrate: bool = True,
) -> Services:
    settings = settings or Settings.from_env()
    closers: list[Callable[[], None]] = []
    checks: dict[str, Check] = {}
    inbox: InboxWriter | None = None  # given a unit of work, the writer over it
    if metrics is None:
        try:
            metrics = PrometheusMetrics(multiprocess_dir=settings.prometheus_multiproc_dir)
        except MultiprocessNotEnabled as exc:
            raise ConfigError(str(exc)) from None
        closers.append(metrics.close)
    degraded_only: set[str] = set()
    if uow is None:
        uow, inbox, check, close = database(settings, migrate=migrate)
        checks["database"] = check
        closers.append(close)
    clock = clock or SystemClock()
    ids = ids or UuidIdGenerator()
    ctx = (
        Context(uow=uow, clock=clock, ids=ids, metrics=metrics)
        if inbox is None
        else Context(uow=uow, clock=clock, ids=ids, metrics=metrics, inbox=inbox)
    )
    metrics.watch_backlog(partial(queue_backlog, ctx), clock)
    if rate_limiter is None and settings.redis_url:
        limiter = LimitsRateLimiter(settings.redis_url)
        checks["redis"] = _limiter_check(limiter)
        degraded_only.add("redis")
        rate_limiter = FallbackRateLimiter(limiter)
    elif rate_limiter is None:
        rate_limiter = MemoryRateLimiter()
    if cipher is None:
        try:
            cipher = AesGcmCipher.from_spec(settings.token_encryption_keys)
        except Exception as exc:
            raise ConfigError(str(exc)) from None
    services = Services(
        settings=settings,
        ctx=ctx,
        passwords=passwords or Argon2PasswordHasher(),
        cipher=cipher,
        rate_limiter=rate_limiter,
        webhook_limiter=FailOpenRateLimiter(rate_limiter),
        metrics=metrics,
        platforms=dict(platforms) if platforms is not None else {},
        handlers=handlers or Handlers(),
        checks=checks,
        degraded_only=frozenset(degraded_only),
        closers=closers,
    )
    if platforms is None:
        services.platforms = _default_platforms(services)
    if handlers is None:
        services.handlers = _default_handlers(services)
    return services


def _limiter_check(limiter: LimitsRateLimiter) -> Check:
    def check() -> None:
        if not limiter.check():
            raise ConnectionError("Redis is unreachable")

    return check


def _default_platforms(services: Services) -> dict[str, StorePlatform]:
    """The store platforms this deployment talks to: Shopify when its app is configured."""
    settings = services.settings
    if not settings.shopify_client_id:
        return {}
    from adapters.shopify import ShopifyConfig, ShopifyPlatform  # noqa: PLC0415

    try:
        config = ShopifyConfig(
            client_id=settings.shopify_client_id,
            client_secret=settings.shopify_client_secret,
            previous_client_secret=settings.shopify_client_secret_previous,
            scopes=settings.shopify_scopes,
            api_version=settings.shopify_api_version,
            shop_url_template=settings.shopify_shop_url_template,
        )
    except InvalidInput as exc:
        raise ConfigError(exc.message) from None
    platform = ShopifyPlatform(
        config=config,
        rate_limiter=FailOpenRateLimiter(services.rate_limiter),
        clock=services.ctx.clock,
        metrics=services.metrics,
    )
    services.on_close(platform.close)
    return {"shopify": platform}


def _default_handlers(services: Services) -> Handlers:
    """Queue handlers: webhook topics, store commands by kind, and job runners."""
    from core.services import connect, fulfillment, jobs, schedule, webhooks  # noqa: PLC0415

    sc = services.store
    return Handlers(
        inbox=webhooks.handlers(sc),
        outbox={
            connect.SETUP_COMMAND: partial(connect.on_setup_command, sc),
            connect.CATALOG_COMMAND: partial(connect.on_catalog_command, sc),
            fulfillment.FULFILLMENT_COMMAND: partial(fulfillment.push_fulfillment, sc),
            **schedule.handlers(sc),
        },
        jobs=jobs.runners(sc),
    )
