"""Settings from the environment (and a ``.env`` file in the working directory).

A missing or malformed setting stops start-up with ``ConfigError``: one line naming it, never
echoing a secret. ``SECRET_KEY`` and ``TOKEN_ENCRYPTION_KEYS`` are generated once into the
data directory when unset, so a fresh machine runs with nothing configured.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from attrs import field, frozen

from adapters.crypto import AesGcmCipher, generate_key_spec
from core.errors import InvalidInput

DEFAULT_SCOPES = (
    "read_orders,write_orders,read_products,read_inventory,write_inventory,read_locations,"
    "read_merchant_managed_fulfillment_orders,write_merchant_managed_fulfillment_orders"
)
SANDBOX_CLIENT_ID = "sandbox-client-id"
SANDBOX_CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105 - the simulated store's own app
_VERSION = re.compile(r"^\d{4}-(01|04|07|10)$|^unstable$")
LogFormat = Literal["text", "json"]
MIN_METRICS_TOKEN = 16


class ConfigError(Exception):
    """A setting is missing or malformed. ``str(error)`` is the one line to print."""


@frozen
class Settings:
    data_dir: Path
    database_url: str | None = field(default=None, repr=False)
    redis_url: str | None = field(default=None, repr=False)
    app_url: str = "http://127.0.0.1:8000"
    secret_key: str = field(default="", repr=False)
    token_encryption_keys: str = field(default="", repr=False)
    shopify_client_id: str = ""
    shopify_client_secret: str = field(default="", repr=False)
    shopify_client_secret_previous: str | None = field(default=None, repr=False)
    shopify_scopes: tuple[str, ...] = tuple(DEFAULT_SCOPES.split(","))
    shopify_api_version: str = "2026-10"
    shopify_shop_url_template: str = "https://{shop}"
    cron_secret: str | None = field(default=None, repr=False)
    session_idle_minutes: int = 120
    session_max_hours: int = 12
    trusted_proxy_hops: int = 0
    metrics_token: str | None = field(default=None, repr=False)
    log_format: LogFormat = "text"
    prometheus_multiproc_dir: Path | None = None

    @property
    def is_https(self) -> bool:
        return self.app_url.startswith("https://")

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        read_dotenv: bool = True,
        generate_missing: bool = True,
    ) -> Settings:
        env = dict(os.environ if environ is None else environ)
        if read_dotenv and environ is None:
            env = {**_dotenv(Path.cwd() / ".env"), **env}

        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value is not None and value.strip() else None

        data_dir = Path(get("STORELINK_DATA_DIR") or "./var").expanduser().resolve()
        database_url = get("DATABASE_URL")
        if database_url is not None and not _is_postgres(database_url):
            raise ConfigError(
                "DATABASE_URL must be a postgresql:// URL (or a libpq key=value conninfo)"
            )
        redis_url = get("REDIS_URL")
        if redis_url is not None and urlsplit(redis_url).scheme not in (
            "redis",
            "rediss",
            "redis+unix",
        ):
            raise ConfigError("REDIS_URL must be a redis:// or rediss:// URL")
        app_url = (get("APP_URL") or "http://127.0.0.1:8000").rstrip("/")
        parts = urlsplit(app_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ConfigError("APP_URL must be an http(s) base URL such as https://ims.example.com")
        version = get("SHOPIFY_API_VERSION") or "2026-10"
        if not _VERSION.match(version):
            raise ConfigError("SHOPIFY_API_VERSION must look like 2026-10")
        template = get("SHOPIFY_SHOP_URL_TEMPLATE") or "https://{shop}"
        if template.count("{shop}") != 1 or urlsplit(
            template.replace("{shop}", "x")
        ).scheme not in ("http", "https"):
            raise ConfigError("SHOPIFY_SHOP_URL_TEMPLATE must be an http(s) URL containing {shop}")
        scopes = tuple(s.strip() for s in (get("SHOPIFY_SCOPES") or DEFAULT_SCOPES).split(","))
        if not all(re.fullmatch(r"[a-z_]+", s) for s in scopes):
            raise ConfigError("SHOPIFY_SCOPES must be a comma-separated list of scope names")
        client_id = get("SHOPIFY_CLIENT_ID") or ""
        client_secret = get("SHOPIFY_CLIENT_SECRET") or ""
        if bool(client_id) != bool(client_secret):
            raise ConfigError("set both SHOPIFY_CLIENT_ID and SHOPIFY_CLIENT_SECRET, or neither")

        idle_minutes = _whole(get, "SESSION_IDLE_MINUTES", 120, 1, 7 * 24 * 60)
        max_hours = _whole(get, "SESSION_MAX_HOURS", 12, 1, 30 * 24)
        if idle_minutes > max_hours * 60:
            raise ConfigError("SESSION_IDLE_MINUTES must not be longer than SESSION_MAX_HOURS")
        proxy_hops = _whole(get, "TRUSTED_PROXY_HOPS", 0, 0, 10)
        metrics_token = get("METRICS_TOKEN")
        if metrics_token is not None and len(metrics_token) < MIN_METRICS_TOKEN:
            raise ConfigError(f"METRICS_TOKEN must be at least {MIN_METRICS_TOKEN} characters")
        multiproc = get("PROMETHEUS_MULTIPROC_DIR")
        multiproc_dir = Path(multiproc).expanduser().resolve() if multiproc else None
        if multiproc_dir is not None and not multiproc_dir.is_dir():
            raise ConfigError("PROMETHEUS_MULTIPROC_DIR must be an existing directory")

        secret_key = get("SECRET_KEY")
        keys = get("TOKEN_ENCRYPTION_KEYS")
        if generate_missing and (secret_key is None or keys is None):
            secret_key = secret_key or _generated(
                data_dir, "secret_key", lambda: secrets.token_urlsafe(48)
            )
            keys = keys or _generated(
                data_dir, "token_encryption_keys", lambda: generate_key_spec("k1")
            )
        if not secret_key or len(secret_key) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters")
        try:
            AesGcmCipher.from_spec(keys or "")
        except InvalidInput as exc:
            raise ConfigError(str(exc)) from None
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            redis_url=redis_url,
            app_url=app_url,
            secret_key=secret_key,
            token_encryption_keys=keys or "",
            shopify_client_id=client_id,
            shopify_client_secret=client_secret,
            shopify_client_secret_previous=get("SHOPIFY_CLIENT_SECRET_PREVIOUS"),
            shopify_scopes=scopes,
            shopify_api_version=version,
            shopify_shop_url_template=template,
            cron_secret=get("CRON_SECRET"),
            session_idle_minutes=idle_minutes,
            session_max_hours=max_hours,
            trusted_proxy_hops=proxy_hops,
            metrics_token=metrics_token,
            log_format=read_log_format(env),
            prometheus_multiproc_dir=multiproc_dir,
        )


def _whole(get: Callable[[str], str | None], name: str, default: int, low: int, high: int) -> int:
    """A whole-number setting within ``low``..``high``, or ``default`` when unset."""
    raw = get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"\d{1,6}", raw) or not low <= int(raw) <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}")
    return int(raw)


def read_log_format(environ: Mapping[str, str] | None = None) -> LogFormat:
    """``LOG_FORMAT`` alone (from the environment and ``.env`` when ``environ`` is None): the
    command line sets up logging before it reads the other settings."""
    env = dict(os.environ if environ is None else environ)
    if environ is None:
        env = {**_dotenv(Path.cwd() / ".env"), **env}
    value = (env.get("LOG_FORMAT") or "").strip().lower() or "text"
    if value == "json":
        return "json"
    if value == "text":
        return "text"
    raise ConfigError("LOG_FORMAT must be text or json")


def _is_postgres(value: str) -> bool:
    if "://" in value:
        return urlsplit(value).scheme in ("postgres", "postgresql")
    return re.match(r"^\s*[a-z_]+\s*=", value) is not None  # "host=... dbname=..."


def _dotenv(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    from dotenv import dotenv_values  # noqa: PLC0415 - only when a .env exists

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def _generated(data_dir: Path, name: str, make: object) -> str:
    """A secret kept in the data dir (mode 0600), created on first use."""
    path = data_dir / name
    if path.is_file():
        return path.read_text().strip()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        value: str = make()  # type: ignore[operator]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
    except FileExistsError:  # another process created it first: use theirs
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigError(
            f"cannot write {name} into STORELINK_DATA_DIR {data_dir}: {exc.strerror}"
        ) from None
    return value
