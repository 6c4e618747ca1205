"""Which product a store line is: by variant mapping, then SKU (case-insensitive), then a
barcode that names exactly one product."""

from __future__ import annotations

from core.ports import UnitOfWork


def resolve_product(
    uow: UnitOfWork,
    *,
    client_id: str,
    integration_id: str | None,
    variant_id: str | None,
    sku: str | None,
    barcode: str | None,
) -> str | None:
    if integration_id is not None and variant_id:
        mapping = uow.mappings.get_by_variant(integration_id, variant_id)
        if mapping is not None:
            return mapping.product_id
    if sku and sku.strip():
        product = uow.products.get_by_sku(client_id, sku.strip())
        if product is not None:
            return product.id
    if barcode and barcode.strip():
        found = uow.products.find_by_barcode(client_id, barcode.strip())
        if len(found) == 1:
            return found[0].id
    return None
