"""Settings of sessions and proxies: defaults, values in range, one clear line otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.crypto import generate_key_spec
from entrypoints.settings import ConfigError, Settings


def _settings(tmp_path: Path, **env: str) -> Settings:
    base = {
        "STORELINK_DATA_DIR": str(tmp_path),
        "SECRET_KEY": "k" * 40,
        "TOKEN_ENCRYPTION_KEYS": generate_key_spec("k1"),
    }
    return Settings.from_env({**base, **env}, read_dotenv=False)


def test_sessions_last_two_idle_hours_and_twelve_in_all_and_no_proxy_is_trusted(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path)
    assert (settings.session_idle_minutes, settings.session_max_hours) == (120, 12)
    assert settings.trusted_proxy_hops == 0


def test_session_lifetimes_and_proxy_hops_are_read_from_the_environment(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, SESSION_IDLE_MINUTES="30", SESSION_MAX_HOURS="8", TRUSTED_PROXY_HOPS="2"
    )
    assert (settings.session_idle_minutes, settings.session_max_hours) == (30, 8)
    assert settings.trusted_proxy_hops == 2


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "SESSION_IDLE_MINUTES",
            "0",
            "SESSION_IDLE_MINUTES must be a whole number from 1 to 10080",
        ),
        ("SESSION_IDLE_MINUTES", "1.5", "SESSION_IDLE_MINUTES must be a whole number"),
        ("SESSION_MAX_HOURS", "721", "SESSION_MAX_HOURS must be a whole number from 1 to 720"),
        ("SESSION_MAX_HOURS", "-3", "SESSION_MAX_HOURS must be a whole number"),
        ("TRUSTED_PROXY_HOPS", "11", "TRUSTED_PROXY_HOPS must be a whole number from 0 to 10"),
        ("TRUSTED_PROXY_HOPS", "one", "TRUSTED_PROXY_HOPS must be a whole number"),
    ],
)
def test_a_bad_value_is_named_on_one_line(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        _settings(tmp_path, **{name: value})
    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value)


def test_the_idle_lifetime_cannot_outlast_the_whole_lifetime(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SESSION_IDLE_MINUTES must not be longer"):
        _settings(tmp_path, SESSION_IDLE_MINUTES="180", SESSION_MAX_HOURS="2")
