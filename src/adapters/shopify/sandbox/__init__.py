"""A simulated Shopify ("sandbox") for tests, the demo and benchmarks.

Many shops under ``/store/<shop>/``: OAuth (consent page, token endpoint with expiring tokens
and refresh rotation), the Admin GraphQL API executed against Shopify's real 2026-10 schema
with Shopify's rules and cost-based throttling, signed webhook deliveries in the REST shapes,
and a control API under ``/_sandbox/``. See ``README.md`` beside this file for the endpoints.

    with SandboxServer(SandboxConfig(auto_approve=True)) as sandbox:
        sandbox.control.create_shop("acme.myshopify.com")
        ...
"""

from adapters.shopify.sandbox.app import create_sandbox_app, serve
from adapters.shopify.sandbox.client import SandboxControl, SandboxControlError
from adapters.shopify.sandbox.config import DEFAULT_API_VERSION, SandboxClock, SandboxConfig
from adapters.shopify.sandbox.oauth import sign_query, signature_message
from adapters.shopify.sandbox.state import SandboxState
from adapters.shopify.sandbox.testing import SandboxServer
from adapters.shopify.sandbox.webhooks import sign_body

__all__ = [
    "DEFAULT_API_VERSION",
    "SandboxClock",
    "SandboxConfig",
    "SandboxControl",
    "SandboxControlError",
    "SandboxServer",
    "SandboxState",
    "create_sandbox_app",
    "serve",
    "sign_body",
    "sign_query",
    "signature_message",
]
