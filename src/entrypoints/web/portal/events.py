"""Webhook events, the orders they concern, and their retry.

The list is keyset-paged (``events.list_events``): "Older events" carries the cursor of the
page's last row, so a deep page costs what the first does. A bad filter or a broken cursor
shows the page with an inline error (status 400) rather than an error page; another
tenant's store or event is a 404 page.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from werkzeug.wrappers import Response

from core.errors import InvalidInput
from core.model import InboxStatus
from core.services import events, integrations
from core.services.events import INBOX_STATUSES, EventPage
from entrypoints.web.auth import login_required
from entrypoints.web.context import actor, ctx, services
from entrypoints.web.errors import ApiError
from entrypoints.web.inputs import arg
from entrypoints.web.portal._common import MESSAGES, _back, _field, _notices, _required, bp

PER_PAGE = 50
MAX_CURSOR = 300  # an ISO timestamp, a bar and an id


def _status(raw: str | None) -> InboxStatus | None:
    return next((s for s in INBOX_STATUSES if s == raw), None)


def _per_page(raw: str | None) -> int | None:
    """Rows per page from the query; ``None`` when it is not a whole number 1-200."""
    if raw is None:
        return PER_PAGE
    if raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= events.MAX_PAGE:
        return int(raw)
    return None


@bp.get("/portal/events")
@login_required
def events_page() -> tuple[str, int]:
    user = actor()
    sc = services().store
    visible = integrations.list_integrations(ctx(), user)
    problems: list[str] = []
    integration_id = arg("integration")
    raw_status = arg("status")
    status = _status(raw_status)
    if raw_status is not None and status is None:
        problems.append("event_status_unknown")
    limit = _per_page(arg("per_page"))
    if limit is None:
        problems.append("per_page_invalid")
        limit = PER_PAGE
    cursor = request.args.get("cursor") or None
    if cursor is not None and len(cursor) > MAX_CURSOR:
        problems.append("cursor_invalid")
        cursor = None
    single = arg("event")
    if single is not None:
        # one event, as an alert links it: another tenant's is a 404 page
        found = EventPage([events.get_event(sc, user, single)], None)
    else:
        try:
            found = events.list_events(
                sc, user, integration_id=integration_id, status=status, limit=limit, cursor=cursor
            )
        except InvalidInput:  # only the cursor can be wrong here: the rest is checked above
            problems.append("cursor_invalid")
            cursor = None
            found = events.list_events(
                sc, user, integration_id=integration_id, status=status, limit=limit
            )
    stores = {i.id: i for i in visible}
    notices = _notices()
    if problems:
        notices["error"] = " ".join(MESSAGES[code] for code in problems)
    return (
        render_template(
            "events.html",
            rows=found.rows,
            next_cursor=found.next_cursor,
            stores=stores,
            integrations=visible,
            manageable={i for i, s in stores.items() if user.can_manage_integrations(s.client_id)},
            staff=user.is_staff,
            statuses=INBOX_STATUSES,
            selected_integration=integration_id or "",
            selected_status=status or "",
            selected_event=single or "",
            cursor=cursor or "",
            per_page=limit,
            **notices,
        ),
        400 if problems else 200,
    )


@bp.post("/portal/events/retry")
@login_required
def retry_event() -> Response:
    """Retry one event (staff, or the store's owner or admin). A stale page's retry of an
    event that can no longer be retried comes back with an inline error."""
    user = actor()
    sc = services().store
    event_id = _required("event_id")
    row = events.get_event(sc, user, event_id)  # another tenant's: 404 page
    named = _field("integration")  # the form's store, when it names one, must be the event's
    if named is not None and named != row.event.integration_id:
        raise ApiError(404, "not_found", "event not found")
    status = _field("filter_status")
    cursor = _field("filter_cursor", max_length=MAX_CURSOR)
    back: dict[str, Any] = {
        "integration": _field("filter_integration"),
        "status": _status(status),
        "event": _field("filter_event"),
        "cursor": cursor,
        "per_page": _per_page(_field("filter_per_page")),
    }
    if back["per_page"] == PER_PAGE:
        back["per_page"] = None
    try:
        events.retry_event(sc, user, event_id)
    except InvalidInput as exc:
        if exc.code != "not_retryable":
            raise
        return _back("portal.events_page", error="not_retryable", **back)
    return _back("portal.events_page", message="event_retried", **back)
