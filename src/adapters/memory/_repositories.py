"""Repositories over the in-memory tables. Same semantics as PostgreSQL (the contract suite
checks both): uniqueness rules raise ``Conflict``, lists are ordered and paged alike."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from attrs import evolve

from adapters.memory._store import Transaction
from core.errors import Conflict, NotFound
from core.model import (
    INBOX_CLAIMABLE,
    OUTBOX_CLAIMABLE,
    Alert,
    AlertStatus,
    ApiToken,
    Backlog,
    CatalogVariant,
    Client,
    DirtyStock,
    InboxEvent,
    InboxStatus,
    Integration,
    InventoryPushState,
    Job,
    JobKind,
    LocationMapping,
    OpenUnits,
    OrderRef,
    OrderStatus,
    OutboundOrder,
    OutboxCommand,
    OutboxStatus,
    Product,
    ProductMapping,
    Shipment,
    StockLevel,
    StockMovement,
    SyncRun,
    User,
    UserSession,
    Warehouse,
    open_units,
)
from core.ports import OrderSearch
from core.serialization import load_document

T = TypeVar("T")
Q = TypeVar("Q", InboxEvent, OutboxCommand)


def _page(items: Iterable[T], limit: int, offset: int) -> list[T]:
    return list(items)[offset : offset + limit]


def _contains(haystack: str | None, needle: str) -> bool:
    return haystack is not None and needle in haystack.lower()


class _Repo:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def _insert(self, table: str, key: object, obj: object, what: str) -> None:
        if key in self._tx.table(table):
            raise Conflict(f"{what} {key} already exists")
        self._tx.put(table, key, obj)

    def _replace(self, table: str, key: object, obj: object, what: str) -> None:
        if key not in self._tx.table(table):
            raise NotFound(f"{what} not found")
        self._tx.put(table, key, obj)


class MemoryClientRepository(_Repo):
    def add(self, client: Client) -> None:
        if self.get_by_name(client.name) is not None:
            raise Conflict(f"a client named {client.name!r} already exists")
        self._tx.put("clients", client.id, client)

    def get(self, client_id: str) -> Client | None:
        got: Client | None = self._tx.get("clients", client_id)
        return got

    def get_by_name(self, name: str) -> Client | None:
        return next(self._tx.scan("clients", lambda c: c.name == name), None)

    def list(self) -> list[Client]:
        return sorted(self._tx.scan("clients"), key=lambda c: (c.name, c.id))

    def update(self, client: Client) -> None:
        other = self.get_by_name(client.name)
        if other is not None and other.id != client.id:
            raise Conflict(f"a client named {client.name!r} already exists")
        self._replace("clients", client.id, client, "client")


class MemoryUserRepository(_Repo):
    def add(self, user: User) -> None:
        if self.get_by_email(user.email) is not None:
            raise Conflict(f"a user with e-mail {user.email!r} already exists")
        self._tx.put("users", user.id, user)

    def get(self, user_id: str) -> User | None:
        got: User | None = self._tx.get("users", user_id)
        return got

    def get_by_email(self, email: str) -> User | None:
        wanted = email.lower()
        return next(self._tx.scan("users", lambda u: u.email.lower() == wanted), None)

    def list(self, client_id: str | None = None) -> list[User]:
        users = self._tx.scan("users", lambda u: client_id is None or u.client_id == client_id)
        return sorted(users, key=lambda u: (u.email.lower(), u.id))

    def update(self, user: User) -> None:
        other = self.get_by_email(user.email)
        if other is not None and other.id != user.id:
            raise Conflict(f"a user with e-mail {user.email!r} already exists")
        self._replace("users", user.id, user, "user")


class MemoryApiTokenRepository(_Repo):
    def add(self, token: ApiToken) -> None:
        if self.get_by_hash(token.token_hash) is not None:
            raise Conflict("that API token already exists")
        self._tx.put("api_tokens", token.id, token)

    def get_by_hash(self, token_hash: str) -> ApiToken | None:
        return next(self._tx.scan("api_tokens", lambda t: t.token_hash == token_hash), None)

    def touch(self, token_id: str, when: datetime) -> None:
        token: ApiToken | None = self._tx.get("api_tokens", token_id)
        if token is not None:
            token.last_used_at = when
            self._tx.put("api_tokens", token_id, token)

    def delete_for_user(self, user_id: str) -> int:
        ids = [t.id for t in self._tx.scan("api_tokens", lambda t: t.user_id == user_id)]
        for token_id in ids:
            self._tx.delete("api_tokens", token_id)
        return len(ids)


class MemoryUserSessionRepository(_Repo):
    def add(self, session: UserSession) -> None:
        self._insert("user_sessions", session.id_hash, session, "session")

    def get(self, id_hash: str) -> UserSession | None:
        got: UserSession | None = self._tx.get("user_sessions", id_hash)
        return got

    def for_user(self, user_id: str) -> list[UserSession]:
        found = self._tx.scan("user_sessions", lambda s: s.user_id == user_id)
        return sorted(found, key=lambda s: (s.created_at, s.id_hash))

    def touch(self, id_hash: str, when: datetime) -> None:
        session = self.get(id_hash)
        if session is not None:
            session.last_seen_at = when
            self._tx.put("user_sessions", id_hash, session)

    def revoke(self, id_hash: str, when: datetime) -> bool:
        session = self.get(id_hash)
        if session is None or session.revoked_at is not None:
            return False
        session.revoked_at = when
        self._tx.put("user_sessions", id_hash, session)
        return True

    def revoke_for_user(self, user_id: str, when: datetime, *, keep: str | None = None) -> int:
        ended = [
            s
            for s in self.for_user(user_id)
            if s.id_hash != keep and s.revoked_at is None and s.expires_at > when
        ]
        for session in ended:
            self.revoke(session.id_hash, when)
        return len(ended)

    def purge(self, before: datetime) -> int:
        old = [s.id_hash for s in self._tx.scan("user_sessions", lambda s: s.expires_at < before)]
        for id_hash in old:
            self._tx.delete("user_sessions", id_hash)
        return len(old)


class MemoryWarehouseRepository(_Repo):
    def add(self, warehouse: Warehouse) -> None:
        if self.get_by_code(warehouse.code) is not None:
            raise Conflict(f"a warehouse with code {warehouse.code!r} already exists")
        self._tx.put("warehouses", warehouse.id, warehouse)

    def get(self, warehouse_id: str) -> Warehouse | None:
        got: Warehouse | None = self._tx.get("warehouses", warehouse_id)
        return got

    def get_by_code(self, code: str) -> Warehouse | None:
        return next(self._tx.scan("warehouses", lambda w: w.code == code), None)

    def list(self) -> list[Warehouse]:
        return sorted(self._tx.scan("warehouses"), key=lambda w: (w.code, w.id))


class MemoryProductRepository(_Repo):
    def add(self, product: Product) -> None:
        if self.get_by_sku(product.client_id, product.sku) is not None:
            raise Conflict(f"this client already has a product with SKU {product.sku!r}")
        self._tx.put("products", product.id, product)

    def get(self, product_id: str) -> Product | None:
        got: Product | None = self._tx.get("products", product_id)
        return got

    def get_many(self, product_ids: Iterable[str]) -> builtins.list[Product]:
        wanted = set(product_ids)
        found = self._tx.scan("products", lambda p: p.id in wanted)
        return sorted(found, key=lambda p: (p.sku.lower(), p.id))

    def get_by_sku(self, client_id: str, sku: str) -> Product | None:
        wanted = sku.lower()
        return next(
            self._tx.scan(
                "products", lambda p: p.client_id == client_id and p.sku.lower() == wanted
            ),
            None,
        )

    def find_by_barcode(self, client_id: str, barcode: str) -> list[Product]:
        found = self._tx.scan(
            "products", lambda p: p.client_id == client_id and p.barcode == barcode
        )
        return sorted(found, key=lambda p: (p.sku.lower(), p.id))

    def list(
        self,
        client_id: str | None = None,
        *,
        q: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Product]:
        needle = q.lower() if q else None

        def match(p: Product) -> bool:
            if client_id is not None and p.client_id != client_id:
                return False
            if needle is None:
                return True
            return (
                _contains(p.sku, needle)
                or _contains(p.name, needle)
                or (_contains(p.barcode, needle))
            )

        found = sorted(self._tx.scan("products", match), key=lambda p: (p.sku.lower(), p.id))
        return _page(found, limit, offset)

    def update(self, product: Product) -> None:
        other = self.get_by_sku(product.client_id, product.sku)
        if other is not None and other.id != product.id:
            raise Conflict(f"this client already has a product with SKU {product.sku!r}")
        self._replace("products", product.id, product, "product")


class MemoryStockRepository(_Repo):
    def get_level(self, product_id: str, warehouse_id: str) -> StockLevel | None:
        got: StockLevel | None = self._tx.get("stock_levels", (product_id, warehouse_id))
        return got

    def save_level(self, level: StockLevel) -> None:
        self._tx.put("stock_levels", (level.product_id, level.warehouse_id), level)

    def levels(
        self,
        *,
        product_id: str | None = None,
        warehouse_id: str | None = None,
        client_id: str | None = None,
        product_ids: Iterable[str] | None = None,
    ) -> list[StockLevel]:
        products = self._tx.table("products")
        some = None if product_ids is None else set(product_ids)

        def match(level: StockLevel) -> bool:
            if product_id is not None and level.product_id != product_id:
                return False
            if some is not None and level.product_id not in some:
                return False
            if warehouse_id is not None and level.warehouse_id != warehouse_id:
                return False
            if client_id is not None:
                product = products.get(level.product_id)
                return product is not None and product.client_id == client_id
            return True

        found = self._tx.scan("stock_levels", match)
        return sorted(found, key=lambda s: (s.product_id, s.warehouse_id))

    def add_movement(self, movement: StockMovement) -> None:
        table = self._tx.table("stock_movements")
        if movement.id in table:
            raise Conflict("that stock movement is already recorded")
        self._tx.put("stock_movements", movement.id, movement)

    def movements(
        self,
        *,
        product_id: str | None = None,
        warehouse_id: str | None = None,
        order_id: str | None = None,
        limit: int = 1000,
    ) -> list[StockMovement]:
        def match(m: StockMovement) -> bool:
            return (
                (product_id is None or m.product_id == product_id)
                and (warehouse_id is None or m.warehouse_id == warehouse_id)
                and (order_id is None or m.order_id == order_id)
            )

        # insertion order is recording order, as the serial column orders it in PostgreSQL
        return list(self._tx.scan("stock_movements", match))[:limit]


class MemoryOrderRepository(_Repo):
    def _check_unique(self, order: OutboundOrder) -> None:
        for other in self._tx.table("orders").values():
            if other.id == order.id:
                continue
            if other.client_id == order.client_id and other.number == order.number:
                raise Conflict(f"this client already has an order numbered {order.number!r}")
            if (
                order.external is not None
                and other.external is not None
                and other.external.integration_id == order.external.integration_id
                and other.external.external_order_id == order.external.external_order_id
            ):
                raise Conflict(
                    f"store order {order.external.external_order_id} is already imported"
                )

    def add(self, order: OutboundOrder) -> None:
        if order.id in self._tx.table("orders"):
            raise Conflict(f"order {order.id} already exists")
        self._check_unique(order)
        self._tx.put("orders", order.id, order)

    def get(self, order_id: str) -> OutboundOrder | None:
        got: OutboundOrder | None = self._tx.get("orders", order_id)
        return got

    def get_by_external(self, integration_id: str, external_order_id: str) -> OutboundOrder | None:
        return next(
            self._tx.scan(
                "orders",
                lambda o: (
                    o.external is not None
                    and o.external.integration_id == integration_id
                    and o.external.external_order_id == external_order_id
                ),
            ),
            None,
        )

    def peek_external(self, integration_id: str, external_order_id: str) -> OutboundOrder | None:
        return self.get_by_external(integration_id, external_order_id)

    def update(self, order: OutboundOrder) -> None:
        self._check_unique(order)
        self._replace("orders", order.id, order, "order")

    def open_units(self, integration_id: str) -> builtins.list[OpenUnits]:
        return open_units(
            self._tx.scan(
                "orders",
                lambda o: o.external is not None and o.external.integration_id == integration_id,
            )
        )

    def list(
        self,
        *,
        client_id: str | None = None,
        status: OrderStatus | None = None,
        integration_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[OutboundOrder]:
        def match(o: OutboundOrder) -> bool:
            return (
                (client_id is None or o.client_id == client_id)
                and (status is None or o.status == status)
                and (
                    integration_id is None
                    or (o.external is not None and o.external.integration_id == integration_id)
                )
            )

        found = sorted(
            self._tx.scan("orders", match), key=lambda o: (o.created_at, o.id), reverse=True
        )
        return _page(found, limit, offset)

    def search(self, query: OrderSearch) -> builtins.list[OutboundOrder]:
        needle = (query.q or "").lower()

        def match(o: OutboundOrder) -> bool:
            key = (o.created_at, o.id)
            if query.after is not None and key >= (query.after.created_at, query.after.id):
                return False
            if query.before is not None and key <= (query.before.created_at, query.before.id):
                return False
            if query.client_id is not None and o.client_id != query.client_id:
                return False
            if query.status is not None and o.status != query.status:
                return False
            return not needle or _order_matches(o, needle)

        found = sorted(
            self._tx.scan("orders", match),
            key=lambda o: (o.created_at, o.id),
            reverse=query.before is None,
        )[: query.limit]
        return found if query.before is None else found[::-1]

    def number_taken(self, client_id: str, number: str) -> bool:
        return any(
            o.client_id == client_id and o.number == number
            for o in self._tx.table("orders").values()
        )

    def refs_by_external(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], OrderRef]:
        wanted = set(keys)
        refs: dict[tuple[str, str], OrderRef] = {}
        for o in self._tx.table("orders").values():
            if o.external is None:
                continue
            key = (o.external.integration_id, o.external.external_order_id)
            if key in wanted:
                refs[key] = OrderRef(o.id, o.number, o.status, *key)
        return refs

    def awaiting_stock(self, warehouse_id: str, product_id: str) -> builtins.list[str]:
        found = self._tx.scan(
            "orders",
            lambda o: (
                o.status == "pending"
                and o.warehouse_id == warehouse_id
                and any(i.product_id == product_id for i in o.items)
            ),
        )
        ordered = sorted(found, key=lambda o: (not o.rush, o.created_at, o.id))
        return [o.id for o in ordered]

    def for_customer(
        self, integration_id: str, *, email: str | None, external_order_ids: Iterable[str]
    ) -> builtins.list[OutboundOrder]:
        ids = set(external_order_ids)
        wanted = email.lower() if email else None

        def match(o: OutboundOrder) -> bool:
            if o.external is None or o.external.integration_id != integration_id:
                return False
            if o.external.external_order_id in ids:
                return True
            return wanted is not None and o.email is not None and o.email.lower() == wanted

        return sorted(self._tx.scan("orders", match), key=lambda o: (o.created_at, o.id))


def _order_matches(order: OutboundOrder, needle: str) -> bool:
    """``OrderSearch.q``: number, store number, ship-to name, e-mail or a line's SKU."""
    texts = [
        order.number,
        order.external.external_number if order.external else None,
        order.ship_to.name if order.ship_to else None,
        order.email,
        *(item.sku for item in order.items),
    ]
    return any(_contains(text, needle) for text in texts)


