"""The store's catalog and how its variants map to products (which product a store line is
lives in ``_resolve``); locations and the warehouses serving them. A new mapping releases
the orders held only because their lines were unmapped (``orders.release_resolvable_holds``).
"""

from __future__ import annotations

from collections.abc import Callable

from attrs import frozen

from core.errors import NotFound
from core.model import CatalogVariant, LocationMapping, ProductMapping, User
from core.ports import UnitOfWork
from core.services import inventory, orders
from core.services._context import Context
from core.services._paging import every
from core.services.integrations import (
    StoreContext,
    require_manager,
    session_for,
    visible_integration,
)
from core.text import storable_text

# --- the store catalog and product mappings -----------------------------------------------------


@frozen
class AutoMapResult:
    mapped: int
    skipped: int


def refresh_catalog(
    sc: StoreContext, integration_id: str, *, progress: Callable[[int], None] | None = None
) -> int:
    """Load every store variant (paged) into the catalog table; forget vanished ones.
    ``progress`` is given the number of variants read so far after each page."""

    with sc.ctx.uow() as uow:
        integration = uow.integrations.peek(integration_id)
    if integration is None or not integration.is_connected:
        return 0
    store = sc.platform(integration.platform)
    session = session_for(sc, integration_id)
    cursor: str | None = None
    seen: list[str] = []
    now = sc.ctx.clock.now()
    while True:
        page = store.catalog(session, cursor)
        rows = [
            CatalogVariant(
                integration_id=integration_id,
                external_variant_id=v.variant_id,
                loaded_at=now,
                external_product_id=v.product_id,
                external_inventory_item_id=v.inventory_item_id,
                sku=storable_text(v.sku or "") or None,
                barcode=storable_text(v.barcode or "") or None,
                title=storable_text(v.title),
                product_title=storable_text(v.product_title),
                requires_shipping=v.requires_shipping,
            )
            for v in page.variants
        ]
        with sc.ctx.uow() as uow:
            uow.catalog.upsert(rows)
            for row in rows:  # keep mappings' store-side facts current
                existing = uow.mappings.get_by_variant(integration_id, row.external_variant_id)
                if existing is not None and (
                    existing.external_inventory_item_id != row.external_inventory_item_id
                    or existing.sku != row.sku
                    or existing.barcode != row.barcode
                ):
                    existing.external_inventory_item_id = row.external_inventory_item_id
                    existing.external_product_id = row.external_product_id
                    existing.sku, existing.barcode = row.sku, row.barcode
                    uow.mappings.update(existing)
            uow.commit()
        seen.extend(r.external_variant_id for r in rows)
        if progress is not None:
            progress(len(seen))
        cursor = page.next_cursor
        if cursor is None:
            break
    with sc.ctx.uow() as uow:
        uow.catalog.delete_missing(integration_id, seen)
        uow.commit()
    return len(seen)


def _mapping_for(
    ctx: Context, integration_id: str, variant: CatalogVariant, product_id: str
) -> ProductMapping:
    return ProductMapping(
        id=ctx.ids.new_id(),
        integration_id=integration_id,
        product_id=product_id,
        external_variant_id=variant.external_variant_id,
        created_at=ctx.clock.now(),
        external_product_id=variant.external_product_id,
        external_inventory_item_id=variant.external_inventory_item_id,
        sku=variant.sku,
        barcode=variant.barcode,
    )


def auto_map(ctx: Context, integration_id: str) -> AutoMapResult:
    """Map every unmapped store variant whose SKU (case-insensitive), else barcode, names
    exactly one of the client's products. Ambiguous or unknown ones are left alone."""
    mapped = skipped = 0
    with ctx.uow() as uow:
        integration = uow.integrations.peek(integration_id)
        if integration is None:
            raise NotFound("integration not found")
        unmapped = list(  # all of them before any is mapped (mapping moves it off the list)
            every(
                lambda limit, offset: uow.catalog.list(
                    integration_id, mapped=False, limit=limit, offset=offset
                )
            )
        )
        taken = {m.product_id for m in uow.mappings.for_integration(integration_id)}
        added: list[str] = []
        for variant in unmapped:
            product_id = None
            if variant.sku:
                product = uow.products.get_by_sku(integration.client_id, variant.sku)
                product_id = product.id if product else None
            if product_id is None and variant.barcode:
                found = uow.products.find_by_barcode(integration.client_id, variant.barcode)
                product_id = found[0].id if len(found) == 1 else None
            if product_id is None or product_id in taken:
                skipped += 1
                continue
            uow.mappings.add(_mapping_for(ctx, integration_id, variant, product_id))
            taken.add(product_id)
            added.append(product_id)
            mapped += 1
        inventory.products_changed(uow, ctx, integration, added)
        if added:  # orders held for these variants may be whole now
            orders.release_resolvable_holds(uow, ctx, integration_id)
        uow.commit()
    return AutoMapResult(mapped, skipped)


