"""Credentials at rest: versioned JSON sealed by the cipher and bound to their integration,
and when a token needs a refresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.crypto import AesGcmCipher, generate_key_spec
from core.errors import CryptoError
from core.model import Integration
from core.serialization import dump_credentials, load_credentials
from core.services.integrations import needs_refresh, seal, unseal
from core.store import Credentials

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "credentials",
    [
        Credentials(access_token="shpat_forever"),
        Credentials(
            access_token="shpat_x",
            scopes=("read_orders", "write_inventory"),
            expires_at=NOW + timedelta(hours=1),
            refresh_token="shprt_y",
            refresh_token_expires_at=NOW + timedelta(days=90),
        ),
    ],
)
def test_credentials_survive_a_round_trip_through_json(credentials: Credentials) -> None:
    assert load_credentials(dump_credentials(credentials)) == credentials


def test_dumped_credentials_are_utf8_json_with_a_format_version() -> None:
    data = dump_credentials(Credentials(access_token="shpat_x"))
    assert data.startswith(b"{")
    assert b'"v":1' in data.replace(b" ", b"")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"[]",
        b'{"v": 1}',
        b'{"v": 2, "access_token": "shpat_secret"}',
        b'{"v": 1, "access_token": "shpat_secret", "expires_at": "tomorrow"}',
        b"\xff\xfe",
    ],
)
def test_unreadable_credentials_are_an_error_that_never_echoes_them(data: bytes) -> None:
    with pytest.raises(CryptoError) as caught:
        load_credentials(data)
    assert "shpat_secret" not in str(caught.value)
    assert "tomorrow" not in str(caught.value)


def test_a_non_expiring_token_never_needs_a_refresh() -> None:
    assert not needs_refresh(Credentials(access_token="x"), NOW)


@pytest.mark.parametrize(
    ("expires_in", "needed"),
    [
        (timedelta(hours=1), False),
        (timedelta(minutes=5, seconds=1), False),
        (timedelta(minutes=5), True),
        (timedelta(minutes=1), True),
        (timedelta(minutes=-10), True),
    ],
)
def test_a_token_needs_a_refresh_within_the_margin_of_its_expiry(
    expires_in: timedelta, needed: bool
) -> None:
    credentials = Credentials(access_token="x", expires_at=NOW + expires_in, refresh_token="r")
    assert needs_refresh(credentials, NOW) is needed


def test_sealed_credentials_open_only_on_their_own_integration() -> None:
    cipher = AesGcmCipher.from_spec(generate_key_spec("k1"))
    mine = Integration(
        id="i-1",
        client_id="c",
        platform="shopify",
        shop_domain="a.myshopify.com",
        created_at=NOW,
        updated_at=NOW,
    )
    theirs = Integration(
        id="i-2",
        client_id="c",
        platform="shopify",
        shop_domain="b.myshopify.com",
        created_at=NOW,
        updated_at=NOW,
    )
    credentials = Credentials(access_token="shpat_secret", refresh_token="shprt_secret")
    mine.credentials = seal(cipher, mine.id, credentials)
    assert "shpat_secret" not in mine.credentials
    assert unseal(cipher, mine) == credentials
    theirs.credentials = mine.credentials  # copied onto another row
    with pytest.raises(CryptoError):
        unseal(cipher, theirs)


def test_credentials_never_show_their_tokens_when_printed() -> None:
    from core.store import Credentials

    credentials = Credentials(
        access_token="shpat_secret_access", refresh_token="shprt_secret_refresh", scopes=("a",)
    )
    shown = f"{credentials!r} {credentials!s} {[credentials]}"
    assert "secret" not in shown
    assert "<redacted>" in shown
