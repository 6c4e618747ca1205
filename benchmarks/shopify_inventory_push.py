"""A full inventory push of 10,000 variants to one shop at Shopify's Standard limits.

    python benchmarks/shopify_inventory_push.py [--variants 10000]

The adapter sends one ``inventorySetQuantities`` per batch of 250 quantities, each with a
compare-and-set value and an idempotency key; the figures (calls, requested and actual cost,
THROTTLED answers, time at Standard limits) come from the sandbox's log of API calls and are
printed next to a naive REST integration that makes one call per SKU.
"""

from __future__ import annotations

import argparse
import time

from shopify_harness import SHOP, create_catalog, figures, print_table, standard_sandbox

from adapters.shopify import MAX_INVENTORY_BATCH
from core.store import InventoryBatch, InventoryQuantity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=10_000)
    args = parser.parse_args()
    with standard_sandbox() as bench:
        variants = create_catalog(bench, args.variants)
        location = str(bench.primary_location)
        quantities = [
            InventoryQuantity(str(v["inventory_item_id"]), location, 10 + n % 7, 10)
            for n, v in enumerate(variants)
        ]
        bench.control.clear_calls()
        started, slept = time.perf_counter(), bench.time.slept
        applied = 0
        for number, start in enumerate(range(0, len(quantities), MAX_INVENTORY_BATCH)):
            batch = InventoryBatch(
                idempotency_key=f"bench-push-{number}",
                quantities=tuple(quantities[start : start + MAX_INVENTORY_BATCH]),
            )
            applied += len(bench.platform.set_inventory(bench.session, batch).applied)
        row = figures("GraphQL, 250 quantities a mutation", bench, started, slept)
        expected = {q.inventory_item_id: q.quantity for q in quantities}
        spot = bench.control.inventory(SHOP, location_id=bench.primary_location)
        wrong = sum(
            1 for level in spot if level["available"] != expected[str(level["inventory_item_id"])]
        )
        print_table(
            f"Inventory push of {len(quantities):,} variants ({applied:,} applied):",
            [row],
            naive_calls=len(quantities),
        )
        print(f"  levels checked in the sandbox afterwards: {len(spot):,}, wrong: {wrong}")


if __name__ == "__main__":
    main()
