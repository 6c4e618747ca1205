"""The adapter's settings: easy to build from env values, refused with one clear message."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.shopify import DEFAULT_SCOPES, ShopifyConfig
from core.errors import InvalidInput


def test_defaults_follow_the_documented_interface() -> None:
    config = ShopifyConfig(client_id="id", client_secret="secret")
    assert config.api_version == "2026-10"
    assert config.shop_url_template == "https://{shop}"
    assert config.scopes == DEFAULT_SCOPES
    assert config.secrets == ("secret",)


def test_scopes_may_be_given_as_the_comma_separated_env_value() -> None:
    config = ShopifyConfig(client_id="id", client_secret="s", scopes=" read_orders, write_orders ,")
    assert config.scopes == ("read_orders", "write_orders")


def test_a_previous_secret_is_accepted_after_the_current_one() -> None:
    config = ShopifyConfig(client_id="id", client_secret="new", previous_client_secret="old")
    assert config.secrets == ("new", "old")


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"client_id": ""}, "client_id"),
        ({"client_secret": ""}, "client_secret"),
        ({"scopes": " , "}, "SHOPIFY_SCOPES"),
        ({"api_version": "latest"}, "SHOPIFY_API_VERSION"),
        ({"api_version": "2026-13"}, "SHOPIFY_API_VERSION"),
        ({"shop_url_template": "https://example.com"}, "SHOPIFY_SHOP_URL_TEMPLATE"),
        ({"shop_url_template": "ftp://{shop}"}, "SHOPIFY_SHOP_URL_TEMPLATE"),
        ({"max_retries": -1}, "max_retries"),
        ({"read_timeout": 0}, "read_timeout"),
        ({"catalog_page_size": 251}, "catalog_page_size"),
        ({"catalog_page_size": 0}, "catalog_page_size"),
        ({"callback_max_age_seconds": 0}, "callback_max_age_seconds"),
    ],
)
def test_a_malformed_setting_is_invalid_input_naming_it(
    overrides: dict[str, Any], complaint: str
) -> None:
    values: dict[str, Any] = {"client_id": "id", "client_secret": "secret", **overrides}
    with pytest.raises(InvalidInput, match=complaint):
        ShopifyConfig(**values)


def test_the_sandbox_template_is_accepted() -> None:
    config = ShopifyConfig(
        client_id="id", client_secret="s", shop_url_template="http://127.0.0.1:8081/store/{shop}"
    )
    assert config.shop_url_template.endswith("/store/{shop}")
