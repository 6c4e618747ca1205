"""The events page: what the stores sent (and reconciliation found), what became of it, and
whether retrying it could change anything.

Events are listed newest first across the stores the user may see, a page at a time with a
cursor (keyset paging on ``received_at`` and id, so page 1000 is as fast as page 1). Each
row names the warehouse order its store order became, if any, found for the whole page in
one read.
"""

from __future__ import annotations

from datetime import datetime

from attrs import frozen

from core.errors import InvalidInput, NotFound
from core.model import InboxEvent, InboxStatus, OrderRef, User
from core.services import worker
from core.services.integrations import StoreContext, require_manager, visible_integration
from core.services.webhooks import order_id_of

INBOX_STATUSES: tuple[InboxStatus, ...] = (
    "received",
    "processing",
    "processed",
    "failed",
    "skipped",
    "dead",
)
MAX_PAGE = 200


@frozen
class EventRow:
    """An inbox event, the warehouse order it concerns (``None``: none, or not imported),
    and whether staff or the store's managers may retry it (``worker.retryable``)."""

    event: InboxEvent
    order: OrderRef | None
    retryable: bool


@frozen
class EventPage:
    rows: list[EventRow]
    next_cursor: str | None  # pass it back as ``cursor`` for the next page; None: last page


def _cursor(event: InboxEvent) -> str:
    return f"{event.received_at.isoformat()}|{event.id}"


def _parse_cursor(cursor: str) -> tuple[datetime, str]:
    at, sep, event_id = cursor.partition("|")
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        when = None
    if not sep or not event_id or when is None or when.tzinfo is None:
        raise InvalidInput("cursor is not one this list gave")
    return when, event_id


def _rows(sc: StoreContext, events: list[InboxEvent]) -> list[EventRow]:
    keys = {
        event.id: (event.integration_id, order_id)
        for event in events
        if event.integration_id is not None and (order_id := order_id_of(sc, event)) is not None
    }
    with sc.ctx.uow() as uow:
        refs = uow.orders.refs_by_external(
            (integration_id, order_id) for integration_id, order_id in keys.values()
        )
    return [
        EventRow(
            event,
            refs.get(keys[event.id]) if event.id in keys else None,
            worker.retryable(event),
        )
        for event in events
    ]


def list_events(
    sc: StoreContext,
    actor: User,
    *,
    integration_id: str | None = None,
    status: InboxStatus | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> EventPage:
    """One page of events, newest first: of one store (``integration_id``; another
    tenant's answers ``NotFound``) or of every store the user sees (staff: all events, also
    those of no store)."""
    if status is not None and status not in INBOX_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(INBOX_STATUSES)}")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be 1 to {MAX_PAGE}")
    before = _parse_cursor(cursor) if cursor else None
    with sc.ctx.uow() as uow:
        among: list[str] | None = None
        if integration_id is not None:
            visible_integration(uow, actor, integration_id)
        elif not actor.is_staff:
            among = (
                [i.id for i in uow.integrations.list(actor.client_id)] if actor.client_id else []
            )
        events = (
            uow.inbox.list(
                integration_id=integration_id,
                integration_ids=among,
                status=status,
                limit=limit + 1,
                before=before,
            )
            if among != []
            else []
        )
    more = len(events) > limit
    events = events[:limit]
    return EventPage(_rows(sc, events), _cursor(events[-1]) if more else None)


def get_event(sc: StoreContext, actor: User, event_id: str) -> EventRow:
    """One event with its order; another tenant's (or, for a client user, one of no store)
    answers ``NotFound``."""
    with sc.ctx.uow() as uow:
        event = uow.inbox.get(event_id)
        if event is None or (event.integration_id is None and not actor.is_staff):
            raise NotFound("event not found")
        if event.integration_id is not None:
            try:
                visible_integration(uow, actor, event.integration_id)
            except NotFound:
                raise NotFound("event not found") from None
    return _rows(sc, [event])[0]


def retry_event(sc: StoreContext, actor: User, event_id: str) -> InboxEvent:
    """Work the event again now (``worker.retry``): for staff and the store's owner or
    admin. One that retrying cannot change is refused (``InvalidInput``, ``not_retryable``)."""
    row = get_event(sc, actor, event_id)
    if row.event.integration_id is not None:
        with sc.ctx.uow() as uow:
            require_manager(actor, visible_integration(uow, actor, row.event.integration_id))
    item = worker.retry(sc.ctx, kind="inbox", item_id=event_id)
    assert isinstance(item, InboxEvent)
    return item
