"""Read-only and token checks, run before every request; security headers after.

Without a token (the loopback default) every GET is served. With one, a request
needs ``Authorization: Bearer TOKEN``, the cookie set by an earlier ``?token=TOKEN``,
or ``?token=TOKEN`` itself (pages then redirect to the same URL without it, so the
token does not linger in the address bar or the history).
"""

from __future__ import annotations

import hmac
import ipaddress
from urllib.parse import urlencode

from flask import Flask, Response, current_app, jsonify, redirect, request

from hpsearch.errors import ConfigError

TOKEN_ENV = "HPSEARCH_DASHBOARD_TOKEN"
COOKIE = "hpsearch_dashboard_token"
READ_METHODS = frozenset({"GET", "HEAD"})
# Plotly's WebGL traces (parcoords) compile shaders with new Function: 'unsafe-eval'.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses; anything else is reachable from outside."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve beyond this machine without a token."""
    if not is_loopback(host) and not token:
        raise ConfigError(
            f"binding the dashboard to {host!r} makes it reachable from other machines; "
            f"give a token with --token or the environment variable {TOKEN_ENV} "
            "(or bind to 127.0.0.1)"
        )


def _matches(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _refuse(status: int, message: str) -> Response:
    if request.path.startswith("/api/"):
        response = jsonify({"error": message})
    else:
        response = Response(message + "\n", mimetype="text/plain")
    response.status_code = status
    return response


def guard() -> Response | None:
    """Before each request: only GET/HEAD, and the token when one is set."""
    if request.method not in READ_METHODS:
        response = _refuse(405, f"the dashboard is read-only; {request.method} is not allowed")
        response.headers["Allow"] = "GET, HEAD"
        return response
    token: str | None = current_app.config.get("HPSEARCH_TOKEN")
    if not token:
        return None
    query_token = request.args.get("token")
    if _matches(_bearer(), token) or _matches(request.cookies.get(COOKIE), token):
        return None
    if not _matches(query_token, token):
        return _refuse(401, "a token is needed: add ?token=... or 'Authorization: Bearer ...'")
    if request.path.startswith("/api/"):
        return None  # answered below; the cookie is set in add_headers
    rest = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
    response = redirect(request.path + ("?" + urlencode(rest) if rest else ""), code=303)
    _set_cookie(response, token)
    return response  # type: ignore[return-value]


def _set_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="Strict", secure=request.is_secure, path="/"
    )


def add_headers(response: Response) -> Response:
    """After each request: no sniffing, no framing, no referrer, a strict CSP."""
    token = current_app.config.get("HPSEARCH_TOKEN")
    if token and _matches(request.args.get("token"), token) and response.status_code < 400:
        _set_cookie(response, token)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    if request.path.startswith("/api/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def install(app: Flask, token: str | None) -> None:
    app.config["HPSEARCH_TOKEN"] = token or None
    app.before_request(guard)
    app.after_request(add_headers)
