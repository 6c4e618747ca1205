"""Bulk queries: checked at once, run in the background, one at a time per shop, as JSONL."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from adapters.shopify.sandbox import SandboxConfig, SandboxControlError, SandboxServer

from .conftest import SHOP, GraphQL, Receiver, make_config, stock_product

RUN = """
mutation($query: String!) {
  bulkOperationRunQuery(query: $query, groupObjects: false) {
    bulkOperation { id status }
    userErrors { code field message }
  }
}
"""
STATUS = "query($id: ID!) { bulkOperation(id: $id) { id status errorCode objectCount url } }"
CURRENT = "{ currentBulkOperation { id status objectCount rootObjectCount url } }"
VARIANTS = "{ productVariants { edges { node { id sku inventoryItem { id } } } } }"
INVENTORY = """
{
  inventoryItems {
    edges {
      node {
        id
        tracked
        inventoryLevels {
          edges {
            node {
              id
              location { id }
              quantities(names: ["on_hand", "available", "committed"]) { name quantity }
            }
          }
        }
      }
    }
  }
}
"""
SECONDS = 0.6


@pytest.fixture
def config() -> SandboxConfig:
    return make_config(bulk_operation_seconds=SECONDS)


def _run(gql: GraphQL, query: str) -> dict[str, Any]:
    result: dict[str, Any] = gql.data(RUN, {"query": query})["bulkOperationRunQuery"]
    return result


def _started(gql: GraphQL, query: str) -> str:
    result = _run(gql, query)
    assert result["userErrors"] == []
    assert result["bulkOperation"]["status"] == "CREATED"
    return str(result["bulkOperation"]["id"])


def _wait(gql: GraphQL, operation_id: str, *, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Poll until the operation is done; every status seen on the way, in order."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        operation = gql.data(STATUS, {"id": operation_id})["bulkOperation"]
        if not seen or seen[-1]["status"] != operation["status"]:
            seen.append(operation)
        if operation["status"] not in {"CREATED", "RUNNING"}:
            return seen
        time.sleep(0.02)
    raise AssertionError(f"bulk operation {operation_id} still running: {seen}")


def _lines(http: httpx.Client, url: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in http.get(url).text.splitlines()]


def test_a_bulk_query_is_created_then_runs_then_completes_with_a_jsonl_file(
    sandbox: SandboxServer, gql: GraphQL, http: httpx.Client
) -> None:
    for i in range(3):
        stock_product(sandbox, f"BULK-{i}", i)
    started_at = time.monotonic()
    operation_id = _started(gql, VARIANTS)
    current = gql.data(CURRENT)["currentBulkOperation"]
    assert (current["id"], current["status"], current["url"]) == (operation_id, "CREATED", None)
    seen = _wait(gql, operation_id)
    assert [s["status"] for s in seen] == ["CREATED", "RUNNING", "COMPLETED"]
    assert time.monotonic() - started_at >= SECONDS
    done = seen[-1]
    assert done["objectCount"] == "3"
    lines = _lines(http, done["url"])
    assert sorted(line["sku"] for line in lines) == ["BULK-0", "BULK-1", "BULK-2"]
    assert all(set(line) == {"id", "sku", "inventoryItem"} for line in lines)
    assert gql.data(CURRENT)["currentBulkOperation"]["status"] == "COMPLETED"


def test_a_second_bulk_query_is_refused_while_one_runs_and_accepted_after(
    sandbox: SandboxServer, gql: GraphQL
) -> None:
    first = _started(gql, VARIANTS)
    refused = _run(gql, VARIANTS)
    assert refused["bulkOperation"] is None
    assert refused["userErrors"] == [
        {
            "code": "OPERATION_IN_PROGRESS",
            "field": None,
            "message": "A bulk query operation for this app and shop is already in progress: "
            f"{first}.",
        }
    ]
    _wait(gql, first)
    second = _started(gql, VARIANTS)
    assert second != first
    assert gql.data(CURRENT)["currentBulkOperation"]["id"] == second


def test_bulk_queries_of_different_shops_run_side_by_side(
    sandbox: SandboxServer, gql: GraphQL
) -> None:
    other = "other.myshopify.com"
    sandbox.control.create_shop(other)
    token = sandbox.control.issue_token(other, ["read_products"])["access_token"]
    _started(gql, VARIANTS)
    response = gql.post(RUN, {"query": VARIANTS}, token=token, shop=other)
    assert response.json()["data"]["bulkOperationRunQuery"]["userErrors"] == []


def test_the_file_appears_only_when_the_operation_completes(
    sandbox: SandboxServer, gql: GraphQL, http: httpx.Client
) -> None:
    stock_product(sandbox, "LATE", 1)
    operation_id = _started(gql, VARIANTS)
    number = operation_id.rsplit("/", 1)[1]
    early = http.get(f"{sandbox.url}/_sandbox/bulk/{SHOP}/{number}.jsonl")
    assert early.status_code == 404
    _wait(gql, operation_id)
    assert http.get(f"{sandbox.url}/_sandbox/bulk/{SHOP}/{number}.jsonl").status_code == 200


def test_completion_sends_bulk_operations_finish(
    sandbox: SandboxServer, gql: GraphQL, receiver: Receiver
) -> None:
    subscribed = gql.data(
        """mutation($uri: String!) { webhookSubscriptionCreate(topic: BULK_OPERATIONS_FINISH,
             webhookSubscription: {uri: $uri, format: JSON}) { userErrors { message } } }""",
        {"uri": receiver.url},
    )
    assert subscribed["webhookSubscriptionCreate"]["userErrors"] == []
    operation_id = _started(gql, VARIANTS)
    # the background thread finishes it: nobody polls
    deadline = time.monotonic() + 5
    while not receiver.of_topic("bulk_operations/finish") and time.monotonic() < deadline:
        time.sleep(0.02)
    (delivery,) = receiver.of_topic("bulk_operations/finish")
    payload = json.loads(delivery["body"])
    assert payload["admin_graphql_api_id"] == operation_id
    assert (payload["status"], payload["type"], payload["error_code"]) == (
        "completed",
        "query",
        None,
    )
    with sandbox.state.lock:  # finished without being read
        (operation,) = sandbox.state.shops[SHOP].bulk_operations.values()
        assert operation.status == "COMPLETED"


def test_inventory_items_export_with_their_levels_as_child_lines(
    sandbox: SandboxServer, gql: GraphQL, http: httpx.Client, shop: dict[str, Any]
) -> None:
    primary = shop["primary_location_id"]
    annex = sandbox.control.create_location(SHOP, "Annex")["id"]
    tee = stock_product(sandbox, "TEE", {primary: 10, annex: 4})
    mug = stock_product(sandbox, "MUG", 3, tracked=False)
    sandbox.control.place_order(SHOP, [{"sku": "TEE", "quantity": 2, "location_id": primary}])
    operation_id = _started(gql, INVENTORY)
    done = _wait(gql, operation_id)[-1]
    assert done["status"] == "COMPLETED"
    lines = _lines(http, done["url"])
    items = {line["id"]: line for line in lines if "__parentId" not in line}
    assert items == {
        f"gid://shopify/InventoryItem/{tee['inventory_item_id']}": {
            "id": f"gid://shopify/InventoryItem/{tee['inventory_item_id']}",
            "tracked": True,
        },
        f"gid://shopify/InventoryItem/{mug['inventory_item_id']}": {
            "id": f"gid://shopify/InventoryItem/{mug['inventory_item_id']}",
            "tracked": False,
        },
    }
    tee_levels = {
        line["location"]["id"]: {q["name"]: q["quantity"] for q in line["quantities"]}
        for line in lines
        if line.get("__parentId") == f"gid://shopify/InventoryItem/{tee['inventory_item_id']}"
    }
    assert tee_levels == {
        f"gid://shopify/Location/{primary}": {"on_hand": 10, "available": 8, "committed": 2},
        f"gid://shopify/Location/{annex}": {"on_hand": 4, "available": 4, "committed": 0},
    }
    assert done["objectCount"] == str(len(lines)) == "5"  # 2 items, 3 levels
    assert gql.data(CURRENT)["currentBulkOperation"]["rootObjectCount"] == "2"


def test_the_data_is_read_when_the_operation_starts_running(
    sandbox: SandboxServer, gql: GraphQL, http: httpx.Client
) -> None:
    stock_product(sandbox, "EARLY", 1)
    operation_id = _started(gql, VARIANTS)
    seen = _wait(gql, operation_id)
    stock_product(sandbox, "AFTER", 1)  # created after the run: not in the file
    assert [line["sku"] for line in _lines(http, seen[-1]["url"])] == ["EARLY"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            'mutation { webhookSubscriptionDelete(id: "gid://shopify/WebhookSubscription/1") '
            "{ deletedWebhookSubscriptionId } }",
            "not mutations",
        ),
        ("query($n: Int) { productVariants(first: $n) { edges { node { id } } } }", "variables"),
        ("{ shop { name } }", "exactly one top-level connection"),
        (
            "{ productVariants { edges { node { id } } } products { edges { node { id } } } }",
            "exactly one top-level connection",
        ),
        (
            "{ products { edges { node { variants { edges { node { inventoryItem { "
            "inventoryLevels { edges { node { id } } } } } } } } } } }",
            "nested more than 2 levels",
        ),
        ("{ productVariants { edges { node { idd } } } }", "Cannot query field 'idd'"),
    ],
)
def test_a_query_shopify_would_not_run_in_bulk_is_a_user_error(
    gql: GraphQL, query: str, message: str
) -> None:
    result = _run(gql, query)
    assert result["bulkOperation"] is None
    assert result["userErrors"][0]["code"] == "INVALID"
    assert message in " ".join(e["message"] for e in result["userErrors"])
    assert gql.data(CURRENT)["currentBulkOperation"] is None


def test_a_query_outside_the_apps_scopes_fails_with_access_denied(
    sandbox: SandboxServer, gql: GraphQL, http: httpx.Client
) -> None:
    token = sandbox.control.issue_token(SHOP, ["read_orders"])["access_token"]
    response = gql.post(RUN, {"query": VARIANTS}, token=token)
    operation = response.json()["data"]["bulkOperationRunQuery"]["bulkOperation"]
    seen = _wait(gql, operation["id"])
    assert (seen[-1]["status"], seen[-1]["errorCode"], seen[-1]["url"]) == (
        "FAILED",
        "ACCESS_DENIED",
        None,
    )
    (listed,) = sandbox.control.bulk_operations(SHOP)
    assert listed["status"] == "FAILED"
    assert "read_products" in listed["errors"][0]


def test_the_duration_can_be_changed_at_run_time(sandbox: SandboxServer, gql: GraphQL) -> None:
    sandbox.control.update_app(bulk_operation_seconds=0)
    operation = _run(gql, VARIANTS)["bulkOperation"]
    assert operation["status"] == "COMPLETED"  # no time to be seen CREATED
    assert gql.data(STATUS, {"id": operation["id"]})["bulkOperation"]["status"] == "COMPLETED"
    assert sandbox.control.app()["bulk_operation_seconds"] == 0
    with pytest.raises(SandboxControlError):
        sandbox.control.update_app(bulk_operation_seconds=-1)