class MemoryShipmentRepository(_Repo):
    def add(self, shipment: Shipment) -> None:
        if shipment.id in self._tx.table("shipments"):
            raise Conflict(f"shipment {shipment.id} already exists")
        self._tx.put("shipments", shipment.id, shipment)

    def get(self, shipment_id: str) -> Shipment | None:
        got: Shipment | None = self._tx.get("shipments", shipment_id)
        return got

    def for_order(self, order_id: str) -> list[Shipment]:
        found = self._tx.scan("shipments", lambda s: s.order_id == order_id)
        return sorted(found, key=lambda s: (s.created_at, s.id))

    def for_orders(self, order_ids: Iterable[str]) -> list[Shipment]:
        wanted = set(order_ids)
        found = self._tx.scan("shipments", lambda s: s.order_id in wanted)
        return sorted(found, key=lambda s: (s.created_at, s.id))

    def update(self, shipment: Shipment) -> None:
        self._replace("shipments", shipment.id, shipment, "shipment")


class MemoryIntegrationRepository(_Repo):
    def _check_unique(self, integration: Integration) -> None:
        other = self.find(integration.client_id, integration.platform, integration.shop_domain)
        if other is not None and other.id != integration.id:
            raise Conflict(f"this client already has an integration for {integration.shop_domain}")
        if integration.order_prefix and any(
            i.id != integration.id
            and i.client_id == integration.client_id
            and i.order_prefix == integration.order_prefix
            for i in self._tx.table("integrations").values()
        ):
            raise Conflict(
                f"another store of this client numbers its orders {integration.order_prefix}…"
            )

    def add(self, integration: Integration) -> None:
        self._check_unique(integration)
        self._tx.put("integrations", integration.id, integration)

    def get(self, integration_id: str) -> Integration | None:
        got: Integration | None = self._tx.get("integrations", integration_id)
        return got

    def peek(self, integration_id: str) -> Integration | None:
        return self.get(integration_id)

    def for_shop(self, platform: str, shop_domain: str) -> builtins.list[Integration]:
        found = self._tx.scan(
            "integrations", lambda i: i.platform == platform and i.shop_domain == shop_domain
        )
        return sorted(found, key=lambda i: (i.created_at, i.id))

    def find(self, client_id: str, platform: str, shop_domain: str) -> Integration | None:
        return next(
            self._tx.scan(
                "integrations",
                lambda i: (
                    i.client_id == client_id
                    and i.platform == platform
                    and i.shop_domain == shop_domain
                ),
            ),
            None,
        )

    def connected_for_shop(self, platform: str, shop_domain: str) -> builtins.list[Integration]:
        found = self._tx.scan(
            "integrations",
            lambda i: (
                i.platform == platform
                and i.shop_domain == shop_domain
                and i.status != "disconnected"
            ),
        )
        return sorted(found, key=lambda i: (i.created_at, i.id))

    def list(self, client_id: str | None = None) -> list[Integration]:
        found = self._tx.scan(
            "integrations", lambda i: client_id is None or i.client_id == client_id
        )
        return sorted(found, key=lambda i: (i.created_at, i.id))

    def update(self, integration: Integration) -> None:
        self._check_unique(integration)
        self._replace("integrations", integration.id, integration, "integration")


