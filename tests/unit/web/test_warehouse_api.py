"""The staff warehouse API over HTTP: happy paths, auth, tenant isolation and bad input."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.unit.web.conftest import People

STAFF = "staff@3pl"


def _post(web: FlaskClient, people: People, path: str, body: Any, who: str = STAFF) -> Any:
    return web.post(path, json=body, headers=people.auth(who))


@pytest.fixture
def floor(web: FlaskClient, people: People) -> dict[str, str]:
    """A warehouse and one Acme product with 10 units in stock."""
    wh = _post(web, people, "/api/warehouses", {"code": "LDN1", "name": "London"}).get_json()
    product = _post(
        web, people, "/api/products", {"client_id": people.acme.id, "sku": "TENT-1", "name": "Tent"}
    ).get_json()
    received = _post(
        web,
        people,
        "/api/inventory/receive",
        {
            "sku": "tent-1",
            "client_id": people.acme.id,
            "warehouse_id": wh["id"],
            "quantity": 10,
            "reason": "PO 17",
        },
    )
    assert received.status_code == 200, received.get_json()
    return {"warehouse": wh["id"], "product": product["id"]}


def _order(web: FlaskClient, people: People, floor: dict[str, str], quantity: int = 3) -> Any:
    response = _post(
        web,
        people,
        "/api/orders",
        {
            "client_id": people.acme.id,
            "warehouse_id": floor["warehouse"],
            "items": [{"sku": "TENT-1", "quantity": quantity}],
            "ship_to": {"name": "Ada", "city": "London", "country_code": "GB"},
        },
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_health_and_readiness_answer_without_auth(web: FlaskClient) -> None:
    assert web.get("/healthz").get_json() == {"status": "ok"}
    assert web.get("/readyz").status_code == 200


def test_staff_run_the_floor_from_receipt_to_shipment(
    web: FlaskClient, people: People, floor: dict[str, str]
) -> None:
    order = _order(web, people, floor)
    assert order["status"] == "allocated"
    product = web.get(f"/api/products/{floor['product']}", headers=people.auth(STAFF)).get_json()
    assert product["stock"] == [
        {
            "product_id": floor["product"],
            "warehouse_id": floor["warehouse"],
            "on_hand": 10,
            "reserved": 3,
            "available": 7,
        }
    ]
    item = order["items"][0]["id"]
    partial = _post(
        web,
        people,
        f"/api/orders/{order['id']}/ship",
        {"carrier": "UPS", "tracking_number": "1Z999", "lines": [{"item_id": item, "quantity": 1}]},
    )
    assert partial.status_code == 201
    assert partial.get_json()["order"]["status"] == "packing"
    rest = _post(
        web,
        people,
        f"/api/orders/{order['id']}/ship",
        {
            "carrier": "UPS",
            "tracking_number": "1Z1000",
            "tracking_url": "https://ups.example/1Z1000",
        },
    )
    shipped = rest.get_json()["order"]
    assert shipped["status"] == "shipped"
    assert [s["tracking_number"] for s in shipped["shipments"]] == ["1Z999", "1Z1000"]
    listed = web.get("/api/orders?status=shipped", headers=people.auth(STAFF)).get_json()
    assert [o["id"] for o in listed["orders"]] == [order["id"]]


def test_requests_without_valid_credentials_are_401(web: FlaskClient) -> None:
    assert web.get("/api/orders").status_code == 401
    for header in ["Bearer slk_nope", "Basic abc", "Bearer ", "slk_x"]:
        response = web.get("/api/orders", headers={"Authorization": header})
        assert response.status_code == 401
        assert response.get_json()["error"] == "unauthorized"


def test_repeated_bad_tokens_from_one_address_are_throttled(web: FlaskClient) -> None:
    codes = [
        web.get("/api/orders", headers={"Authorization": "Bearer slk_bad"}).status_code
        for _ in range(25)
    ]
    assert codes[0] == 401
    assert codes[-1] == 429


def test_client_users_cannot_change_the_warehouse(
    web: FlaskClient, people: People, floor: dict[str, str]
) -> None:
    order = _order(web, people, floor)
    for path, body in [
        ("/api/warehouses", {"code": "X", "name": "X"}),
        ("/api/clients", {"name": "Mine"}),
        ("/api/products", {"client_id": people.acme.id, "sku": "S", "name": "S"}),
        (
            "/api/inventory/receive",
            {"product_id": floor["product"], "warehouse_id": floor["warehouse"], "quantity": 1},
        ),
        (f"/api/orders/{order['id']}/ship", {"carrier": "UPS", "tracking_number": "1"}),
    ]:
        response = _post(web, people, path, body, who="owner@acme")
        assert response.status_code == 403, path
        assert response.get_json()["error"] == "forbidden"


def test_a_client_sees_its_own_orders_and_another_clients_are_404(
    web: FlaskClient, people: People, floor: dict[str, str]
) -> None:
    order = _order(web, people, floor)
    own = web.get(f"/api/orders/{order['id']}", headers=people.auth("member@acme"))
    assert own.status_code == 200
    other = web.get(f"/api/orders/{order['id']}", headers=people.auth("owner@globex"))
    assert other.status_code == 404
    assert other.get_json() == {"error": "not_found", "message": "order not found"}
    assert web.get("/api/orders", headers=people.auth("owner@globex")).get_json() == {"orders": []}
    sneaky = web.get(
        f"/api/orders?client_id={people.acme.id}", headers=people.auth("owner@globex")
    ).get_json()
    assert sneaky == {"orders": []}
    product = web.get(f"/api/products/{floor['product']}", headers=people.auth("owner@globex"))
    assert product.status_code == 404
    assert web.get("/api/products", headers=people.auth("owner@globex")).get_json() == {
        "products": []
    }


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "required"),
        ({"code": 5, "name": "x"}, "expected str"),
        ({"code": "OK", "name": "x", "extra": 1}, "extra"),
        ({"code": "bad code!", "name": "x"}, "warehouse code"),
        ({"code": "A", "name": ""}, "warehouse name"),
    ],
)
def test_bad_warehouse_input_is_422_with_a_readable_reason(
    web: FlaskClient, people: People, body: dict[str, Any], fragment: str
) -> None:
    response = _post(web, people, "/api/warehouses", body)
    assert response.status_code == 422
    payload = response.get_json()
    assert payload["error"] == "invalid_input"
    assert fragment in payload["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"quantity": "5"},
        {"quantity": True},
        {"quantity": 0},
        {"quantity": -3},
        {"quantity": 2.5},
    ],
)
def test_a_receipt_needs_a_positive_whole_quantity(
    web: FlaskClient, people: People, floor: dict[str, str], body: dict[str, Any]
) -> None:
    response = _post(
        web,
        people,
        "/api/inventory/receive",
        {"product_id": floor["product"], "warehouse_id": floor["warehouse"], **body},
    )
    assert response.status_code == 422
    level = web.get(f"/api/products/{floor['product']}", headers=people.auth(STAFF)).get_json()
    assert level["stock"][0]["on_hand"] == 10


def test_unknown_ids_are_404_and_bad_bodies_400_or_415(
    web: FlaskClient, people: People, floor: dict[str, str]
) -> None:
    assert (
        _post(
            web,
            people,
            "/api/inventory/receive",
            {"product_id": "nope", "warehouse_id": floor["warehouse"], "quantity": 1},
        ).status_code
        == 404
    )
    assert web.get("/api/orders/nope", headers=people.auth(STAFF)).status_code == 404
    assert (
        _post(
            web, people, "/api/orders/nope/ship", {"carrier": "UPS", "tracking_number": "1"}
        ).status_code
        == 404
    )
    not_json = web.post(
        "/api/warehouses",
        data="code=A",
        headers={**people.auth(STAFF), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (not_json.status_code, not_json.get_json()["error"]) == (415, "unsupported_media_type")
    broken = web.post(
        "/api/warehouses",
        data="{not json",
        headers={**people.auth(STAFF), "Content-Type": "application/json"},
    )
    assert (broken.status_code, broken.get_json()["error"]) == (400, "invalid_json")
    array = _post(web, people, "/api/warehouses", [1, 2])
    assert array.status_code == 400
    assert web.get("/api/orders?status=lost", headers=people.auth(STAFF)).status_code == 400
    assert web.get("/api/orders?page=0", headers=people.auth(STAFF)).status_code == 400
    assert web.get("/api/nothing-here", headers=people.auth(STAFF)).get_json()["error"] == (
        "not_found"
    )


def test_an_oversized_body_is_413_and_nothing_is_written(web: FlaskClient, people: People) -> None:
    big = '{"code": "BIG", "name": "' + "x" * (6 * 1024 * 1024) + '"}'
    response = web.post(
        "/api/warehouses",
        data=big,
        headers={**people.auth(STAFF), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.get_json()["error"] == "payload_too_large"
    listed = web.get("/api/warehouses", headers=people.auth(STAFF)).get_json()
    assert all(w["code"] != "BIG" for w in listed["warehouses"])


def test_conflicts_and_illegal_moves_are_409(
    web: FlaskClient, people: People, floor: dict[str, str]
) -> None:
    dup = _post(
        web,
        people,
        "/api/products",
        {"client_id": people.acme.id, "sku": "tent-1", "name": "Again"},
    )
    assert (dup.status_code, dup.get_json()["error"]) == (409, "conflict")
    order = _order(web, people, floor)
    _post(web, people, f"/api/orders/{order['id']}/cancel", {"reason": "test"})
    again = _post(
        web, people, f"/api/orders/{order['id']}/ship", {"carrier": "UPS", "tracking_number": "1"}
    )
    assert (again.status_code, again.get_json()["error"]) == (409, "not_shippable")
    release = _post(web, people, f"/api/orders/{order['id']}/release-hold", {})
    assert (release.status_code, release.get_json()["error"]) == (409, "not_on_hold")
    back = _post(web, people, f"/api/orders/{order['id']}/status", {"status": "picking"})
    assert (back.status_code, back.get_json()["error"]) == (409, "illegal_transition")


def test_error_answers_never_carry_a_stack_trace(web: FlaskClient, people: People) -> None:
    response = _post(web, people, "/api/orders", {"client_id": 1, "warehouse_id": [], "items": "x"})
    assert response.status_code == 422
    assert "Traceback" not in response.get_data(as_text=True)
