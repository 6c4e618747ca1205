"""Pages for merchants and staff. Views parse the query or the form, call the use case and
render a template; a form posts, then redirects back with a message code that names one of
the fixed texts below (input is never echoed into a message).

Tenant rules are the API's: another client's integration is a 404 page, a member may look but
not change (403 page), staff see everything. Every form that changes state carries the
session's CSRF token (``auth._check_csrf`` refuses a POST without it).
"""

from entrypoints.web.portal import (  # noqa: F401  (routes)
    account,
    alerts,
    events,
    health,
    order_page,
    orders,
    stores,
)
from entrypoints.web.portal._common import bp

__all__ = ["bp"]