class MemoryLocationMappingRepository(_Repo):
    def add(self, mapping: LocationMapping) -> None:
        if self.get_by_external(mapping.integration_id, mapping.external_location_id):
            raise Conflict(f"store location {mapping.external_location_id} is already mapped")
        self._tx.put("locations", mapping.id, mapping)

    def get(self, mapping_id: str) -> LocationMapping | None:
        got: LocationMapping | None = self._tx.get("locations", mapping_id)
        return got

    def get_by_external(
        self, integration_id: str, external_location_id: str
    ) -> LocationMapping | None:
        return next(
            self._tx.scan(
                "locations",
                lambda m: (
                    m.integration_id == integration_id
                    and m.external_location_id == external_location_id
                ),
            ),
            None,
        )

    def for_integration(self, integration_id: str) -> list[LocationMapping]:
        found = self._tx.scan("locations", lambda m: m.integration_id == integration_id)
        return sorted(found, key=lambda m: (not m.is_default, m.name, m.id))

    def update(self, mapping: LocationMapping) -> None:
        other = self.get_by_external(mapping.integration_id, mapping.external_location_id)
        if other is not None and other.id != mapping.id:
            raise Conflict(f"store location {mapping.external_location_id} is already mapped")
        self._replace("locations", mapping.id, mapping, "location mapping")


