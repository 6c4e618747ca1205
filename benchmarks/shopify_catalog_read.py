"""A catalog read of 10,000 variants from one shop at Shopify's Standard limits.

    python benchmarks/shopify_catalog_read.py [--variants 10000]

Two ways the adapter reads a catalog: cursor pages of variants with their inventory item ids
(``catalog``; pages of 166 by default, whose 500-point cost divides the 2,000-point bucket,
and of 250, the most Shopify allows, for comparison), and one bulk operation exported as
JSONL (``bulk_catalog``). The figures
(calls, requested and actual cost, THROTTLED answers, time at Standard limits) come from the
sandbox's log of API calls and are printed next to a naive REST integration that makes one
call per SKU.
"""

from __future__ import annotations

import argparse
import time

from shopify_harness import (
    Figures,
    create_catalog,
    evolve_page_size,
    figures,
    print_table,
    standard_sandbox,
)

from adapters.shopify import CATALOG_PAGE_SIZE
from core.store import StoreVariant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=10_000)
    args = parser.parse_args()
    with standard_sandbox() as bench:
        created = {str(v["id"]) for v in create_catalog(bench, args.variants)}
        rows: list[Figures] = []

        reads: dict[str, tuple[StoreVariant, ...]] = {}
        for page_size in (CATALOG_PAGE_SIZE, 250):
            platform = evolve_page_size(bench, page_size)
            bench.control.clear_calls()
            started, slept = time.perf_counter(), bench.time.slept
            paged: list[StoreVariant] = []
            cursor: str | None = None
            while True:
                page = platform.catalog(bench.session, cursor)
                paged.extend(page.variants)
                cursor = page.next_cursor
                if cursor is None:
                    break
            rows.append(figures(f"GraphQL, cursor pages of {page_size}", bench, started, slept))
            reads[f"pages of {page_size}"] = tuple(paged)
            bench.time.sleep(60)  # let the bucket refill between approaches

        bench.control.clear_calls()
        started, slept = time.perf_counter(), bench.time.slept
        reads["bulk"] = bench.platform.bulk_catalog(bench.session)
        rows.append(figures("GraphQL bulk operation (+1 file GET)", bench, started, slept))

        print_table(f"Catalog read of {len(created):,} variants:", rows, naive_calls=len(created))
        for name, variants in reads.items():
            ids = [v.variant_id for v in variants]
            complete = set(ids) == created and len(ids) == len(created)
            with_items = sum(1 for v in variants if v.inventory_item_id)
            print(
                f"  {name}: {len(ids):,} variants, complete and unique: {complete}, "
                f"with inventory item ids: {with_items:,}"
            )


if __name__ == "__main__":
    main()
