"""Cost-based throttling with Shopify's numbers, and the injected API faults."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.shopify.sandbox import SandboxClock, SandboxServer, SandboxState
from adapters.shopify.sandbox.client import SandboxControlError

from .conftest import ALL_SCOPES, SHOP, GraphQL, make_config, stock_product

CHEAP = "{ shop { name } }"  # one object: cost 1
SUBSCRIBE = (
    "mutation { webhookSubscriptionCreate(topic: ORDERS_CREATE, "
    'webhookSubscription: {uri: "https://a.example/h"}) { userErrors { message } } }'
)
PAGE = "{ productVariants(first: 10) { nodes { id sku inventoryItem { id } } } }"


def _cost(body: dict[str, Any]) -> dict[str, Any]:
    cost: dict[str, Any] = body["extensions"]["cost"]
    return cost


def test_every_answer_carries_the_cost_and_the_bucket(gql: GraphQL) -> None:
    cost = _cost(gql(CHEAP))
    assert cost == {
        "requestedQueryCost": 1,
        "actualQueryCost": 1,
        "throttleStatus": {
            "maximumAvailable": 2000.0,
            "currentlyAvailable": 1999,
            "restoreRate": 100.0,
        },
    }


def test_a_connection_costs_two_plus_first_times_a_node_and_is_refunded_to_what_came_back(
    sandbox: SandboxServer, gql: GraphQL
) -> None:
    stock_product(sandbox, "A", 1)
    stock_product(sandbox, "B", 1)
    cost = _cost(gql(PAGE))
    # node: the variant (1) and its inventory item (1); 10 asked for, 2 returned
    assert cost["requestedQueryCost"] == 2 + 10 * 2
    assert cost["actualQueryCost"] == 2 + 2 * 2
    assert cost["throttleStatus"]["currentlyAvailable"] == 2000 - 6


def test_a_mutation_costs_ten(gql: GraphQL) -> None:
    body = gql(SUBSCRIBE)
    assert _cost(body)["requestedQueryCost"] == 10
    assert _cost(body)["actualQueryCost"] == 10


def test_a_query_over_1000_points_is_refused_before_it_runs(gql: GraphQL) -> None:
    body = gql(
        "{ orders(first: 250) { nodes { id "
        "lineItems(first: 10) { nodes { id variant { id } } } } } }"
    )
    error = body["errors"][0]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert error["extensions"]["maxCost"] == 1000
    assert "data" not in body
    assert _cost(body)["throttleStatus"]["currentlyAvailable"] == 2000  # nothing charged


def test_an_empty_bucket_throttles_with_http_200_and_refills_at_the_restore_rate(
    sandbox: SandboxServer, gql: GraphQL
) -> None:
    sandbox.control.throttle_now(SHOP)
    body = gql(CHEAP)
    assert body["errors"][0]["message"] == "Throttled"
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert _cost(body)["actualQueryCost"] is None
    assert _cost(body)["throttleStatus"]["currentlyAvailable"] == 0
    sandbox.control.advance_clock(0.5)  # 50 points back at 100 a second
    body = gql(CHEAP)
    assert "errors" not in body
    assert _cost(body)["throttleStatus"]["currentlyAvailable"] == 49
    [throttled] = [c for c in sandbox.control.calls(SHOP) if c["throttled"]]
    assert throttled["error_codes"] == ["THROTTLED"]


def test_the_429_fault_answers_throttling_with_http_429(
    sandbox: SandboxServer, gql: GraphQL
) -> None:
    sandbox.control.set_faults(throttle_status=429)
    sandbox.control.throttle_now(SHOP)
    response = gql.post(CHEAP)
    assert response.status_code == 429
    assert response.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert response.headers["Retry-After"] == "1"


def test_a_query_costing_more_than_is_left_is_throttled_while_a_cheap_one_passes(
    sandbox: SandboxServer, gql: GraphQL
) -> None:
    sandbox.control.throttle_now(SHOP, available=10)
    assert gql(PAGE)["errors"][0]["extensions"]["code"] == "THROTTLED"  # requests 22
    assert "errors" not in gql(CHEAP)


def test_bucket_size_and_restore_rate_are_configurable(clock: SandboxClock, http: Any) -> None:
    config = make_config(bucket_size=100, restore_rate=10.0)
    with SandboxServer(config, SandboxState(clock)) as sandbox:
        sandbox.control.create_shop(SHOP)
        token = sandbox.control.issue_token(SHOP, ALL_SCOPES)["access_token"]
        client = GraphQL(sandbox, token, http)
        status = _cost(client(CHEAP))["throttleStatus"]
        assert status == {"maximumAvailable": 100.0, "currentlyAvailable": 99, "restoreRate": 10.0}
        # A single query may not cost more than the bucket holds.
        body = client("{ productVariants(first: 100) { nodes { id } } }")
        assert body["errors"][0]["extensions"]["maxCost"] == 100


def test_a_shop_can_have_its_own_plan_limits(sandbox: SandboxServer, gql: GraphQL) -> None:
    sandbox.control.update_shop(SHOP, bucket_size=20000, restore_rate=1000)
    status = _cost(gql(CHEAP))["throttleStatus"]
    assert status["maximumAvailable"] == 20000.0
    assert status["restoreRate"] == 1000.0


def test_the_error_rate_fault_answers_5xx_and_applies_nothing(
    sandbox: SandboxServer, gql: GraphQL, shop: dict[str, Any]
) -> None:
    sandbox.control.set_faults(error_rate=1.0, error_status=502)
    response = gql.post(SUBSCRIBE)
    assert response.status_code == 502
    assert response.json() == {"errors": "Bad Gateway"}
    assert sandbox.control.webhooks(SHOP) == []
    assert sandbox.control.calls(SHOP)[-1]["fault"] == "error"


def test_the_error_after_apply_fault_loses_the_answer_but_keeps_the_change(
    sandbox: SandboxServer, gql: GraphQL
) -> None:
    sandbox.control.set_faults(error_rate=1.0, error_mode="after")
    response = gql.post(SUBSCRIBE)
    assert response.status_code == 503
    assert len(sandbox.control.webhooks(SHOP)) == 1


def test_the_either_error_mode_applies_some_failed_requests_and_not_others(
    sandbox: SandboxServer, gql: GraphQL
) -> None:
    sandbox.control.set_faults(error_rate=1.0, error_mode="either", random_seed=3)
    assert sandbox.control.faults()["error_mode"] == "either"
    statuses = [gql.post(SUBSCRIBE.replace("/h", f"/h{n}")).status_code for n in range(20)]
    assert statuses == [503] * 20
    faults = [call["fault"] for call in sandbox.control.calls(SHOP)]
    applied = faults.count("error_after_apply")
    assert 0 < applied < 20
    assert faults.count("error") == 20 - applied
    assert len(sandbox.control.webhooks(SHOP)) == applied  # only those ran


def test_an_unknown_error_mode_is_refused(sandbox: SandboxServer) -> None:
    with pytest.raises(SandboxControlError, match="error_mode must be before, after or either"):
        sandbox.control.set_faults(error_mode="sometimes")


def test_a_partial_error_rate_is_reproducible_with_a_seed(
    sandbox: SandboxServer, gql: GraphQL
) -> None:
    def run() -> list[int]:
        sandbox.control.set_faults(error_rate=0.5, random_seed=42)
        return [gql.post(CHEAP).status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second
    assert 0 < first.count(503) < 20


def test_latency_delays_every_answer(sandbox: SandboxServer, gql: GraphQL) -> None:
    sandbox.control.set_faults(latency=0.2)
    response = gql.post(CHEAP)
    assert response.status_code == 200
    assert response.elapsed.total_seconds() >= 0.2


def test_the_call_log_records_operation_cost_and_idempotency_keys(
    sandbox: SandboxServer, gql: GraphQL
) -> None:
    gql("query ShopName { shop { name } }")
    [call] = sandbox.control.calls(SHOP)
    assert call["operation_name"] == "ShopName"
    assert call["operation_type"] == "query"
    assert call["root_fields"] == ["shop"]
    assert (call["requested_cost"], call["actual_cost"], call["throttled"]) == (1, 1, False)
    assert call["status"] == 200
    sandbox.control.clear_calls()
    assert sandbox.control.calls(SHOP) == []


@pytest.mark.parametrize(
    ("faults", "error"),
    [
        ({"error_rate": 2}, "between 0 and 1"),
        ({"throttle_status": 418}, "200 or 429"),
        ({"bogus": 1}, "unknown faults"),
    ],
)
def test_bad_fault_settings_are_refused(
    sandbox: SandboxServer, faults: dict[str, Any], error: str
) -> None:
    with pytest.raises(Exception, match=error):
        sandbox.control.set_faults(**faults)
