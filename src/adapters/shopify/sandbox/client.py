"""``SandboxControl``: a small httpx client for the sandbox's ``/_sandbox/`` control API."""

from __future__ import annotations

import functools
import json as _json
import ssl
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self, cast

import httpx

__all__ = ["SandboxControl", "SandboxControlError"]


class SandboxControlError(Exception):
    """The control API refused: ``status``, ``error`` code and readable ``message``."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status = status
        self.error = error
        self.message = message


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every client: building one per client costs tens of milliseconds."""
    return ssl.create_default_context()


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class SandboxControl:
    """One method per control endpoint. Answers are the endpoint's JSON, as dicts."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url + "/_sandbox", timeout=timeout, verify=_tls()
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def shop_url(self, shop: str) -> str:
        """The base URL the adapter uses for ``shop`` (``SHOPIFY_SHOP_URL_TEMPLATE``)."""
        return f"{self.base_url}/store/{shop}"

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        # escaped JSON (httpx would send raw UTF-8), so any text reaches the sandbox, even a
        # lone surrogate that UTF-8 cannot carry
        response = self._http.request(
            method,
            path,
            content=None if json is None else _json.dumps(dict(json)).encode(),
            headers=None if json is None else {"Content-Type": "application/json"},
            params=_clean(params) if params else None,
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )
        try:
            body = response.json()
        except ValueError:
            body = {"error": "invalid_response", "message": response.text[:200]}
        if response.status_code >= 400:
            raise SandboxControlError(
                response.status_code,
                str(body.get("error", "error")),
                str(body.get("message", "")),
            )
        return cast(dict[str, Any], body)

    # --- the sandbox -----------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def reset(self) -> None:
        self._call("POST", "/reset")

    def app(self) -> dict[str, Any]:
        return self._call("GET", "/app")

    def update_app(
        self,
        *,
        auto_approve: bool | None = None,
        compliance_webhook_url: str | None = None,
        bulk_operation_seconds: float | None = None,
    ) -> dict[str, Any]:
        """``bulk_operation_seconds``: how long bulk queries started from now take."""
        body: dict[str, Any] = {}
        if auto_approve is not None:
            body["auto_approve"] = auto_approve
        if compliance_webhook_url is not None:
            body["compliance_webhook_url"] = compliance_webhook_url
        if bulk_operation_seconds is not None:
            body["bulk_operation_seconds"] = bulk_operation_seconds
        return self._call("PATCH", "/app", json=body)

    def clock(self) -> dict[str, Any]:
        return self._call("GET", "/clock")

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        return self._call("POST", "/clock/advance", json={"seconds": seconds})

    def faults(self) -> dict[str, Any]:
        return self._call("GET", "/faults")

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """``throttle_status``, ``error_rate``, ``error_status``, ``error_mode`` ("before" |
        "after"), ``latency``, ``webhook_drop_rate``, ``webhook_duplicate_rate``,
        ``webhook_reorder_window``, ``webhook_delay``, ``random_seed``."""
        return self._call("PATCH", "/faults", json=faults)

    def clear_faults(self) -> dict[str, Any]:
        return self._call("DELETE", "/faults")

    def calls(
        self,
        shop: str | None = None,
        *,
        operation_name: str | None = None,
        root_field: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        params = {
            "shop": shop,
            "operation_name": operation_name,
            "root_field": root_field,
            "limit": limit,
        }
        return cast(list[dict[str, Any]], self._call("GET", "/calls", params=params)["calls"])

    def clear_calls(self) -> None:
        self._call("DELETE", "/calls")

    def flush_webhooks(self, timeout: float = 10.0) -> None:
        """Wait until every webhook delivery is sent (retries included); ``TimeoutError`` if not."""
        body = self._call("POST", "/webhooks/flush", json={"timeout": timeout}, timeout=timeout + 5)
        if not body["drained"]:
            raise TimeoutError(f"{body['pending']} webhook deliveries still pending")

    def deliveries(self, shop: str | None = None, topic: str | None = None) -> list[dict[str, Any]]:
        body = self._call("GET", "/webhooks/deliveries", params={"shop": shop, "topic": topic})
        return cast(list[dict[str, Any]], body["deliveries"])

    # --- shops -----------------------------------------------------------------------------------

    def create_shop(self, shop: str, name: str | None = None, **options: Any) -> dict[str, Any]:
        """``options``: email, currency, plan_name, plan_display_name, location_name,
        iana_timezone, utc_offset_minutes, country_code, bucket_size, restore_rate."""
        return self._call("POST", "/shops", json=_clean({"shop": shop, "name": name, **options}))

    def shops(self) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], self._call("GET", "/shops")["shops"])

    def shop(self, shop: str) -> dict[str, Any]:
        return self._call("GET", f"/shops/{shop}")

    def update_shop(self, shop: str, **changes: Any) -> dict[str, Any]:
        return self._call("PATCH", f"/shops/{shop}", json=changes)

    def throttle_now(self, shop: str, available: float = 0) -> dict[str, Any]:
        return self._call("POST", f"/shops/{shop}/throttle", json={"available": available})

    def issue_token(
        self, shop: str, scopes: Sequence[str] = (), *, expiring: bool = True
    ) -> dict[str, Any]:
        """Install the app and get a token without the OAuth dance (the token endpoint's JSON)."""
        return self._call(
            "POST", f"/shops/{shop}/tokens", json={"scopes": list(scopes), "expiring": expiring}
        )

    def revoke_tokens(self, shop: str) -> int:
        return int(self._call("DELETE", f"/shops/{shop}/tokens")["revoked"])

    def uninstall(self, shop: str) -> dict[str, Any]:
        return self._call("POST", f"/shops/{shop}/uninstall")

    def compliance(
        self,
        shop: str,
        topic: str,
        *,
        customer_id: int | None = None,
        email: str | None = None,
        order_ids: Sequence[int] | None = None,
    ) -> dict[str, Any]:
        body = _clean(
            {
                "topic": topic,
                "customer_id": customer_id,
                "email": email,
                "order_ids": list(order_ids) if order_ids is not None else None,
            }
        )
        return self._call("POST", f"/shops/{shop}/compliance", json=body)

    def webhooks(self, shop: str) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], self._call("GET", f"/shops/{shop}/webhooks")["webhooks"])

    def bulk_operations(self, shop: str) -> list[dict[str, Any]]:
        """The shop's bulk queries with their live status (and why a failed one failed)."""
        body = self._call("GET", f"/shops/{shop}/bulk_operations")
        return cast(list[dict[str, Any]], body["bulk_operations"])

    # --- locations, catalog, stock ---------------------------------------------------------------

    def create_location(self, shop: str, name: str, **options: Any) -> dict[str, Any]:
        return self._call("POST", f"/shops/{shop}/locations", json={"name": name, **options})

    def update_location(self, shop: str, location_id: int, **changes: Any) -> dict[str, Any]:
        return self._call("PATCH", f"/shops/{shop}/locations/{location_id}", json=changes)

    def deactivate_location(self, shop: str, location_id: int) -> dict[str, Any]:
        """The merchant deactivates a location (it stays, inactive; not the primary one)."""
        return self.update_location(shop, location_id, active=False)

    def delete_location(self, shop: str, location_id: int) -> None:
        """The merchant deletes an inactive location that no order names; its levels go too."""
        self._call("DELETE", f"/shops/{shop}/locations/{location_id}")

    def locations(self, shop: str) -> list[dict[str, Any]]:
        return cast(
            list[dict[str, Any]], self._call("GET", f"/shops/{shop}/locations")["locations"]
        )

    def create_product(
        self, shop: str, title: str, variants: Sequence[Mapping[str, Any]] = (), **options: Any
    ) -> dict[str, Any]:
        """``variants``: [{sku, barcode, price, title, requires_shipping, tracked,
        inventory_policy, grams, inventory: {location_id: on_hand}}]."""
        body = {"title": title, "variants": [dict(v) for v in variants] or [{}], **options}
        return self._call("POST", f"/shops/{shop}/products", json=body)

    def create_products(
        self, shop: str, products: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        body = {"products": [dict(p) for p in products]}
        return cast(
            list[dict[str, Any]],
            self._call("POST", f"/shops/{shop}/products", json=body)["products"],
        )

    def products(self, shop: str) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], self._call("GET", f"/shops/{shop}/products")["products"])

    def update_variant(self, shop: str, variant_id: int, **changes: Any) -> dict[str, Any]:
        return self._call("PATCH", f"/shops/{shop}/variants/{variant_id}", json=changes)

    def delete_variant(self, shop: str, variant_id: int) -> dict[str, Any]:
        """The merchant deletes a variant with its inventory item and levels (the product too
        if it was the last): ``{deleted, inventory_item_id, product_id, product_deleted}``."""
        return self._call("DELETE", f"/shops/{shop}/variants/{variant_id}")

    def set_inventory(
        self,
        shop: str,
        *,
        location_id: int | None = None,
        inventory_item_id: int | None = None,
        variant_id: int | None = None,
        sku: str | None = None,
        **quantities: int,
    ) -> dict[str, Any]:
        """Set a level (``on_hand``, ``available``, ``reserved``, ...); activates it if needed."""
        body = _clean(
            {
                "location_id": location_id,
                "inventory_item_id": inventory_item_id,
                "variant_id": variant_id,
                "sku": sku,
                **quantities,
            }
        )
        return self._call("PUT", f"/shops/{shop}/inventory", json=body)

    def inventory(
        self,
        shop: str,
        *,
        location_id: int | None = None,
        inventory_item_id: int | None = None,
        variant_id: int | None = None,
        sku: str | None = None,
    ) -> list[dict[str, Any]]:
        params = {
            "location_id": location_id,
            "inventory_item_id": inventory_item_id,
            "variant_id": variant_id,
            "sku": sku,
        }
        return cast(
            list[dict[str, Any]],
            self._call("GET", f"/shops/{shop}/inventory", params=params)["levels"],
        )

    def inventory_level(
        self,
        shop: str,
        *,
        location_id: int,
        sku: str | None = None,
        inventory_item_id: int | None = None,
        variant_id: int | None = None,
    ) -> dict[str, Any]:
        """One item's level at one location: ``on_hand``, ``available``, ``committed``, ...
        (404 if the item is not stocked there)."""
        levels = self.inventory(
            shop,
            location_id=location_id,
            sku=sku,
            inventory_item_id=inventory_item_id,
            variant_id=variant_id,
        )
        if len(levels) != 1:
            what = sku or inventory_item_id or variant_id
            raise SandboxControlError(404, "not_found", f"{what} is not stocked at {location_id}")
        return levels[0]

    def quantities(
        self,
        shop: str,
        *,
        location_id: int,
        sku: str | None = None,
        inventory_item_id: int | None = None,
        variant_id: int | None = None,
    ) -> tuple[int, int, int]:
        """``(on_hand, available, committed)`` of an item at a location."""
        level = self.inventory_level(
            shop,
            location_id=location_id,
            sku=sku,
            inventory_item_id=inventory_item_id,
            variant_id=variant_id,
        )
        return int(level["on_hand"]), int(level["available"]), int(level["committed"])

    def unstock(
        self,
        shop: str,
        *,
        location_id: int,
        inventory_item_id: int | None = None,
        variant_id: int | None = None,
        sku: str | None = None,
    ) -> dict[str, Any]:
        """The item is no longer stocked at the location (``inventoryDeactivate``); refused
        while units are committed there or when it is the item's only location."""
        params = {
            "location_id": location_id,
            "inventory_item_id": inventory_item_id,
            "variant_id": variant_id,
            "sku": sku,
        }
        return self._call("DELETE", f"/shops/{shop}/inventory", params=params)

    # --- orders ----------------------------------------------------------------------------------

    def place_order(
        self, shop: str, line_items: Sequence[Mapping[str, Any]], **options: Any
    ) -> dict[str, Any]:
        """``line_items``: [{variant_id | sku | title, quantity, price?, location_id?}];
        ``options``: email, phone, customer, shipping_address, billing_address, tags, note,
        test, financial_status, source_name, shipping_method | shipping_lines,
        note_attributes, allow_oversell."""
        body = {"line_items": [dict(li) for li in line_items], **options}
        return self._call("POST", f"/shops/{shop}/orders", json=body)

    def orders(self, shop: str) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], self._call("GET", f"/shops/{shop}/orders")["orders"])

    def order(self, shop: str, order_id: int) -> dict[str, Any]:
        return self._call("GET", f"/shops/{shop}/orders/{order_id}")

    def update_order(self, shop: str, order_id: int, **changes: Any) -> dict[str, Any]:
        """``changes``: shipping_address (merged), billing_address, email, phone, tags, note."""
        return self._call("PATCH", f"/shops/{shop}/orders/{order_id}", json=changes)

    def update_shipping_address(self, shop: str, order_id: int, **address: Any) -> dict[str, Any]:
        return self.update_order(shop, order_id, shipping_address=address)

    def cancel_order(
        self, shop: str, order_id: int, *, reason: str = "customer", refund: bool = True
    ) -> dict[str, Any]:
        return self._call(
            "POST",
            f"/shops/{shop}/orders/{order_id}/cancel",
            json={"reason": reason, "refund": refund},
        )

    def edit_order(
        self,
        shop: str,
        order_id: int,
        *,
        quantities: Mapping[int, int] | None = None,
        add: Sequence[Mapping[str, Any]] = (),
        notify_customer: bool = False,
    ) -> dict[str, Any]:
        """Lower line quantities (``{line_item_id: new quantity}``) and add lines."""
        body = {
            "line_items": [{"id": k, "quantity": v} for k, v in (quantities or {}).items()],
            "add": [dict(a) for a in add],
            "notify_customer": notify_customer,
        }
        return self._call("POST", f"/shops/{shop}/orders/{order_id}/edit", json=body)

    def fulfill_order(
        self,
        shop: str,
        order_id: int,
        *,
        line_items: Mapping[int, int] | None = None,
        tracking_company: str | None = None,
        tracking_number: str | None = None,
        tracking_url: str | None = None,
        location_id: int | None = None,
        notify_customer: bool = False,
    ) -> list[dict[str, Any]]:
        """Fulfil as the merchant would in the Shopify admin (all that remains by default)."""
        body = _clean(
            {
                "line_items": [{"id": k, "quantity": v} for k, v in line_items.items()]
                if line_items is not None
                else None,
                "tracking_company": tracking_company,
                "tracking_number": tracking_number,
                "tracking_url": tracking_url,
                "location_id": location_id,
                "notify_customer": notify_customer,
            }
        )
        return cast(
            list[dict[str, Any]],
            self._call("POST", f"/shops/{shop}/orders/{order_id}/fulfill", json=body)[
                "fulfillments"
            ],
        )

    def fulfillments(self, shop: str, order_id: int) -> list[dict[str, Any]]:
        body = self._call("GET", f"/shops/{shop}/orders/{order_id}/fulfillments")
        return cast(list[dict[str, Any]], body["fulfillments"])

    def fulfillment_orders(self, shop: str, order_id: int) -> list[dict[str, Any]]:
        body = self._call("GET", f"/shops/{shop}/orders/{order_id}/fulfillment_orders")
        return cast(list[dict[str, Any]], body["fulfillment_orders"])
