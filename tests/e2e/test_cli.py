"""The command line: one readable line and exit 1 on failure, 2 on bad usage."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import tests.pg
from adapters.crypto import generate_key_spec
from entrypoints.cli import main

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
