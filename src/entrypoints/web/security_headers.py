"""Headers every response carries, pages and API alike.

* ``Content-Security-Policy``: everything from this site only; no inline script or style
  (the portal's CSS is ``static/portal.css``, it uses no script), no plugins, no ``<base>``,
  and ``frame-ancestors 'none'`` so no other site can frame a page (clickjacking).
  ``form-action`` is left out on purpose: the "Connect" form's answer redirects the browser to
  the store's consent page, and browsers apply ``form-action`` to that redirect too.
* ``X-Frame-Options: DENY`` for browsers that predate ``frame-ancestors``.
* ``X-Content-Type-Options: nosniff``: a JSON or text answer is never run as a script or page.
* ``Referrer-Policy: same-origin``: our URLs (integration ids, filters) never leak to a store
  or any other site; our own pages still see where a form came from.
* ``Cross-Origin-Opener-Policy: same-origin``: a page opened from another site cannot reach it.
"""

from __future__ import annotations

from flask import Flask, Response

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def register(app: Flask) -> None:
    @app.after_request
    def secure(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response
