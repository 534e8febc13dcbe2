"""Read-only, Host and token checks, run before every request; security headers after.

Without a token (the loopback default) every GET is served whose ``Host`` header names
this machine's loopback address (or the bound address): a page on another site that
rebinds its DNS name to 127.0.0.1 sends its own name as ``Host`` and is refused, so it
cannot read study data. With a token (at least ``MIN_TOKEN_LENGTH`` characters), a
request needs ``Authorization: Bearer TOKEN``, the cookie set by an earlier
``?token=TOKEN``, or ``?token=TOKEN`` itself (pages then redirect to the same URL
without it, so the token does not linger in the address bar or the history). The
cookie is ``SameSite=Lax``: a link to the dashboard from elsewhere still opens it.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, current_app, jsonify, redirect, request

from hpsearch.errors import ConfigError

TOKEN_ENV = "HPSEARCH_DASHBOARD_TOKEN"
COOKIE = "hpsearch_dashboard_token"
READ_METHODS = frozenset({"GET", "HEAD"})
MIN_TOKEN_LENGTH = 16
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_TOKEN_IN_TEXT = re.compile(r"(token=)[^&\s\"]*", re.IGNORECASE)
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


def check_token(token: str | None) -> None:
    """A token, when given, must be long enough not to be guessed."""
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"the dashboard token must be at least {MIN_TOKEN_LENGTH} characters, got "
            f"{len(token)}; make one with: python3 -c 'import secrets; "
            "print(secrets.token_urlsafe())'"
        )


def redact(text: str) -> str:
    """``text`` with every ``token=...`` value replaced by ``***`` (for logs)."""
    return _TOKEN_IN_TEXT.sub(r"\1***", text)


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve beyond this machine without a token, or with a short one."""
    check_token(token)
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


def _host_name(host_header: str) -> str:
    """``"[::1]:8080"`` -> ``"::1"``, ``"Example.org:80"`` -> ``"example.org"``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def allowed_host(host_header: str, bound: str | None) -> bool:
    """True when ``Host`` names a loopback address or ``bound`` (the address served on)."""
    name = _host_name(host_header)
    return name in LOOPBACK_NAMES or (bound is not None and name == bound.strip("[]").lower())


def guard() -> Response | None:
    """Before each request: only GET/HEAD, and the token when one is set, else a local Host."""
    if request.method not in READ_METHODS:
        response = _refuse(405, f"the dashboard is read-only; {request.method} is not allowed")
        response.headers["Allow"] = "GET, HEAD"
        return response
    token: str | None = current_app.config.get("HPSEARCH_TOKEN")
    if not token:
        if allowed_host(request.host, current_app.config.get("HPSEARCH_BOUND_HOST")):
            return None
        return _refuse(
            421,
            f"Host {request.host!r} is not this dashboard's address; without a token it "
            "answers only requests for 127.0.0.1, localhost or [::1] (DNS rebinding guard)",
        )
    query_token = request.args.get("token")
    if _matches(_bearer(), token) or _matches(request.cookies.get(COOKIE), token):
        return None
    if not _matches(query_token, token):
        return _refuse(401, "a token is needed: add ?token=... or 'Authorization: Bearer ...'")
    if request.path.startswith("/api/"):
        return None  # answered below; the cookie is set in add_headers
    rest = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
    answer: Any = redirect(request.path + ("?" + urlencode(rest) if rest else ""), code=303)
    _set_cookie(answer, token)
    return answer


def _set_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="Lax", secure=request.is_secure, path="/"
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
    """Put the checks on ``app``; ``ConfigError`` for a token shorter than 16 characters."""
    check_token(token or None)
    app.config["HPSEARCH_TOKEN"] = token or None
    app.before_request(guard)
    app.after_request(add_headers)