class MemoryProductMappingRepository(_Repo):
    def add(self, mapping: ProductMapping) -> None:
        if self.get_by_variant(mapping.integration_id, mapping.external_variant_id):
            raise Conflict(f"store variant {mapping.external_variant_id} is already mapped")
        self._tx.put("mappings", mapping.id, mapping)

    def get(self, mapping_id: str) -> ProductMapping | None:
        got: ProductMapping | None = self._tx.get("mappings", mapping_id)
        return got

    def get_by_variant(
        self, integration_id: str, external_variant_id: str
    ) -> ProductMapping | None:
        return next(
            self._tx.scan(
                "mappings",
                lambda m: (
                    m.integration_id == integration_id
                    and m.external_variant_id == external_variant_id
                ),
            ),
            None,
        )

    def for_product(self, product_id: str) -> list[ProductMapping]:
        found = self._tx.scan("mappings", lambda m: m.product_id == product_id)
        return sorted(found, key=lambda m: (m.integration_id, m.external_variant_id))

    def for_integration(self, integration_id: str) -> list[ProductMapping]:
        found = self._tx.scan("mappings", lambda m: m.integration_id == integration_id)
        return sorted(found, key=lambda m: (m.external_variant_id, m.id))

    def for_variants(
        self, integration_id: str, external_variant_ids: Iterable[str]
    ) -> list[ProductMapping]:
        wanted = set(external_variant_ids)
        found = self._tx.scan(
            "mappings",
            lambda m: m.integration_id == integration_id and m.external_variant_id in wanted,
        )
        return sorted(found, key=lambda m: (m.external_variant_id, m.id))

    def update(self, mapping: ProductMapping) -> None:
        other = self.get_by_variant(mapping.integration_id, mapping.external_variant_id)
        if other is not None and other.id != mapping.id:
            raise Conflict(f"store variant {mapping.external_variant_id} is already mapped")
        self._replace("mappings", mapping.id, mapping, "product mapping")

    def delete(self, mapping_id: str) -> None:
        self._tx.delete("mappings", mapping_id)
        for key in [k for k in self._tx.table("inventory_states") if k[0] == mapping_id]:
            self._tx.delete("inventory_states", key)


