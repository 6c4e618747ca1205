"""Integrations, their location and product mappings, and the loaded store catalog."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from psycopg import sql

from adapters.postgres._rows import (
    CATALOG_VARIANTS,
    DIRTY,
    INTEGRATIONS,
    INVENTORY_PUSH_STATES,
    LOCATION_MAPPINGS,
    PRODUCT_MAPPINGS,
)
from adapters.postgres._session import Repository, contains_pattern, where
from core.model import (
    CatalogVariant,
    DirtyStock,
    Integration,
    InventoryPushState,
    LocationMapping,
    ProductMapping,
)


class PostgresIntegrationRepository(Repository):
    def _conflicts(self, integration: Integration) -> dict[str, str]:
        return {
            "integrations_client_shop_key": (
                f"this client already has an integration for {integration.shop_domain}"
            ),
            "integrations_client_prefix_key": (
                f"another store of this client numbers its orders {integration.order_prefix}…"
            ),
        }

    def add(self, integration: Integration) -> None:
        self._s.write(
            INTEGRATIONS.insert(),
            INTEGRATIONS.params(integration),
            conflicts=self._conflicts(integration),
        )

    def get(self, integration_id: str) -> Integration | None:
        row = self._s.row("SELECT * FROM integrations WHERE id = %s FOR UPDATE", [integration_id])
        return None if row is None else INTEGRATIONS.load(row)

    def peek(self, integration_id: str) -> Integration | None:
        row = self._s.row("SELECT * FROM integrations WHERE id = %s", [integration_id])
        return None if row is None else INTEGRATIONS.load(row)

    def for_shop(self, platform: str, shop_domain: str) -> builtins.list[Integration]:
        rows = self._s.rows(
            "SELECT * FROM integrations WHERE platform = %s AND shop_domain = %s"
            " ORDER BY created_at, id",
            [platform, shop_domain],
        )
        return [INTEGRATIONS.load(row) for row in rows]

    def find(self, client_id: str, platform: str, shop_domain: str) -> Integration | None:
        row = self._s.row(
            "SELECT * FROM integrations"
            " WHERE client_id = %s AND platform = %s AND shop_domain = %s",
            [client_id, platform, shop_domain],
        )
        return None if row is None else INTEGRATIONS.load(row)

    def connected_for_shop(self, platform: str, shop_domain: str) -> builtins.list[Integration]:
        rows = self._s.rows(
            "SELECT * FROM integrations"
            " WHERE platform = %s AND shop_domain = %s AND status <> 'disconnected'"
            " ORDER BY created_at, id",
            [platform, shop_domain],
        )
        return [INTEGRATIONS.load(row) for row in rows]

    def update(self, integration: Integration) -> None:
        self._update(INTEGRATIONS, integration, conflicts=self._conflicts(integration))

    def list(self, client_id: str | None = None) -> builtins.list[Integration]:
        conditions: builtins.list[sql.Composable] = []
        if client_id is not None:
            conditions.append(sql.SQL("client_id = %(client_id)s"))
        query = (
            sql.SQL("SELECT * FROM integrations")
            + where(conditions)
            + sql.SQL(" ORDER BY created_at, id")
        )
        rows = self._s.rows(query, {"client_id": client_id})
        return [INTEGRATIONS.load(row) for row in rows]


class PostgresLocationMappingRepository(Repository):
    def _conflicts(self, mapping: LocationMapping) -> dict[str, str]:
        return {
            "location_mappings_external_key": (
                f"store location {mapping.external_location_id} is already mapped"
            )
        }

    def add(self, mapping: LocationMapping) -> None:
        self._s.write(
            LOCATION_MAPPINGS.insert(),
            LOCATION_MAPPINGS.params(mapping),
            conflicts=self._conflicts(mapping),
        )

    def get(self, mapping_id: str) -> LocationMapping | None:
        row = self._s.row("SELECT * FROM location_mappings WHERE id = %s", [mapping_id])
        return None if row is None else LOCATION_MAPPINGS.load(row)

    def get_by_external(
        self, integration_id: str, external_location_id: str
    ) -> LocationMapping | None:
        row = self._s.row(
            "SELECT * FROM location_mappings"
            " WHERE integration_id = %s AND external_location_id = %s",
            [integration_id, external_location_id],
        )
        return None if row is None else LOCATION_MAPPINGS.load(row)

    def for_integration(self, integration_id: str) -> builtins.list[LocationMapping]:
        rows = self._s.rows(
            "SELECT * FROM location_mappings WHERE integration_id = %s"
            ' ORDER BY is_default DESC, name COLLATE "C", id',
            [integration_id],
        )
        return [LOCATION_MAPPINGS.load(row) for row in rows]

    def update(self, mapping: LocationMapping) -> None:
        self._update(LOCATION_MAPPINGS, mapping, conflicts=self._conflicts(mapping))


class PostgresProductMappingRepository(Repository):
    def _conflicts(self, mapping: ProductMapping) -> dict[str, str]:
        return {
            "product_mappings_variant_key": (
                f"store variant {mapping.external_variant_id} is already mapped"
            )
        }

    def add(self, mapping: ProductMapping) -> None:
        self._s.write(
            PRODUCT_MAPPINGS.insert(),
            PRODUCT_MAPPINGS.params(mapping),
            conflicts=self._conflicts(mapping),
        )

    def get(self, mapping_id: str) -> ProductMapping | None:
        row = self._s.row("SELECT * FROM product_mappings WHERE id = %s", [mapping_id])
        return None if row is None else PRODUCT_MAPPINGS.load(row)

    def get_by_variant(
        self, integration_id: str, external_variant_id: str
    ) -> ProductMapping | None:
        row = self._s.row(
            "SELECT * FROM product_mappings WHERE integration_id = %s AND external_variant_id = %s",
            [integration_id, external_variant_id],
        )
        return None if row is None else PRODUCT_MAPPINGS.load(row)

    def for_product(self, product_id: str) -> builtins.list[ProductMapping]:
        rows = self._s.rows(
            "SELECT * FROM product_mappings WHERE product_id = %s"
            " ORDER BY integration_id, external_variant_id",
            [product_id],
        )
        return [PRODUCT_MAPPINGS.load(row) for row in rows]

    def for_integration(self, integration_id: str) -> builtins.list[ProductMapping]:
        rows = self._s.rows(
            "SELECT * FROM product_mappings WHERE integration_id = %s"
            " ORDER BY external_variant_id, id",
            [integration_id],
        )
        return [PRODUCT_MAPPINGS.load(row) for row in rows]

    def for_variants(
        self, integration_id: str, external_variant_ids: Iterable[str]
    ) -> builtins.list[ProductMapping]:
        rows = self._s.rows(
            "SELECT * FROM product_mappings"
            " WHERE integration_id = %s AND external_variant_id = ANY(%s::text[])"
            " ORDER BY external_variant_id, id",
            [integration_id, list(external_variant_ids)],
        )
        return [PRODUCT_MAPPINGS.load(row) for row in rows]

    def update(self, mapping: ProductMapping) -> None:
        self._update(PRODUCT_MAPPINGS, mapping, conflicts=self._conflicts(mapping))

    def delete(self, mapping_id: str) -> None:
        self._s.write("DELETE FROM product_mappings WHERE id = %s", [mapping_id])


class PostgresCatalogRepository(Repository):
    def upsert(self, variants: Iterable[CatalogVariant]) -> int:
        params = [CATALOG_VARIANTS.params(variant) for variant in variants]
        if params:
            with self._s.atomic() as cur:
                cur.executemany(CATALOG_VARIANTS.upsert(), params)
        return len(params)

    def get(self, integration_id: str, external_variant_id: str) -> CatalogVariant | None:
        row = self._s.row(
            "SELECT * FROM catalog_variants WHERE integration_id = %s AND external_variant_id = %s",
            [integration_id, external_variant_id],
        )
        return None if row is None else CATALOG_VARIANTS.load(row)

    def _matching(
        self, integration_id: str, mapped: bool | None, q: str | None
    ) -> tuple[sql.Composable, dict[str, Any]]:
        conditions: builtins.list[sql.Composable] = [
            sql.SQL("c.integration_id = %(integration_id)s")
        ]
        if mapped is not None:
            exists = sql.SQL(
                "EXISTS (SELECT 1 FROM product_mappings m"
                " WHERE m.integration_id = c.integration_id"
                " AND m.external_variant_id = c.external_variant_id)"
            )
            conditions.append(exists if mapped else sql.SQL("NOT ") + exists)
        if q:
            conditions.append(
                sql.SQL(
                    "(c.sku ILIKE %(q)s OR c.barcode ILIKE %(q)s"
                    " OR c.title ILIKE %(q)s OR c.product_title ILIKE %(q)s)"
                )
            )
        params = {"integration_id": integration_id, "q": contains_pattern(q) if q else None}
        return where(conditions), params

    def list(
        self,
        integration_id: str,
        *,
        mapped: bool | None = None,
        q: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[CatalogVariant]:
        condition, params = self._matching(integration_id, mapped, q)
        query = (
            sql.SQL("SELECT c.* FROM catalog_variants c")
            + condition
            + sql.SQL(
                ' ORDER BY lower(c.product_title) COLLATE "C", lower(c.title) COLLATE "C",'
                " c.external_variant_id LIMIT %(limit)s OFFSET %(offset)s"
            )
        )
        rows = self._s.rows(query, {**params, "limit": limit, "offset": offset})
        return [CATALOG_VARIANTS.load(row) for row in rows]

    def count(
        self, integration_id: str, *, mapped: bool | None = None, q: str | None = None
    ) -> int:
        condition, params = self._matching(integration_id, mapped, q)
        query = sql.SQL("SELECT count(*) AS n FROM catalog_variants c") + condition
        row = self._s.row(query, params)
        return 0 if row is None else int(row["n"])

    def delete_missing(self, integration_id: str, keep: Iterable[str]) -> int:
        return self._s.write(
            "DELETE FROM catalog_variants"
            " WHERE integration_id = %s AND NOT (external_variant_id = ANY(%s::text[]))",
            [integration_id, list(keep)],
        )


class PostgresInventorySyncRepository(Repository):
    def mark_dirty(
        self, integration_id: str, product_id: str, warehouse_id: str, when: datetime
    ) -> None:
        self._s.write(
            "INSERT INTO inventory_dirty (integration_id, product_id, warehouse_id, marked_at)"
            " VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (integration_id, product_id, warehouse_id) DO UPDATE"
            " SET version = inventory_dirty.version + 1, marked_at = EXCLUDED.marked_at",
            [integration_id, product_id, warehouse_id, when],
            savepoint=False,
        )

    def dirty(
        self,
        integration_id: str,
        *,
        limit: int = 10_000,
        product_ids: Iterable[str] | None = None,
    ) -> builtins.list[DirtyStock]:
        rows = self._s.rows(
            "SELECT * FROM inventory_dirty WHERE integration_id = %(integration_id)s"
            " AND (%(ids)s::text[] IS NULL OR product_id = ANY(%(ids)s::text[]))"
            " ORDER BY marked_at, product_id, warehouse_id LIMIT %(limit)s",
            {
                "integration_id": integration_id,
                "ids": None if product_ids is None else list(product_ids),
                "limit": limit,
            },
        )
        return [DIRTY.load(row) for row in rows]

    def clear_dirty(self, marks: Iterable[DirtyStock]) -> int:
        marks = list(marks)
        if not marks:
            return 0
        return self._s.write(
            "DELETE FROM inventory_dirty d USING unnest(%s::text[], %s::text[], %s::text[],"
            " %s::bigint[]) AS m(integration_id, product_id, warehouse_id, version)"
            " WHERE d.integration_id = m.integration_id AND d.product_id = m.product_id"
            " AND d.warehouse_id = m.warehouse_id AND d.version = m.version",
            [
                [m.integration_id for m in marks],
                [m.product_id for m in marks],
                [m.warehouse_id for m in marks],
                [m.version for m in marks],
            ],
        )

    def states(
        self, integration_id: str, *, mapping_ids: Iterable[str] | None = None
    ) -> builtins.list[InventoryPushState]:
        rows = self._s.rows(
            "SELECT * FROM inventory_push_states WHERE integration_id = %(integration_id)s"
            " AND (%(ids)s::text[] IS NULL OR mapping_id = ANY(%(ids)s::text[]))"
            " ORDER BY mapping_id, location_id",
            {
                "integration_id": integration_id,
                "ids": None if mapping_ids is None else list(mapping_ids),
            },
        )
        return [INVENTORY_PUSH_STATES.load(row) for row in rows]

    def save_states(self, states: Iterable[InventoryPushState]) -> None:
        params = [INVENTORY_PUSH_STATES.params(state) for state in states]
        if params:
            with self._s.atomic({}) as cur:
                cur.executemany(INVENTORY_PUSH_STATES.upsert(), params)
