"""OAuth as Shopify runs it: the consent page, the signed callback and the token endpoint.

``GET /store/<shop>/admin/oauth/authorize`` shows the consent page (or, with ``auto_approve``,
approves at once) and redirects to the app's ``redirect_uri`` with ``code, hmac, host, shop,
state, timestamp``; ``hmac`` is the hex HMAC-SHA256 of the other parameters, sorted, joined
``k=v`` with ``&``, delimiters escaped (``tests/fixtures/shopify/hmac-vectors.json``).

``POST /store/<shop>/admin/oauth/access_token`` exchanges a code (single use) for an offline
token: expiring (``expiring=1``: access token plus a rotating refresh token) or not. A refresh
(``grant_type=refresh_token``) returns a new pair; the refresh token used stays valid until
the new one is used.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, current_app, jsonify, request

from adapters.shopify.sandbox.config import SandboxConfig
from adapters.shopify.sandbox.state import (
    AccessToken,
    AuthorizationCode,
    Installation,
    RefreshToken,
    SandboxState,
    Shop,
)

__all__ = ["TokenService", "oauth_blueprint", "sign_query", "signature_message"]


def _escape(text: str, *, key: bool) -> str:
    text = text.replace("%", "%25").replace("&", "%26")
    return text.replace("=", "%3D") if key else text


def signature_message(params: Mapping[str, str | Sequence[str]]) -> str:
    """The text Shopify signs: params but ``hmac``/``signature``, sorted, ``k=v`` joined by ``&``.

    A list parameter ``ids[]`` is signed as ``ids=["2", "1"]`` (order kept).
    """
    parts: dict[str, str] = {}
    for name, value in params.items():
        if name in {"hmac", "signature"}:
            continue
        if isinstance(value, str):
            parts[name] = value
        else:
            key = name[:-2] if name.endswith("[]") else name
            parts[key] = json.dumps([str(v) for v in value])
    return "&".join(
        f"{_escape(k, key=True)}={_escape(v, key=False)}" for k, v in sorted(parts.items())
    )


def sign_query(params: Mapping[str, str | Sequence[str]], secret: str) -> str:
    return hmac.new(secret.encode(), signature_message(params).encode(), hashlib.sha256).hexdigest()


class TokenError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


class TokenService:
    """Codes, access tokens and refresh tokens. Callers hold ``state.lock``."""

    def __init__(self, state: SandboxState, config: SandboxConfig) -> None:
        self.state = state
        self.config = config

    def _later(self, seconds: float) -> datetime:
        return self.state.clock.now() + timedelta(seconds=seconds)

    def approve(self, shop: Shop, scopes: tuple[str, ...], redirect_uri: str) -> str:
        """The merchant clicked Install: the app is installed and a code issued."""
        now = self.state.now()
        if shop.installation is None or not shop.installation.installed:
            shop.installation = Installation(scopes=scopes, installed_at=now)
        else:
            shop.installation.scopes = scopes
        code = secrets.token_hex(16)
        self.state.codes[code] = AuthorizationCode(
            code=code,
            shop=shop.domain,
            client_id=self.config.client_id,
            scopes=scopes,
            redirect_uri=redirect_uri,
            expires_at=self._later(self.config.authorization_code_lifetime),
        )
        return code

    def issue(
        self, shop: Shop, scopes: tuple[str, ...], *, expiring: bool, parent: str | None = None
    ) -> dict[str, Any]:
        now = self.state.clock.now()
        access = AccessToken(
            token="shpat_" + secrets.token_hex(16),
            shop=shop.domain,
            scopes=scopes,
            issued_at=now,
            expires_at=self._later(self.config.access_token_lifetime) if expiring else None,
        )
        self.state.access_tokens[access.token] = access
        body: dict[str, Any] = {"access_token": access.token, "scope": ",".join(scopes)}
        if expiring:
            refresh = RefreshToken(
                token="shprt_" + secrets.token_hex(16),
                shop=shop.domain,
                scopes=scopes,
                issued_at=now,
                expires_at=self._later(self.config.refresh_token_lifetime),
                parent=parent,
            )
            self.state.refresh_tokens[refresh.token] = refresh
            body["expires_in"] = int(self.config.access_token_lifetime)
            body["refresh_token"] = refresh.token
            body["refresh_token_expires_in"] = int(self.config.refresh_token_lifetime)
        return body

    def _client(self, data: Mapping[str, Any]) -> None:
        client_id = str(data.get("client_id") or "")
        client_secret = str(data.get("client_secret") or "")
        ok_id = hmac.compare_digest(client_id.encode(), self.config.client_id.encode())
        ok_secret = hmac.compare_digest(client_secret.encode(), self.config.client_secret.encode())
        if not (ok_id and ok_secret):
            raise TokenError(
                "invalid_client",
                "Client authentication failed: unknown client_id or wrong client_secret.",
            )

    def exchange(self, shop: Shop, data: Mapping[str, Any]) -> dict[str, Any]:
        self._client(data)
        grant_type = str(data.get("grant_type") or "authorization_code")
        if grant_type == "refresh_token":
            return self.refresh(shop, str(data.get("refresh_token") or ""))
        if grant_type != "authorization_code":
            raise TokenError(
                "unsupported_grant_type", f"grant_type {grant_type!r} is not supported"
            )
        code = self.state.codes.get(str(data.get("code") or ""))
        now = self.state.clock.now()
        if (
            code is None
            or code.used
            or code.shop != shop.domain
            or code.expires_at <= now
            or shop.installation is None
            or not shop.installation.installed
        ):
            raise TokenError(
                "invalid_request", "The authorization code was not found or was already used"
            )
        code.used = True
        expiring = str(data.get("expiring", "0")).lower() in {"1", "true"}
        return self.issue(shop, code.scopes, expiring=expiring)

    def refresh(self, shop: Shop, token_value: str) -> dict[str, Any]:
        token = self.state.refresh_tokens.get(token_value)
        now = self.state.clock.now()
        if token is None or token.revoked or token.shop != shop.domain or token.expires_at <= now:
            raise TokenError("invalid_grant", "The refresh token is invalid, expired or revoked.")
        # Using a refresh token completes the previous rotation: its predecessor dies now.
        if token.parent is not None:
            previous = self.state.refresh_tokens.get(token.parent)
            if previous is not None:
                previous.revoked = True
        return self.issue(shop, token.scopes, expiring=True, parent=token.token)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f1f2f4; margin: 0; }}
main {{ max-width: 34rem; margin: 4rem auto; background: #fff; border-radius: 12px;
       padding: 2rem; box-shadow: 0 1px 3px rgba(0,0,0,.15); }}
h1 {{ font-size: 1.25rem; }} li {{ margin: .25rem 0; }} code {{ background: #f1f2f4; }}
button {{ background: #303030; color: #fff; border: 0; border-radius: 8px;
         padding: .6rem 1.4rem; font-size: 1rem; cursor: pointer; }}
.muted {{ color: #616161; font-size: .875rem; }}
</style></head><body><main>{body}</main></body></html>"""