class MemoryInventorySyncRepository(_Repo):
    def mark_dirty(
        self, integration_id: str, product_id: str, warehouse_id: str, when: datetime
    ) -> None:
        key = (integration_id, product_id, warehouse_id)
        found: DirtyStock | None = self._tx.get("inventory_dirty", key)
        version = found.version + 1 if found else 1
        self._tx.put(
            "inventory_dirty",
            key,
            DirtyStock(integration_id, product_id, warehouse_id, version, when),
        )

    def dirty(
        self,
        integration_id: str,
        *,
        limit: int = 10_000,
        product_ids: Iterable[str] | None = None,
    ) -> builtins.list[DirtyStock]:
        some = None if product_ids is None else set(product_ids)
        found = self._tx.scan(
            "inventory_dirty",
            lambda d: d.integration_id == integration_id and (some is None or d.product_id in some),
        )
        return sorted(found, key=lambda d: (d.marked_at, d.product_id, d.warehouse_id))[:limit]

    def clear_dirty(self, marks: Iterable[DirtyStock]) -> int:
        cleared = 0
        for mark in marks:
            key = (mark.integration_id, mark.product_id, mark.warehouse_id)
            found: DirtyStock | None = self._tx.get("inventory_dirty", key)
            if found is not None and found.version == mark.version:
                self._tx.delete("inventory_dirty", key)
                cleared += 1
        return cleared

    def states(
        self, integration_id: str, *, mapping_ids: Iterable[str] | None = None
    ) -> builtins.list[InventoryPushState]:
        some = None if mapping_ids is None else set(mapping_ids)
        found = self._tx.scan(
            "inventory_states",
            lambda s: s.integration_id == integration_id and (some is None or s.mapping_id in some),
        )
        return sorted(found, key=lambda s: (s.mapping_id, s.location_id))

    def save_states(self, states: Iterable[InventoryPushState]) -> None:
        for state in states:
            if self._tx.get("mappings", state.mapping_id) is None:
                raise NotFound("product mapping not found")
            self._tx.put("inventory_states", (state.mapping_id, state.location_id), state)


