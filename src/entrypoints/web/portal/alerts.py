"""The alerts inbox: what needs someone's eye, with links to what each alert concerns.

Client users see their client's alerts, staff everyone's (with a client filter). By default
the inbox shows what is still to do (open and acknowledged); resolved alerts are a filter
away. Staff and a client's owner or admin acknowledge and resolve; members look.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator
from itertools import islice
from typing import Any

from flask import render_template, request
from werkzeug.wrappers import Response

from core.model import Alert, AlertStatus, User
from core.services import alerts, integrations
from entrypoints.web.auth import login_required
from entrypoints.web.context import actor, ctx
from entrypoints.web.errors import ApiError
from entrypoints.web.portal._common import MESSAGES, _back, _notices, _required, bp

PER_PAGE = 50
MAX_PAGE_NUMBER = 10_000
KIND = re.compile(r"[a-z][a-z0-9_]{0,63}")
# the status filter: its query value, its label, the statuses it shows (None: every status)
STATUS_CHOICES: dict[str, tuple[str, tuple[AlertStatus, ...] | None]] = {
    "": ("Open and acknowledged", ("open", "acknowledged")),
    "open": ("Open", ("open",)),
    "acknowledged": ("Acknowledged", ("acknowledged",)),
    "resolved": ("Resolved", ("resolved",)),
    "all": ("Any status", None),
}
KNOWN_KINDS = (
    "order_on_hold",
    "queue_item_dead",
    "store_auth_failed",
    "store_order_identity_conflict",
    "fulfillment_rejected",
    "inventory_sync_problem",
    "cancelled_after_shipping",
    "changed_after_picking",
    "app_uninstalled",
    "customer_data_request",
)


def _client_names() -> dict[str, str]:
    with ctx().uow() as uow:
        return {c.id: c.name for c in uow.clients.list()}


def _whole(raw: str | None, default: int, highest: int) -> int | None:
    """A whole number 1..highest from the query (``default`` when absent), else ``None``."""
    if raw is None or raw == "":
        return default
    if raw.isdigit() and len(raw) <= len(str(highest)) and 1 <= int(raw) <= highest:
        return int(raw)
    return None


def _filters(user: User, source: Any, prefix: str = "") -> tuple[dict[str, Any], list[str]]:
    """The inbox filters from the query (or a form's ``filter_`` fields): what is valid, and
    the message codes of what was not (dropped)."""
    problems: list[str] = []

    def value(name: str) -> str | None:
        raw = source.get(prefix + name)
        return raw[:200] if isinstance(raw, str) and raw else None

    status = value("status") or ""
    if status not in STATUS_CHOICES:
        problems.append("alert_status_unknown")
        status = ""
    kind = value("kind")
    if kind is not None and not KIND.fullmatch(kind):
        problems.append("alert_kind_invalid")
        kind = None
    page = _whole(value("page"), 1, MAX_PAGE_NUMBER)
    per_page = _whole(value("per_page"), PER_PAGE, alerts.MAX_PAGE)
    if page is None:
        problems.append("page_invalid")
        page = 1
    if per_page is None:
        problems.append("per_page_invalid")
        per_page = PER_PAGE
    return {
        "status": status,
        "integration": value("integration"),
        "kind": kind,
        "client": value("client") if user.is_staff else None,
        "page": page,
        "per_page": per_page,
    }, problems


def _stream(user: User, status: AlertStatus | None, **filters: Any) -> Iterator[Alert]:
    """Every alert of one status matching the filters, newest first, read a page at a time."""
    offset = 0
    while True:
        batch = alerts.list_alerts(
            ctx(), user, status=status, limit=alerts.MAX_PAGE, offset=offset, **filters
        )
        yield from batch
        if len(batch) < alerts.MAX_PAGE:
            return
        offset += alerts.MAX_PAGE


def _page_of(user: User, chosen: dict[str, Any]) -> tuple[list[Alert], bool]:
    """The page's alerts and whether more follow. Several statuses (the default, open and
    acknowledged) are merged newest first from one stream each: the unresolved alerts are
    few, and the core lists one status at a time."""
    limit, offset = chosen["per_page"], (chosen["page"] - 1) * chosen["per_page"]
    filters = {
        "integration_id": chosen["integration"],
        "kind": chosen["kind"],
        "client_id": chosen["client"],
    }
    statuses = STATUS_CHOICES[chosen["status"]][1]
    if statuses is None or len(statuses) == 1:
        found = alerts.list_alerts(
            ctx(),
            user,
            status=statuses[0] if statuses else None,
            limit=limit + 1,
            offset=offset,
            **filters,
        )
    else:
        merged = heapq.merge(
            *(_stream(user, status, **filters) for status in statuses),
            key=lambda a: (a.created_at, a.id),
            reverse=True,
        )
        found = list(islice(merged, offset, offset + limit + 1))
    return found[:limit], len(found) > limit


def _may_act(user: User, alert: Alert) -> bool:
    """As for a store's settings: staff, or the client's owner or admin."""
    return user.is_staff or (
        alert.client_id is not None and user.can_manage_integrations(alert.client_id)
    )


def _query(chosen: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The page's query for links and redirects; defaults left out."""
    query = {**chosen, **changes}
    defaults = {"page": 1, "per_page": PER_PAGE}
    return {
        key: value
        for key, value in query.items()
        if value not in (None, "") and defaults.get(key) != value
    }


@bp.get("/portal/alerts")
@login_required
def alerts_page() -> tuple[str, int]:
    user = actor()
    chosen, problems = _filters(user, request.args)
    visible = integrations.list_integrations(ctx(), user)
    if chosen["integration"] is not None:  # another tenant's store: a 404 page
        integrations.get_integration(ctx(), user, chosen["integration"])
    found, more = _page_of(user, chosen)
    notices = _notices()
    if problems:
        notices["error"] = " ".join(MESSAGES[code] for code in problems)
    return (
        render_template(
            "alerts.html",
            alerts=found,
            has_more=more,
            stores={i.id: i for i in visible},
            integrations=visible,
            clients=_client_names() if user.is_staff else {},
            actionable={a.id for a in found if _may_act(user, a) and a.status != "resolved"},
            status_choices=STATUS_CHOICES,
            kinds=KNOWN_KINDS,
            chosen=chosen,
            query=_query(chosen),
            first_query=_query(chosen, page=1),
            previous_query=_query(chosen, page=chosen["page"] - 1),
            next_query=_query(chosen, page=chosen["page"] + 1),
            **notices,
        ),
        400 if problems else 200,
    )


def _act(change: str) -> Response:
    """Acknowledge or resolve one alert, then back to the inbox as it was filtered."""
    user = actor()
    alert = alerts.get_alert(ctx(), user, _required("alert_id"))  # another tenant's: 404
    if not _may_act(user, alert):
        raise ApiError(403, "forbidden", "only the client's owner or admin (or staff) may do this")
    chosen, _ = _filters(user, request.form, prefix="filter_")
    back = _query(chosen)
    if alert.status == "resolved":
        return _back("portal.alerts_page", error="alert_already_resolved", **back)
    if change == "acknowledge":
        alerts.acknowledge(ctx(), user, alert.id)
        return _back("portal.alerts_page", message="alert_acknowledged", **back)
    alerts.resolve(ctx(), user, alert.id)
    return _back("portal.alerts_page", message="alert_resolved", **back)


@bp.post("/portal/alerts/acknowledge")
@login_required
def acknowledge_alert() -> Response:
    return _act("acknowledge")


@bp.post("/portal/alerts/resolve")
@login_required
def resolve_alert() -> Response:
    return _act("resolve")
