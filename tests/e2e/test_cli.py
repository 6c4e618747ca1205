"""The command line: one readable line and exit 1 on failure, 2 on bad usage."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import tests.pg
from adapters.crypto import generate_key_spec
from adapters.passwords import TEST_PARAMETERS, Argon2PasswordHasher
from adapters.postgres import PostgresUnitOfWork
from adapters.system import SystemClock, UuidIdGenerator
from core.errors import AuthenticationFailed
from core.model import Integration
from core.services import Context, inventory, sessions, tenancy
from core.services.sessions import SessionPolicy
from entrypoints.cli import main
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


@pytest.fixture
def env(pg_database: tests.pg.ScratchDatabase, tmp_path: Path) -> dict[str, str]:
    pg_database.reset()
    return {
        "DATABASE_URL": pg_database.url,
        "STORELINK_DATA_DIR": str(tmp_path),
        "SECRET_KEY": "c" * 40,
        "TOKEN_ENCRYPTION_KEYS": generate_key_spec("k1"),
    }


def test_users_and_tokens_are_created_from_the_command_line(env: dict[str, str]) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["migrate"], env=env).output.strip() == "database is up to date"
    client = runner.invoke(main, ["client", "Acme"], env=env)
    assert client.exit_code == 0, client.output
    created = runner.invoke(
        main,
        ["user", "create", "owner@acme.test", "--client", "Acme", "--role", "owner"],
        env=env,
        input="correct horse battery\ncorrect horse battery\n",
    )
    assert created.exit_code == 0, created.output
    assert "created owner@acme.test (owner of Acme)" in created.output
    token = runner.invoke(main, ["user", "token", "owner@acme.test"], env=env)
    assert token.exit_code == 0
    assert token.output.strip().startswith("slk_")


def _context(pg_database: tests.pg.ScratchDatabase) -> Context:
    return Context(
        uow=lambda: PostgresUnitOfWork(pg_database.db), clock=SystemClock(), ids=UuidIdGenerator()
    )


def test_users_are_disabled_enabled_and_given_new_passwords_from_the_command_line(
    env: dict[str, str], pg_database: tests.pg.ScratchDatabase
) -> None:
    runner = CliRunner()
    email = "owner@acme.test"
    assert runner.invoke(main, ["client", "Acme"], env=env).exit_code == 0
    args = ["user", "create", email, "--client", "Acme", "--role", "owner"]
    assert runner.invoke(main, [*args, "--password", "first password"], env=env).exit_code == 0
    token = runner.invoke(main, ["user", "token", email], env=env).output.strip()
    ctx, hasher = _context(pg_database), Argon2PasswordHasher(parameters=TEST_PARAMETERS)
    policy = SessionPolicy()
    user = tenancy.authenticate(ctx, hasher, email=email, password="first password")
    signed_in = [sessions.start(ctx, user, policy) for _ in range(2)]

    disabled = runner.invoke(main, ["user", "disable", email], env=env)
    assert disabled.exit_code == 0, disabled.output
    assert disabled.output.strip() == f"disabled {email}; 2 sessions signed out"
    assert [sessions.resume(ctx, s, policy) for s in signed_in] == [None, None]
    with pytest.raises(AuthenticationFailed):
        tenancy.authenticate(ctx, hasher, email=email, password="first password")
    with pytest.raises(AuthenticationFailed):
        tenancy.authenticate_token(ctx, token)

    enabled = runner.invoke(main, ["user", "enable", email], env=env)
    assert (enabled.exit_code, enabled.output.strip()) == (0, f"enabled {email}")
    assert tenancy.authenticate_token(ctx, token).email == email
    again = sessions.start(ctx, user, policy)

    changed = runner.invoke(
        main, ["user", "password", email], env=env, input="second password\nsecond password\n"
    )
    assert changed.exit_code == 0, changed.output
    assert changed.output.strip().endswith(f"password of {email} changed; 1 session signed out")
    assert sessions.resume(ctx, again, policy) is None
    tenancy.authenticate(ctx, hasher, email=email, password="second password")

    unknown = runner.invoke(main, ["user", "disable", "nobody@acme.test"], env=env)
    assert unknown.exit_code == 1
    assert unknown.stderr.strip() == "storelink: error: no user with e-mail 'nobody@acme.test'"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["user", "create", "x@acme.test", "--staff", "--password", "short"],
            "a password needs at least 10 characters",
        ),
        (
            [
                "user",
                "create",
                "x@acme.test",
                "--client",
                "Nope",
                "--role",
                "member",
                "--password",
                "long enough pw",
            ],
            "client 'Nope' not found",
        ),
        (["user", "token", "nobody@acme.test"], "no user with e-mail 'nobody@acme.test'"),
        (["sync", "--orders", "--integration", "nope"], "no connected integration nope"),
    ],
)
def test_failures_are_one_readable_line_and_exit_1(
    env: dict[str, str], args: list[str], message: str
) -> None:
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"storelink: error: {message}"


def test_a_bad_setting_is_named_on_one_line(env: dict[str, str]) -> None:
    for name, value, message in [
        ("DATABASE_URL", "mysql://x", "DATABASE_URL must be a postgresql:// URL"),
        ("APP_URL", "ftp://x", "APP_URL must be an http(s) base URL"),
        ("TOKEN_ENCRYPTION_KEYS", "k1:short", "TOKEN_ENCRYPTION_KEYS entry 1"),
        ("SHOPIFY_API_VERSION", "latest", "SHOPIFY_API_VERSION must look like 2026-10"),
        ("SESSION_IDLE_MINUTES", "0", "SESSION_IDLE_MINUTES must be a whole number from 1 to"),
        ("SESSION_MAX_HOURS", "twelve", "SESSION_MAX_HOURS must be a whole number from 1 to"),
        ("TRUSTED_PROXY_HOPS", "-1", "TRUSTED_PROXY_HOPS must be a whole number from 0 to 10"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be text or json"),
        ("METRICS_TOKEN", "short", "METRICS_TOKEN must be at least 16 characters"),
    ]:
        result = CliRunner().invoke(main, ["migrate"], env={**env, name: value})
        assert result.exit_code == 1, name
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1
        assert message in lines[0]
        assert value not in lines[0] or name != "TOKEN_ENCRYPTION_KEYS"


def test_bad_usage_exits_2(env: dict[str, str]) -> None:
    assert CliRunner().invoke(main, ["user", "create", "x@acme.test"], env=env).exit_code == 2
    assert CliRunner().invoke(main, ["nonsense"], env=env).exit_code == 2
    assert CliRunner().invoke(main, ["serve", "--port", "99999"], env=env).exit_code == 2


# --- storelink sync: the inventory job ---------------------------------------------------------


def _stack_env(stack: Stack, pg_database: tests.pg.ScratchDatabase) -> dict[str, str]:
    """The command line's environment for the stack's database, keys and simulated store."""
    settings = stack.services.settings
    return {
        "DATABASE_URL": pg_database.url,
        "STORELINK_DATA_DIR": str(settings.data_dir),
        "APP_URL": settings.app_url,
        "SECRET_KEY": settings.secret_key,
        "TOKEN_ENCRYPTION_KEYS": settings.token_encryption_keys,
        "SHOPIFY_CLIENT_ID": settings.shopify_client_id,
        "SHOPIFY_CLIENT_SECRET": settings.shopify_client_secret,
        "SHOPIFY_SHOP_URL_TEMPLATE": settings.shopify_shop_url_template,
    }


def _never_synced(stack: Stack, integration: Integration) -> None:
    """Make the store's inventory sync due (whatever connecting already did)."""
    with stack.services.ctx.uow() as uow:
        found = uow.integrations.get(integration.id)
        assert found is not None
        found.inventory_synced_at = None
        uow.integrations.update(found)
        uow.commit()