class MemoryCatalogRepository(_Repo):
    def upsert(self, variants: Iterable[CatalogVariant]) -> int:
        count = 0
        for variant in variants:
            self._tx.put("catalog", (variant.integration_id, variant.external_variant_id), variant)
            count += 1
        return count

    def get(self, integration_id: str, external_variant_id: str) -> CatalogVariant | None:
        got: CatalogVariant | None = self._tx.get("catalog", (integration_id, external_variant_id))
        return got

    def _matching(
        self, integration_id: str, mapped: bool | None, q: str | None
    ) -> builtins.list[CatalogVariant]:
        mapped_ids = {
            m.external_variant_id
            for m in self._tx.table("mappings").values()
            if m.integration_id == integration_id
        }
        needle = q.lower() if q else None

        def match(v: CatalogVariant) -> bool:
            if v.integration_id != integration_id:
                return False
            if mapped is not None and (v.external_variant_id in mapped_ids) != mapped:
                return False
            if needle is None:
                return True
            return any(
                _contains(text, needle) for text in (v.sku, v.barcode, v.title, v.product_title)
            )

        found = self._tx.scan("catalog", match)
        return sorted(
            found, key=lambda v: (v.product_title.lower(), v.title.lower(), v.external_variant_id)
        )

    def list(
        self,
        integration_id: str,
        *,
        mapped: bool | None = None,
        q: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[CatalogVariant]:
        return _page(self._matching(integration_id, mapped, q), limit, offset)

    def count(
        self, integration_id: str, *, mapped: bool | None = None, q: str | None = None
    ) -> int:
        return len(self._matching(integration_id, mapped, q))

    def delete_missing(self, integration_id: str, keep: Iterable[str]) -> int:
        kept = set(keep)
        gone = [
            key
            for key, v in self._tx.table("catalog").items()
            if v.integration_id == integration_id and v.external_variant_id not in kept
        ]
        for key in gone:
            self._tx.delete("catalog", key)
        return len(gone)


def _claim(
    tx: Transaction,
    table: str,
    *,
    claimable: frozenset[str],
    now: datetime,
    limit: int,
    lease_seconds: float,
    worker_id: str,
) -> list[Q]:
    def due(item: Q) -> bool:
        if item.status in claimable:
            return item.next_attempt_at <= now
        return (
            item.status == "processing"
            and item.locked_until is not None
            and item.locked_until <= now
        )

    candidates = sorted(
        (i for i in tx.table(table).values() if due(i)),
        key=lambda i: (i.next_attempt_at, i.id),
    )[:limit]
    claimed: list[Q] = []
    for item in candidates:
        taken = evolve(
            item,
            status="processing",
            attempts=item.attempts + 1,
            locked_by=worker_id,
            locked_until=now + timedelta(seconds=lease_seconds),
        )
        tx.put(table, taken.id, taken)
        claimed.append(tx.get(table, taken.id))
    return claimed


def _backlog(items: Iterable[InboxEvent | OutboxCommand]) -> Backlog:
    counts = {"waiting": 0, "retrying": 0, "processing": 0, "dead": 0}
    oldest: datetime | None = None
    for item in items:
        if item.status in ("received", "pending"):
            state = "waiting"
        elif item.status == "failed":
            state = "retrying"
        elif item.status in ("processing", "dead"):
            state = item.status
        else:
            continue
        counts[state] += 1
        arrived = item.received_at if isinstance(item, InboxEvent) else item.created_at
        if state != "dead" and (oldest is None or arrived < oldest):
            oldest = arrived
    return Backlog(**counts, oldest_at=oldest)


class MemoryInboxRepository(_Repo):
    def add(self, event: InboxEvent, *, payload_json: bytes | None = None) -> bool:
        if payload_json is not None:  # the document's value, as PostgreSQL would read it
            event = evolve(event, payload=load_document(payload_json))
        for other in self._tx.table("inbox").values():
            if other.platform == event.platform and other.delivery_id == event.delivery_id:
                return False
        if event.id in self._tx.table("inbox"):
            return False
        self._tx.put("inbox", event.id, event)
        return True

    def get(self, event_id: str) -> InboxEvent | None:
        got: InboxEvent | None = self._tx.get("inbox", event_id)
        return got

    def claim_due(
        self, now: datetime, *, limit: int, lease_seconds: float, worker_id: str
    ) -> builtins.list[InboxEvent]:
        return _claim(
            self._tx,
            "inbox",
            claimable=INBOX_CLAIMABLE,
            now=now,
            limit=limit,
            lease_seconds=lease_seconds,
            worker_id=worker_id,
        )

    def update(self, event: InboxEvent) -> None:
        self._replace("inbox", event.id, event, "event")

    def list(
        self,
        *,
        integration_id: str | None = None,
        status: InboxStatus | None = None,
        limit: int = 100,
        offset: int = 0,
        integration_ids: Sequence[str] | None = None,
        before: tuple[datetime, str] | None = None,
    ) -> builtins.list[InboxEvent]:
        among = None if integration_ids is None else set(integration_ids)
        found = self._tx.scan(
            "inbox",
            lambda e: (
                (integration_id is None or e.integration_id == integration_id)
                and (status is None or e.status == status)
                and (among is None or e.integration_id in among)
                and (before is None or (e.received_at, e.id) < before)
            ),
        )
        ordered = sorted(found, key=lambda e: (e.received_at, e.id), reverse=True)
        return _page(ordered, limit, offset)

    def for_store_order(
        self, integration_id: str, external_order_id: str, *, limit: int = 50
    ) -> builtins.list[InboxEvent]:
        def about(e: InboxEvent) -> bool:
            if e.integration_id != integration_id:
                return False
            edit = e.payload.get("order_edit")
            named = e.payload.get("id") or (edit.get("order_id") if isinstance(edit, dict) else "")
            return str(named or "") == external_order_id

        found = self._tx.scan("inbox", about)
        return sorted(found, key=lambda e: (e.received_at, e.id), reverse=True)[:limit]

    def counts(self, integration_id: str, since: datetime) -> dict[str, int]:
        counts: dict[str, int] = {}
        for e in self._tx.table("inbox").values():
            if e.integration_id == integration_id and e.received_at >= since:
                counts[e.status] = counts.get(e.status, 0) + 1
        return counts

    def backlog(self) -> Backlog:
        return _backlog(self._tx.table("inbox").values())


class MemoryOutboxRepository(_Repo):
    def add(self, command: OutboxCommand) -> bool:
        for other in self._tx.table("outbox").values():
            if other.idempotency_key == command.idempotency_key:
                return False
        if command.id in self._tx.table("outbox"):
            return False
        self._tx.put("outbox", command.id, command)
        return True

    def get(self, command_id: str) -> OutboxCommand | None:
        got: OutboxCommand | None = self._tx.get("outbox", command_id)
        return got

    def claim_due(
        self, now: datetime, *, limit: int, lease_seconds: float, worker_id: str
    ) -> builtins.list[OutboxCommand]:
        return _claim(
            self._tx,
            "outbox",
            claimable=OUTBOX_CLAIMABLE,
            now=now,
            limit=limit,
            lease_seconds=lease_seconds,
            worker_id=worker_id,
        )

    def update(self, command: OutboxCommand) -> None:
        self._replace("outbox", command.id, command, "command")

    def backlog(self) -> Backlog:
        return _backlog(self._tx.table("outbox").values())

    def list(
        self,
        *,
        integration_id: str | None = None,
        status: OutboxStatus | None = None,
        kind: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[OutboxCommand]:
        found = self._tx.scan(
            "outbox",
            lambda c: (
                (integration_id is None or c.integration_id == integration_id)
                and (status is None or c.status == status)
                and (kind is None or c.kind == kind)
            ),
        )
        ordered = sorted(found, key=lambda c: (c.created_at, c.id), reverse=True)
        return _page(ordered, limit, offset)


class MemoryAlertRepository(_Repo):
    def add(self, alert: Alert) -> None:
        self._insert("alerts", alert.id, alert, "alert")

    def get(self, alert_id: str) -> Alert | None:
        got: Alert | None = self._tx.get("alerts", alert_id)
        return got

    def update(self, alert: Alert) -> None:
        self._replace("alerts", alert.id, alert, "alert")

    def list(
        self,
        *,
        client_id: str | None = None,
        integration_id: str | None = None,
        unresolved_only: bool = False,
        subject_id: str | None = None,
        code: str | None = None,
        limit: int = 100,
        status: AlertStatus | None = None,
        order_id: str | None = None,
        offset: int = 0,
    ) -> list[Alert]:
        found = self._tx.scan(
            "alerts",
            lambda a: (
                (client_id is None or a.client_id == client_id)
                and (integration_id is None or a.integration_id == integration_id)
                and (not unresolved_only or a.resolved_at is None)
                and (subject_id is None or a.subject_id == subject_id)
                and (code is None or a.code == code)
                and (status is None or a.status == status)
                and (order_id is None or a.order_id == order_id)
            ),
        )
        ordered = sorted(found, key=lambda a: (a.created_at, a.id), reverse=True)
        return _page(ordered, limit, offset)

    def count_unresolved(self, integration_id: str) -> int:
        return sum(
            1
            for a in self._tx.table("alerts").values()
            if a.integration_id == integration_id and a.resolved_at is None
        )

    def resolve(self, alert_id: str, when: datetime) -> None:
        alert: Alert | None = self._tx.get("alerts", alert_id)
        if alert is not None and alert.resolved_at is None:
            alert.resolved_at = when
            self._tx.put("alerts", alert_id, alert)


class MemorySyncRunRepository(_Repo):
    def add(self, run: SyncRun) -> None:
        self._insert("sync_runs", run.id, run, "sync run")

    def update(self, run: SyncRun) -> None:
        self._replace("sync_runs", run.id, run, "sync run")

    def latest(self, integration_id: str, kind: str) -> SyncRun | None:
        found = self._tx.scan(
            "sync_runs", lambda r: r.integration_id == integration_id and r.kind == kind
        )
        return max(found, key=lambda r: (r.started_at, r.id), default=None)

    def list(self, *, integration_id: str | None = None, limit: int = 50) -> list[SyncRun]:
        found = self._tx.scan(
            "sync_runs", lambda r: integration_id is None or r.integration_id == integration_id
        )
        return sorted(found, key=lambda r: (r.started_at, r.id), reverse=True)[:limit]


class MemoryJobRepository(_Repo):
    def add(self, job: Job) -> bool:
        if job.id in self._tx.table("jobs") or self.pending(job.integration_id, job.kind):
            return False
        self._tx.put("jobs", job.id, job)
        return True

    def get(self, job_id: str) -> Job | None:
        got: Job | None = self._tx.get("jobs", job_id)
        return got

    def peek(self, job_id: str) -> Job | None:
        return self.get(job_id)

    def pending(self, integration_id: str, kind: JobKind) -> Job | None:
        found = self._tx.scan(
            "jobs", lambda j: j.integration_id == integration_id and j.kind == kind and j.pending
        )
        return next(found, None)

    def claim_due(
        self, now: datetime, *, limit: int, lease_seconds: float, worker_id: str
    ) -> builtins.list[Job]:
        def due(job: Job) -> bool:
            if job.status == "queued":
                return job.next_attempt_at <= now
            return (
                job.status == "running" and job.locked_until is not None and job.locked_until <= now
            )

        candidates = sorted(self._tx.scan("jobs", due), key=lambda j: (j.next_attempt_at, j.id))[
            : max(0, limit)
        ]
        for job in candidates:
            job.start(worker_id, now, now + timedelta(seconds=lease_seconds))
            self._tx.put("jobs", job.id, job)
        return candidates

    def update(self, job: Job) -> None:
        self._replace("jobs", job.id, job, "job")

    def list(
        self, integration_id: str, *, kind: JobKind | None = None, limit: int = 20
    ) -> builtins.list[Job]:
        found = self._tx.scan(
            "jobs",
            lambda j: j.integration_id == integration_id and (kind is None or j.kind == kind),
        )
        return sorted(found, key=lambda j: (j.created_at, j.id), reverse=True)[:limit]