def map_variant(
    ctx: Context, actor: User, integration_id: str, *, external_variant_id: str, product_id: str
) -> ProductMapping:

    with ctx.uow() as uow:
        integration = visible_integration(uow, actor, integration_id)
        require_manager(actor, integration)
        variant = uow.catalog.get(integration_id, external_variant_id)
        if variant is None:
            raise NotFound("store variant not found; refresh the catalog first")
        product = uow.products.get(product_id)
        if product is None or product.client_id != integration.client_id:
            raise NotFound("product not found")
        mapping = _mapping_for(ctx, integration_id, variant, product.id)
        uow.mappings.add(mapping)
        inventory.products_changed(uow, ctx, integration, [product.id])
        orders.release_resolvable_holds(uow, ctx, integration_id)  # held for this variant?
        uow.commit()
    return mapping


def _owned_mapping(
    uow: UnitOfWork, actor: User, integration_id: str, mapping_id: str
) -> ProductMapping:

    integration = visible_integration(uow, actor, integration_id)
    require_manager(actor, integration)
    mapping = uow.mappings.get(mapping_id)
    if mapping is None or mapping.integration_id != integration_id:
        raise NotFound("mapping not found")
    return mapping


def set_mapping_sync(
    ctx: Context, actor: User, integration_id: str, mapping_id: str, *, sync_inventory: bool
) -> ProductMapping:
    with ctx.uow() as uow:
        mapping = _owned_mapping(uow, actor, integration_id, mapping_id)
        mapping.sync_inventory = sync_inventory
        uow.mappings.update(mapping)
        integration = visible_integration(uow, actor, integration_id)
        inventory.products_changed(uow, ctx, integration, [mapping.product_id])
        uow.commit()
    return mapping


def remove_mapping(ctx: Context, actor: User, integration_id: str, mapping_id: str) -> None:
    with ctx.uow() as uow:
        mapping = _owned_mapping(uow, actor, integration_id, mapping_id)
        uow.mappings.delete(mapping_id)
        # another variant of the product may sell its stock now
        integration = visible_integration(uow, actor, integration_id)
        inventory.products_changed(uow, ctx, integration, [mapping.product_id])
        uow.commit()


@frozen
class VariantRow:
    variant: CatalogVariant
    mapping: ProductMapping | None


def list_variants(
    ctx: Context,
    actor: User,
    integration_id: str,
    *,
    mapped: bool | None,
    q: str | None,
    limit: int,
    offset: int,
) -> tuple[list[VariantRow], int]:

    with ctx.uow() as uow:
        visible_integration(uow, actor, integration_id)
        variants = uow.catalog.list(integration_id, mapped=mapped, q=q, limit=limit, offset=offset)
        total = uow.catalog.count(integration_id, mapped=mapped, q=q)
        found = uow.mappings.for_variants(integration_id, [v.external_variant_id for v in variants])
        mappings = {m.external_variant_id: m for m in found}
        rows = [VariantRow(v, mappings.get(v.external_variant_id)) for v in variants]
    return rows, total


def variant_row(
    ctx: Context, actor: User, integration_id: str, external_variant_id: str
) -> VariantRow | None:
    """One store variant of the catalogue with its mapping (``None``: not in the catalogue
    as last loaded)."""
    with ctx.uow() as uow:
        visible_integration(uow, actor, integration_id)
        variant = uow.catalog.get(integration_id, external_variant_id)
        if variant is None:
            return None
        return VariantRow(variant, uow.mappings.get_by_variant(integration_id, external_variant_id))


# --- locations -------------------------------------------------------------------------------


def list_locations(ctx: Context, actor: User, integration_id: str) -> list[LocationMapping]:

    with ctx.uow() as uow:
        visible_integration(uow, actor, integration_id)
        return uow.locations.for_integration(integration_id)


def update_location(
    ctx: Context,
    actor: User,
    integration_id: str,
    location_id: str,
    *,
    warehouse_id: str | None,
    sync_inventory: bool | None = None,
    is_default: bool | None = None,
) -> LocationMapping:
    """Choose the warehouse serving a store location (``None``: not ours to fulfil)."""

    with ctx.uow() as uow:
        integration = visible_integration(uow, actor, integration_id)
        require_manager(actor, integration)
        mappings = uow.locations.for_integration(integration_id)
        target = next((m for m in mappings if location_id in (m.id, m.external_location_id)), None)
        if target is None:
            raise NotFound("location not found")
        if warehouse_id is not None and uow.warehouses.get(warehouse_id) is None:
            raise NotFound("warehouse not found")
        target.warehouse_id = warehouse_id
        if sync_inventory is not None:
            target.sync_inventory = sync_inventory
        if is_default:
            for other in mappings:
                if other.id != target.id and other.is_default:
                    other.is_default = False
                    uow.locations.update(other)
            target.is_default = True
        elif is_default is False:
            target.is_default = False
        uow.locations.update(target)
        if integration.is_connected and integration.settings.auto_sync_inventory:
            inventory.queue_sync(uow, ctx, integration_id, why="location")
        uow.commit()
    return target