def _page(title: str, body: str, status: int = 200) -> Response:
    html = _PAGE.format(title=escape(title), body=body)
    return Response(html, status=status, mimetype="text/html")


def _error_page(message: str, status: int = 400) -> Response:
    return _page(
        "Oauth error",
        f"<h1>Oauth error invalid_request</h1><p>{escape(message)}</p>",
        status,
    )


def _host_param(shop: Shop) -> str:
    raw = f"admin.shopify.com/store/{shop.short_name}".encode()
    return base64.b64encode(raw).decode().rstrip("=")


def oauth_blueprint() -> Blueprint:
    blueprint = Blueprint("sandbox_oauth", __name__)

    @blueprint.route("/store/<shop>/admin/oauth/authorize", methods=["GET", "POST"])
    def authorize(shop: str) -> Response:
        runtime = current_app.extensions["sandbox"]
        state: SandboxState = runtime.state
        config: SandboxConfig = runtime.config
        params = request.values
        with state.lock:
            found = state.shops.get(shop.lower())
            if found is None:
                return _page(
                    "Store unavailable",
                    "<h1>Sorry, this store is unavailable</h1>",
                    404,
                )
            client_id = params.get("client_id", "")
            if not hmac.compare_digest(client_id.encode(), config.client_id.encode()):
                return _error_page("The client_id is invalid or unknown.")
            redirect_uri = params.get("redirect_uri", "")
            parts = urlsplit(redirect_uri)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                return _error_page("The redirect_uri is missing or not a valid URL.")
            if config.redirect_uri_prefixes and not any(
                redirect_uri.startswith(prefix) for prefix in config.redirect_uri_prefixes
            ):
                return _error_page("The redirect_uri is not whitelisted.")
            scopes = tuple(
                dict.fromkeys(s.strip() for s in params.get("scope", "").split(",") if s.strip())
            )
            nonce = params.get("state")
            auto = state.auto_approve if state.auto_approve is not None else config.auto_approve
            approved = auto or (request.method == "POST" and params.get("decision") == "install")
            if not approved:
                return _consent_page(found, config, scopes, redirect_uri, nonce)
            code = runtime.tokens.approve(found, scopes, redirect_uri)
            callback: dict[str, str] = {
                "code": code,
                "host": _host_param(found),
                "shop": found.domain,
                "timestamp": str(int(state.clock.now().timestamp())),
            }
            if nonce is not None:
                callback["state"] = nonce
            callback["hmac"] = sign_query(callback, config.client_secret)
        separator = "&" if parts.query else "?"
        return Response(
            status=302, headers={"Location": redirect_uri + separator + urlencode(callback)}
        )

    @blueprint.route("/store/<shop>/admin/oauth/access_token", methods=["POST"])
    def access_token(shop: str) -> tuple[Response, int]:
        runtime = current_app.extensions["sandbox"]
        state: SandboxState = runtime.state
        body: object = request.get_json(silent=True) if request.is_json else request.form
        data: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
        with state.lock:
            found = state.shops.get(shop.lower())
            if found is None:
                return jsonify({"errors": "Not Found"}), 404
            try:
                body = runtime.tokens.exchange(found, data)
            except TokenError as exc:
                return jsonify(
                    {"error": exc.error, "error_description": exc.description}
                ), exc.status
        return jsonify(body), 200

    return blueprint


def _consent_page(
    shop: Shop,
    config: SandboxConfig,
    scopes: tuple[str, ...],
    redirect_uri: str,
    nonce: str | None,
) -> Response:
    hidden = {
        "client_id": config.client_id,
        "scope": ",".join(scopes),
        "redirect_uri": redirect_uri,
        "decision": "install",
    }
    if nonce is not None:
        hidden["state"] = nonce
    fields = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in hidden.items()
    )
    items = "".join(f"<li><code>{escape(scope)}</code></li>" for scope in scopes) or "<li>none</li>"
    body = (
        f"<p class='muted'>{escape(shop.name)} &middot; {escape(shop.domain)}</p>"
        f"<h1>Install {escape(config.app_name)}</h1>"
        f"<p>{escape(config.app_name)} will be able to:</p><ul>{items}</ul>"
        f"<form method='post'>{fields}<button type='submit' id='install'>Install</button></form>"
        "<p class='muted'>This is the storelink sandbox, a simulated Shopify store.</p>"
    )
    return _page(f"Install {config.app_name}", body)
