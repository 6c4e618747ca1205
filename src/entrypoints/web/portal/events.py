"""Webhook events and their retry."""

from __future__ import annotations

from typing import Any, cast

from flask import render_template
from werkzeug.wrappers import Response

from core.errors import InvalidInput
from core.model import InboxStatus
from core.services import integrations
from core.services.worker import retry
from entrypoints.web.auth import login_required
from entrypoints.web.context import actor, ctx
from entrypoints.web.errors import ApiError
from entrypoints.web.inputs import arg, page_args
from entrypoints.web.portal._common import (
    INBOX_STATUSES,
    RETRYABLE,
    _back,
    _field,
    _managed,
    _notices,
    _required,
    bp,
)

# --- webhook events --------------------------------------------------------------------------


def _status_filter() -> str | None:
    status = arg("status")
    if status is not None and status not in INBOX_STATUSES:
        raise ApiError(400, "invalid_query", f"status must be one of {', '.join(INBOX_STATUSES)}")
    return status


@bp.get("/portal/events")
@login_required
def events_page() -> str:
    user = actor()
    visible = integrations.list_integrations(ctx(), user)
    integration_id = arg("integration")
    status = _status_filter()
    limit, offset = page_args()
    chosen = (
        [integrations.get_integration(ctx(), user, integration_id)] if integration_id else visible
    )
    found = []
    with ctx().uow() as uow:
        for integration in chosen:
            found.extend(
                uow.inbox.list(
                    integration_id=integration.id,
                    status=cast(InboxStatus | None, status),
                    limit=offset + limit + 1,
                )
            )
    found.sort(key=lambda e: (e.received_at, e.id), reverse=True)
    stores = {i.id: i for i in [*visible, *chosen]}
    return render_template(
        "events.html",
        events=found[offset : offset + limit],
        stores=stores,
        integrations=visible,
        manageable={i for i, s in stores.items() if user.can_manage_integrations(s.client_id)},
        retryable=RETRYABLE,
        statuses=INBOX_STATUSES,
        selected_integration=integration_id or "",
        selected_status=status or "",
        page=offset // limit + 1,
        per_page=limit,
        has_more=len(found) > offset + limit,
        **_notices(),
    )


@bp.post("/portal/events/retry")
@login_required
def retry_event() -> Response:
    user = actor()
    found = _managed(user, _required("integration"), shopify=False)
    event_id = _required("event_id")
    with ctx().uow() as uow:
        event = uow.inbox.get(event_id)
    if event is None or event.integration_id != found.id:
        raise ApiError(404, "not_found", "event not found")
    status = _field("filter_status")
    back: dict[str, Any] = {
        "integration": _field("filter_integration"),
        "status": status if status in INBOX_STATUSES else None,
    }
    try:
        retry(ctx(), kind="inbox", item_id=event.id)
    except InvalidInput:
        return _back("portal.events_page", error="not_retryable", **back)
    return _back("portal.events_page", message="event_retried", **back)
