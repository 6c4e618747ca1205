"""The control API under ``/_sandbox/``: what tests, the demo and benchmarks do to the store.

Everything a merchant, a customer or Shopify itself would do (create shops, stock, orders;
cancel, edit, fulfil; uninstall; compliance requests) plus the levers of a simulation (faults,
the clock, the call log, the webhook queue). JSON in, JSON out; errors are
``{"error": code, "message": text}``. The endpoint list is in this package's README.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from adapters.shopify.sandbox.commerce import COMPLIANCE_TOPICS
from adapters.shopify.sandbox.ids import SandboxError, gql_time
from adapters.shopify.sandbox.payloads import (
    fulfillment_json,
    fulfillment_order_json,
    inventory_level_detail_json,
    location_json,
    order_json,
    product_json,
    subscription_json,
    variant_json,
)
from adapters.shopify.sandbox.runtime import SandboxRuntime, current_runtime
from adapters.shopify.sandbox.state import ApiCall, BulkOperation, Faults, InventoryItem, Shop

__all__ = ["control_blueprint"]

_FAULT_FIELDS: dict[str, type] = {
    "throttle_status": int,
    "error_rate": float,
    "error_status": int,
    "error_mode": str,
    "latency": float,
    "webhook_drop_rate": float,
    "webhook_duplicate_rate": float,
    "webhook_reorder_window": int,
    "webhook_delay": float,
}


def _body() -> dict[str, Any]:
    if not request.get_data():
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise SandboxError("the body must be a JSON object", code="invalid_json", status=400)
    return data


def _int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise SandboxError(f"{name} must be an integer", code="invalid", status=400)
    try:
        return int(value)
    except ValueError:
        raise SandboxError(f"{name} must be an integer", code="invalid", status=400) from None


def _opt_int(value: object, name: str) -> int | None:
    return None if value is None else _int(value, name)


def _faults_json(faults: Faults) -> dict[str, Any]:
    return {name: getattr(faults, name) for name in _FAULT_FIELDS}


def _call_json(call: ApiCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "at": gql_time(call.at),
        "shop": call.shop,
        "api_version": call.api_version,
        "operation_type": call.operation_type,
        "operation_name": call.operation_name,
        "root_fields": list(call.root_fields),
        "requested_cost": call.requested_cost,
        "actual_cost": call.actual_cost,
        "throttled": call.throttled,
        "status": call.status,
        "idempotency_keys": list(call.idempotency_keys),
        "error_codes": list(call.error_codes),
        "user_error_codes": list(call.user_error_codes),
        "fault": call.fault,
        "duration_ms": call.duration_ms,
    }


def _shop_json(runtime: SandboxRuntime, shop: Shop) -> dict[str, Any]:
    bucket = runtime.commerce.bucket(shop)
    installation = shop.installation
    return {
        "shop": shop.domain,
        "id": shop.id,
        "name": shop.name,
        "email": shop.email,
        "currency": shop.currency,
        "plan_name": shop.plan_name,
        "primary_location_id": shop.primary_location_id,
        "installed": bool(installation and installation.installed),
        "scopes": list(installation.scopes) if installation else [],
        "created_at": gql_time(shop.created_at),
        "bucket": {
            "maximum_available": bucket.maximum,
            "currently_available": bucket.available,
            "restore_rate": bucket.restore_rate,
        },
    }


def _bulk_json(operation: BulkOperation) -> dict[str, Any]:
    return {
        "id": operation.id,
        "admin_graphql_api_id": f"gid://shopify/BulkOperation/{operation.id}",
        "status": operation.status,
        "query": operation.query,
        "created_at": gql_time(operation.created_at),
        "completed_at": gql_time(operation.completed_at),
        "object_count": operation.object_count if operation.status == "COMPLETED" else 0,
        "error_code": operation.error_code,
        "errors": list(operation.errors),
    }


def _seconds(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise SandboxError(f"{name} must be a non-negative number", code="invalid", status=400)
    return float(value)


def _item(shop: Shop, data: dict[str, Any]) -> InventoryItem:
    if data.get("inventory_item_id") is not None:
        item = shop.inventory_items.get(_int(data["inventory_item_id"], "inventory_item_id"))
        if item is None:
            raise SandboxError("inventory item not found", code="not_found", status=404)
        return item
    if data.get("variant_id") is not None:
        variant = shop.variant(_int(data["variant_id"], "variant_id"))
    elif data.get("sku") is not None:
        variant = shop.variant_by_sku(str(data["sku"]))
    else:
        raise SandboxError(
            "inventory_item_id, variant_id or sku is required", code="invalid", status=400
        )
    return shop.inventory_items[variant.inventory_item_id]


def control_blueprint() -> Blueprint:
    bp = Blueprint("sandbox_control", __name__, url_prefix="/_sandbox")

    @bp.errorhandler(SandboxError)
    def refused(error: SandboxError) -> tuple[Response, int]:
        return jsonify({"error": error.code or "invalid", "message": error.message}), error.status

    # --- the sandbox itself ----------------------------------------------------------------------

    @bp.get("/health")
    def health() -> Response:
        return jsonify({"ok": True})

    @bp.post("/reset")
    def reset() -> Response:
        current_runtime().reset()
        return jsonify({"ok": True})

    @bp.get("/app")
    def app_settings() -> Response:
        runtime = current_runtime()
        state, config = runtime.state, runtime.config
        with state.lock:
            return jsonify(
                {
                    "client_id": config.client_id,
                    "app_name": config.app_name,
                    "api_version": config.api_version,
                    "auto_approve": config.auto_approve
                    if state.auto_approve is None
                    else state.auto_approve,
                    "compliance_webhook_url": state.compliance_webhook_url
                    or config.compliance_webhook_url,
                    "access_token_lifetime": config.access_token_lifetime,
                    "refresh_token_lifetime": config.refresh_token_lifetime,
                    "bucket_size": config.bucket_size,
                    "restore_rate": config.restore_rate,
                    "webhook_retry_schedule": list(config.webhook_retry_schedule),
                    "bulk_operation_seconds": runtime.graphql.bulk.seconds,
                }
            )

    @bp.patch("/app")
    def update_app() -> Response:
        runtime = current_runtime()
        data = _body()
        with runtime.state.lock:
            if "auto_approve" in data:
                value = data["auto_approve"]
                runtime.state.auto_approve = None if value is None else bool(value)
            if "compliance_webhook_url" in data:
                url = data["compliance_webhook_url"]
                runtime.state.compliance_webhook_url = str(url) if url else None
            if "bulk_operation_seconds" in data:
                value = data["bulk_operation_seconds"]
                runtime.state.bulk_operation_seconds = (
                    None if value is None else _seconds(value, "bulk_operation_seconds")
                )
        return app_settings()

    @bp.get("/clock")
    def clock() -> Response:
        runtime = current_runtime()
        return jsonify(
            {"now": runtime.state.clock.now().isoformat(), "frozen": runtime.state.clock.frozen}
        )

    @bp.post("/clock/advance")
    def advance_clock() -> Response:
        runtime = current_runtime()
        seconds = _body().get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise SandboxError("seconds must be a non-negative number", code="invalid", status=400)
        now = runtime.state.clock.advance(float(seconds))
        return jsonify({"now": now.isoformat(), "frozen": runtime.state.clock.frozen})

    @bp.get("/faults")
    def faults() -> Response:
        runtime = current_runtime()
        with runtime.state.lock:
            return jsonify(_faults_json(runtime.state.faults))

    @bp.route("/faults", methods=["PATCH", "PUT"])
    def set_faults() -> Response:
        runtime = current_runtime()
        data = _body()
        seed = data.pop("random_seed", None)
        unknown = set(data) - set(_FAULT_FIELDS)
        if unknown:
            raise SandboxError(
                f"unknown faults: {', '.join(sorted(unknown))}", code="invalid", status=400
            )
        values: dict[str, Any] = {}
        for name, value in data.items():
            kind = _FAULT_FIELDS[name]
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise SandboxError(f"{name} has a bad value", code="invalid", status=400)
            try:
                values[name] = kind(value)
            except ValueError:
                raise SandboxError(f"{name} has a bad value", code="invalid", status=400) from None
        for name in ("error_rate", "webhook_drop_rate", "webhook_duplicate_rate"):
            if name in values and not 0.0 <= values[name] <= 1.0:
                raise SandboxError(f"{name} must be between 0 and 1", code="invalid", status=400)
        if values.get("throttle_status", 200) not in {200, 429}:
            raise SandboxError("throttle_status must be 200 or 429", code="invalid", status=400)
        if values.get("error_mode", "before") not in {"before", "after", "either"}:
            raise SandboxError(
                "error_mode must be before, after or either", code="invalid", status=400
            )
        if not 500 <= values.get("error_status", 503) <= 599:
            raise SandboxError("error_status must be a 5xx status", code="invalid", status=400)
        for name in ("latency", "webhook_delay", "webhook_reorder_window"):
            if values.get(name, 0) < 0:
                raise SandboxError(f"{name} must not be negative", code="invalid", status=400)
        with runtime.state.lock:
            for name, value in values.items():
                setattr(runtime.state.faults, name, value)
            if seed is not None:
                runtime.reseed(_int(seed, "random_seed"))
            return jsonify(_faults_json(runtime.state.faults))

    @bp.delete("/faults")
    def clear_faults() -> Response:
        runtime = current_runtime()
        with runtime.state.lock:
            runtime.state.faults = Faults()
            return jsonify(_faults_json(runtime.state.faults))

    @bp.get("/calls")
    def calls() -> Response:
        runtime = current_runtime()
        shop = request.args.get("shop")
        operation = request.args.get("operation_name")
        root_field = request.args.get("root_field")
        with runtime.state.lock:
            selected = [
                c
                for c in runtime.state.calls
                if (shop is None or c.shop == shop)
                and (operation is None or c.operation_name == operation)
                and (root_field is None or root_field in c.root_fields)
            ]
        limit = request.args.get("limit")
        if limit is not None:
            selected = selected[-_int(limit, "limit") :]
        return jsonify({"calls": [_call_json(c) for c in selected]})

    @bp.delete("/calls")
    def clear_calls() -> Response:
        runtime = current_runtime()
        with runtime.state.lock:
            runtime.state.calls.clear()
        return jsonify({"ok": True})

    @bp.post("/webhooks/flush")
    def flush() -> Response:
        runtime = current_runtime()
        timeout = _body().get("timeout", 10)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
            raise SandboxError("timeout must be a non-negative number", code="invalid", status=400)
        drained = runtime.dispatcher.flush(float(timeout))
        return jsonify({"drained": drained, "pending": runtime.dispatcher.pending()})

    @bp.get("/webhooks/deliveries")
    def deliveries() -> Response:
        runtime = current_runtime()
        found = runtime.dispatcher.deliveries(
            shop=request.args.get("shop"), topic=request.args.get("topic")
        )
        return jsonify({"deliveries": found})

    @bp.get("/bulk/<shop>/<int:operation_id>.jsonl")
    def bulk_file(shop: str, operation_id: int) -> Response:
        runtime = current_runtime()
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            operation = found.bulk_operations.get(operation_id)
            if operation is None:
                raise SandboxError("bulk operation not found", code="not_found", status=404)
            runtime.graphql.bulk.refresh(found, operation)
            if operation.status != "COMPLETED":
                raise SandboxError(
                    f"bulk operation {operation_id} is {operation.status.lower()}: no file",
                    code="not_found",
                    status=404,
                )
            return Response(operation.jsonl, mimetype="application/jsonl")

    # --- shops -----------------------------------------------------------------------------------

    @bp.post("/shops")
    def create_shop() -> tuple[Response, int]:
        runtime = current_runtime()
        data = _body()
        domain = data.get("shop")
        if not isinstance(domain, str):
            raise SandboxError("shop (NAME.myshopify.com) is required", code="invalid", status=400)
        options: dict[str, Any] = {}
        for key in (
            "name",
            "email",
            "currency",
            "plan_name",
            "plan_display_name",
            "location_name",
            "iana_timezone",
            "country_code",
        ):
            if data.get(key) is not None:
                options[key] = str(data[key])
        if data.get("utc_offset_minutes") is not None:
            options["utc_offset_minutes"] = _int(data["utc_offset_minutes"], "utc_offset_minutes")
        if data.get("bucket_size") is not None:
            options["bucket_size"] = _int(data["bucket_size"], "bucket_size")
        if data.get("restore_rate") is not None:
            options["restore_rate"] = float(data["restore_rate"])
        with runtime.state.lock:
            shop = runtime.commerce.create_shop(domain, **options)
            return jsonify(_shop_json(runtime, shop)), 201

    @bp.get("/shops")
    def list_shops() -> Response:
        runtime = current_runtime()
        with runtime.state.lock:
            return jsonify(
                {"shops": [_shop_json(runtime, s) for s in runtime.state.shops.values()]}
            )

    @bp.get("/shops/<shop>")
    def get_shop(shop: str) -> Response:
        runtime = current_runtime()
        with runtime.state.lock:
            return jsonify(_shop_json(runtime, runtime.state.shop(shop)))

    @bp.patch("/shops/<shop>")
    def update_shop(shop: str) -> Response:
        runtime = current_runtime()
        data = _body()
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            if "bucket_size" in data:
                found.bucket_size = _opt_int(data["bucket_size"], "bucket_size")
            if "restore_rate" in data:
                rate = data["restore_rate"]
                found.restore_rate = None if rate is None else float(rate)
            for key in ("name", "email"):
                if data.get(key):
                    setattr(found, key, str(data[key]))
            found.updated_at = runtime.state.now()
            return jsonify(_shop_json(runtime, found))

    @bp.post("/shops/<shop>/throttle")
    def throttle(shop: str) -> Response:
        runtime = current_runtime()
        available = _body().get("available", 0)
        if isinstance(available, bool) or not isinstance(available, int | float) or available < 0:
            raise SandboxError("available must be a non-negative number", status=400)
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            bucket = runtime.commerce.bucket(found)
            bucket.available = min(float(available), float(bucket.maximum))
            return jsonify(_shop_json(runtime, found))

    @bp.post("/shops/<shop>/tokens")
    def issue_token(shop: str) -> tuple[Response, int]:
        runtime = current_runtime()
        data = _body()
        scopes = data.get("scopes", [])
        if isinstance(scopes, str):
            scopes = [s.strip() for s in scopes.split(",") if s.strip()]
        if not isinstance(scopes, list):
            raise SandboxError("scopes must be a list", code="invalid", status=400)
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            runtime.tokens.approve(found, tuple(str(s) for s in scopes), "http://sandbox.invalid/")
            body = runtime.tokens.issue(
                found, tuple(str(s) for s in scopes), expiring=bool(data.get("expiring", True))
            )
            return jsonify(body), 201

    @bp.delete("/shops/<shop>/tokens")
    def revoke_tokens(shop: str) -> Response:
        runtime = current_runtime()
        with runtime.state.lock:
            revoked = runtime.commerce.revoke_tokens(runtime.state.shop(shop))
            return jsonify({"revoked": revoked})

    @bp.post("/shops/<shop>/uninstall")
    def uninstall(shop: str) -> Response:
        runtime = current_runtime()
        with runtime.state.lock:
            event = runtime.commerce.uninstall(runtime.state.shop(shop))
            return jsonify({"uninstalled": True, "event_id": event.event_id if event else None})

    @bp.post("/shops/<shop>/compliance")
    def compliance(shop: str) -> Response:
        runtime = current_runtime()
        data = _body()
        topic = data.get("topic")
        if topic not in COMPLIANCE_TOPICS:
            raise SandboxError(
                f"topic must be one of {', '.join(COMPLIANCE_TOPICS)}", code="invalid", status=400
            )
        order_ids = data.get("order_ids")
        if order_ids is not None and not isinstance(order_ids, list):
            raise SandboxError("order_ids must be a list", code="invalid", status=400)
        with runtime.state.lock:
            event = runtime.commerce.compliance(
                runtime.state.shop(shop),
                str(topic),
                customer_id=_opt_int(data.get("customer_id"), "customer_id"),
                email=str(data["email"]) if data.get("email") else None,
                order_ids=[_int(o, "order_ids[]") for o in order_ids] if order_ids else None,
            )
            return jsonify({"event_id": event.event_id, "payload": event.payload})

    @bp.get("/shops/<shop>/bulk_operations")
    def bulk_operations(shop: str) -> Response:
        runtime = current_runtime()
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            operations = [
                runtime.graphql.bulk.refresh(found, op) for op in found.bulk_operations.values()
            ]
            return jsonify({"bulk_operations": [_bulk_json(op) for op in operations]})

    @bp.get("/shops/<shop>/webhooks")
    def subscriptions(shop: str) -> Response:
        runtime = current_runtime()
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            return jsonify(
                {"webhooks": [subscription_json(found, s) for s in found.subscriptions.values()]}
            )

    # --- locations, catalog, stock ---------------------------------------------------------------

    @bp.get("/shops/<shop>/locations")
    def locations(shop: str) -> Response:
        runtime = current_runtime()
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            return jsonify(
                {"locations": [location_json(found, loc) for loc in found.locations_by_priority()]}
            )

    @bp.post("/shops/<shop>/locations")
    def create_location(shop: str) -> tuple[Response, int]:
        runtime = current_runtime()
        data = _body()
        name = data.get("name")
        if not isinstance(name, str):
            raise SandboxError("name is required", code="invalid", status=400)
        text_keys = ("address1", "address2", "city", "province", "province_code", "zip", "phone")
        options: dict[str, Any] = {k: str(data[k]) for k in text_keys if data.get(k) is not None}
        if data.get("country_code"):
            options["country_code"] = str(data["country_code"])
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            location = runtime.commerce.add_location(
                found,
                name,
                active=bool(data.get("active", True)),
                fulfills_online_orders=bool(data.get("fulfills_online_orders", True)),
                **options,
            )
            return jsonify(location_json(found, location)), 201

    @bp.patch("/shops/<shop>/locations/<int:location_id>")
    def update_location(shop: str, location_id: int) -> Response:
        runtime = current_runtime()
        data = _body()
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            location = found.location(location_id)
            if "active" in data:
                if not data["active"] and location.id == found.primary_location_id:
                    raise SandboxError("the primary location cannot be deactivated", status=409)
                location.active = bool(data["active"])
            if "fulfills_online_orders" in data:
                location.fulfills_online_orders = bool(data["fulfills_online_orders"])
            if data.get("name"):
                location.name = str(data["name"])
            location.updated_at = runtime.state.now()
            return jsonify(location_json(found, location))

    @bp.delete("/shops/<shop>/locations/<int:location_id>")
    def delete_location(shop: str, location_id: int) -> Response:
        runtime = current_runtime()
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            runtime.commerce.delete_location(found, found.location(location_id))
            return jsonify({"deleted": location_id})

    @bp.get("/shops/<shop>/products")
    def products(shop: str) -> Response:
        runtime = current_runtime()
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            return jsonify({"products": [product_json(found, p) for p in found.products.values()]})

    @bp.post("/shops/<shop>/products")
    def create_products(shop: str) -> tuple[Response, int]:
        runtime = current_runtime()
        data = _body()
        batch = data.get("products")
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            if batch is None:
                product = runtime.commerce.add_product(found, data)
                return jsonify(product_json(found, product)), 201
            if not isinstance(batch, list) or not all(isinstance(p, dict) for p in batch):
                raise SandboxError("products must be a list of objects", code="invalid", status=400)
            created = [runtime.commerce.add_product(found, spec) for spec in batch]
            return jsonify({"products": [product_json(found, p) for p in created]}), 201

    @bp.patch("/shops/<shop>/variants/<int:variant_id>")
    def update_variant(shop: str, variant_id: int) -> Response:
        runtime = current_runtime()
        data = _body()
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            variant = runtime.commerce.update_variant(found, found.variant(variant_id), data)
            return jsonify(variant_json(found, variant))

    @bp.delete("/shops/<shop>/variants/<int:variant_id>")
    def delete_variant(shop: str, variant_id: int) -> Response:
        runtime = current_runtime()
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            variant = found.variant(variant_id)
            product = runtime.commerce.delete_variant(found, variant)
            return jsonify(
                {
                    "deleted": variant.id,
                    "inventory_item_id": variant.inventory_item_id,
                    "product_id": variant.product_id,
                    "product_deleted": product is None,
                }
            )

    @bp.get("/shops/<shop>/inventory")
    def inventory(shop: str) -> Response:
        runtime = current_runtime()
        args = request.args
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            wanted_item = None
            if any(args.get(k) for k in ("inventory_item_id", "variant_id", "sku")):
                wanted_item = _item(found, dict(args)).id
            location_id = _opt_int(args.get("location_id"), "location_id")
            levels = [
                inventory_level_detail_json(found, level)
                for (item_id, loc), level in found.levels.items()
                if level.active
                and (wanted_item is None or item_id == wanted_item)
                and (location_id is None or loc == location_id)
            ]
            return jsonify({"levels": levels})

    @bp.put("/shops/<shop>/inventory")
    def set_inventory(shop: str) -> Response:
        runtime = current_runtime()
        data = _body()
        names = (
            "available",
            "on_hand",
            "reserved",
            "incoming",
            "damaged",
            "safety_stock",
            "quality_control",
        )
        quantities = {n: _int(data[n], n) for n in names if data.get(n) is not None}
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            item = _item(found, data)
            location_id = (
                _opt_int(data.get("location_id"), "location_id") or found.primary_location_id
            )
            found.location(location_id)
            level = runtime.commerce.set_level(found, item.id, location_id, quantities)
            return jsonify(inventory_level_detail_json(found, level))

    @bp.delete("/shops/<shop>/inventory")
    def unstock(shop: str) -> Response:
        runtime = current_runtime()
        args = dict(request.args)
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            item = _item(found, args)
            location_id = (
                _opt_int(args.get("location_id"), "location_id") or found.primary_location_id
            )
            found.location(location_id)
            level = runtime.commerce.unstock(found, item.id, location_id)
            return jsonify(inventory_level_detail_json(found, level))

    # --- orders ----------------------------------------------------------------------------------

    @bp.get("/shops/<shop>/orders")
    def orders(shop: str) -> Response:
        runtime = current_runtime()
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            return jsonify({"orders": [order_json(found, o) for o in found.orders.values()]})

    @bp.post("/shops/<shop>/orders")
    def place_order(shop: str) -> tuple[Response, int]:
        runtime = current_runtime()
        data = _body()
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            order = runtime.commerce.place_order(found, data)
            return jsonify(order_json(found, order)), 201

    @bp.get("/shops/<shop>/orders/<int:order_id>")
    def get_order(shop: str, order_id: int) -> Response:
        runtime = current_runtime()
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            return jsonify(order_json(found, found.order(order_id)))

    @bp.patch("/shops/<shop>/orders/<int:order_id>")
    def update_order(shop: str, order_id: int) -> Response:
        runtime = current_runtime()
        data = _body()
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            order = runtime.commerce.update_order(found, found.order(order_id), data)
            return jsonify(order_json(found, order))

    @bp.post("/shops/<shop>/orders/<int:order_id>/cancel")
    def cancel_order(shop: str, order_id: int) -> Response:
        runtime = current_runtime()
        data = _body()
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            order = runtime.commerce.cancel_order(
                found,
                found.order(order_id),
                reason=str(data.get("reason") or "customer"),
                refund=bool(data.get("refund", True)),
            )
            return jsonify(order_json(found, order))

    @bp.post("/shops/<shop>/orders/<int:order_id>/edit")
    def edit_order(shop: str, order_id: int) -> Response:
        runtime = current_runtime()
        data = _body()
        quantities = data.get("line_items") or []
        additions = data.get("add") or []
        for name, value in (("line_items", quantities), ("add", additions)):
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise SandboxError(f"{name} must be a list of objects", code="invalid", status=400)
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            order = runtime.commerce.edit_order(
                found,
                found.order(order_id),
                quantities=quantities,
                additions=additions,
                notify_customer=bool(data.get("notify_customer", False)),
                staff_note=str(data.get("staff_note") or ""),
            )
            return jsonify(order_json(found, order))

    @bp.post("/shops/<shop>/orders/<int:order_id>/fulfill")
    def fulfill_order(shop: str, order_id: int) -> tuple[Response, int]:
        runtime = current_runtime()
        data = _body()
        raw_lines = data.get("line_items")
        lines = None
        if raw_lines is not None:
            if not isinstance(raw_lines, list) or not all(isinstance(v, dict) for v in raw_lines):
                raise SandboxError(
                    "line_items must be a list of objects", code="invalid", status=400
                )
            lines = [
                (
                    _int(v.get("id"), "line_items[].id"),
                    _int(v.get("quantity"), "line_items[].quantity"),
                )
                for v in raw_lines
            ]
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            order = found.order(order_id)
            created = runtime.commerce.fulfill_externally(
                found,
                order,
                lines=lines,
                tracking_company=_text(data.get("tracking_company")),
                tracking_number=_text(data.get("tracking_number")),
                tracking_url_value=_text(data.get("tracking_url")),
                location_id=_opt_int(data.get("location_id"), "location_id"),
                notify_customer=bool(data.get("notify_customer", False)),
            )
            return jsonify(
                {"fulfillments": [fulfillment_json(found, order, f) for f in created]}
            ), 201

    @bp.get("/shops/<shop>/orders/<int:order_id>/fulfillments")
    def fulfillments(shop: str, order_id: int) -> Response:
        runtime = current_runtime()
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            order = found.order(order_id)
            return jsonify(
                {
                    "fulfillments": [
                        fulfillment_json(found, order, found.fulfillments[f])
                        for f in order.fulfillment_ids
                    ]
                }
            )

    @bp.get("/shops/<shop>/orders/<int:order_id>/fulfillment_orders")
    def fulfillment_orders(shop: str, order_id: int) -> Response:
        runtime = current_runtime()
        with runtime.state.lock:
            found = runtime.state.shop(shop)
            order = found.order(order_id)
            return jsonify(
                {
                    "fulfillment_orders": [
                        fulfillment_order_json(found, found.fulfillment_orders[f])
                        for f in order.fulfillment_order_ids
                    ]
                }
            )

    return bp


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)