def _inventory_commands(stack: Stack, integration: Integration) -> int:
    with stack.services.ctx.uow() as uow:
        return len(
            uow.outbox.list(integration_id=integration.id, kind=inventory.SYNC_COMMAND, limit=1000)
        )


def test_sync_with_no_flag_queues_the_inventory_sync_of_a_due_store_once(
    stack: Stack, pg_database: tests.pg.ScratchDatabase
) -> None:
    stack.shop("acme", {"TENT-1": 5})
    integration = stack.connect("acme")
    _never_synced(stack, integration)
    env = _stack_env(stack, pg_database)
    before = _inventory_commands(stack, integration)
    first = CliRunner().invoke(main, ["sync", "--enqueue"], env=env)
    assert first.exit_code == 0, first.output
    assert "inventory acme.myshopify.com: queued 1" in first.stdout.splitlines()
    assert _inventory_commands(stack, integration) == before + 1
    again = CliRunner().invoke(main, ["sync", "--inventory", "--enqueue"], env=env)
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines() == ["inventory acme.myshopify.com: queued 0"]
    assert _inventory_commands(stack, integration) == before + 1


def test_sync_inventory_of_a_store_that_syncs_nothing_says_so_and_is_not_due_again(
    stack: Stack, pg_database: tests.pg.ScratchDatabase
) -> None:
    stack.shop("acme", {"TENT-1": 5})  # the client has no products: nothing is mapped
    integration = stack.connect("acme")
    _never_synced(stack, integration)
    env = _stack_env(stack, pg_database)
    first = CliRunner().invoke(main, ["sync", "--inventory"], env=env)
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == [
        "inventory acme.myshopify.com: updated 0, unchanged 0, failed 0, errors 0"
    ]
    with stack.services.ctx.uow() as uow:
        synced = uow.integrations.peek(integration.id)
        run = uow.sync_runs.latest(integration.id, "inventory")
    assert synced is not None
    assert synced.inventory_synced_at is not None
    assert run is not None
    assert (run.error, run.counts["updated"]) == (None, 0)
    again = CliRunner().invoke(main, ["sync", "--inventory"], env=env)
    assert again.stdout.splitlines() == ["nothing is due"]


def test_sync_inventory_puts_right_what_the_store_drifted_to(
    stack: Stack, pg_database: tests.pg.ScratchDatabase
) -> None:
    shop = stack.shop("acme", {"TENT-1": 5})
    stack.product("TENT-1", on_hand=8)
    integration = stack.connect("acme")
    location = shop["primary_location_id"]
    # a merchant edits the stock in the store's admin
    stack.control.set_inventory("acme.myshopify.com", location_id=location, sku="TENT-1", on_hand=2)
    _never_synced(stack, integration)
    env = _stack_env(stack, pg_database)
    result = CliRunner().invoke(main, ["sync", "--inventory"], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "inventory acme.myshopify.com: updated 1, unchanged 0, failed 0, errors 0"
    ]
    level = stack.control.inventory_level("acme.myshopify.com", location_id=location, sku="TENT-1")
    assert level["on_hand"] == 8
    assert CliRunner().invoke(main, ["sync", "--inventory"], env=env).stdout == "nothing is due\n"
    forced = CliRunner().invoke(
        main, ["sync", "--inventory", "--integration", integration.id], env=env
    )
    assert forced.stdout.splitlines() == [
        "inventory acme.myshopify.com: updated 0, unchanged 1, failed 0, errors 0"
    ]
