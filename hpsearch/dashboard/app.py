"""The app factory and a small server: ``create_app(storage)`` is tested in-process."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException
from werkzeug.serving import WSGIRequestHandler, make_server

from hpsearch.dashboard import auth, compress
from hpsearch.dashboard.api import api
from hpsearch.dashboard.pages import pages
from hpsearch.dashboard.queries import DashboardReader
from hpsearch.dashboard.storage import mask_url
from hpsearch.dashboard.study_page import StudyPages
from hpsearch.dashboard.warmup import PARTIAL_ABOVE, Warmup
from hpsearch.results.export import json_safe
from hpsearch.storage.urls import open_storage

DEFAULT_POLL_MS = 3000

log = logging.getLogger(__name__)


class _StrictJSON(DefaultJSONProvider):
    """JSON that browsers can parse: NaN and infinities become null."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("default", self.default)
        kwargs.setdefault("ensure_ascii", self.ensure_ascii)
        kwargs.setdefault("sort_keys", False)
        try:
            return json.dumps(obj, allow_nan=False, **kwargs)
        except ValueError:
            return json.dumps(json_safe(obj), allow_nan=False, **kwargs)


def create_app(storage: str, *, token: str | None = None) -> Flask:
    """The dashboard for the Optuna storage at URL ``storage``, read-only.

    With ``token``, every page and API call needs it (see ``hpsearch.dashboard.auth``).
    Raises ``StorageError`` when the storage cannot be opened.
    """
    app = Flask(__name__)
    app.json = _StrictJSON(app)
    app.config["HPSEARCH_STORAGE_DISPLAY"] = mask_url(storage)
    app.config["HPSEARCH_POLL_MS"] = DEFAULT_POLL_MS
    app.extensions["hpsearch_reader"] = DashboardReader(open_storage(storage, read_only=True))
    app.extensions["hpsearch_study_pages"] = StudyPages(app.json.dumps)
    app.extensions["hpsearch_warmup"] = Warmup()
    app.config["HPSEARCH_PARTIAL_ABOVE"] = PARTIAL_ABOVE
    auth.install(app, token)
    compress.install(app)
    app.register_blueprint(api)
    app.register_blueprint(pages)
    app.register_error_handler(HTTPException, _http_error)
    return app


def _http_error(error: HTTPException) -> Response | HTTPException:
    """Unknown routes under ``/api/`` answer JSON like the rest of the API."""
    if request.path.startswith("/api/"):
        response = jsonify({"error": error.description or error.name})
        response.status_code = error.code or 500
        return response
    return error


class RedactingRequestHandler(WSGIRequestHandler):
    """Werkzeug's request handler, with ``?token=...`` masked in the access log."""

    def log(self, type: str, message: str, *args: Any) -> None:
        super().log(type, auth.redact(message % args) if args else auth.redact(message))


def serve(
    storage: str, host: str = "127.0.0.1", port: int = 8080, token: str | None = None
) -> None:
    """Serve the dashboard until interrupted; a non-loopback ``host`` needs a ``token``."""
    auth.check_bind(host, token)
    app = create_app(storage, token=token)
    app.config["HPSEARCH_BOUND_HOST"] = host
    server = make_server(host, port, app, threaded=True, request_handler=RedactingRequestHandler)
    shown = f"[{host}]" if ":" in host else host
    print(
        f"hpsearch dashboard on http://{shown}:{server.server_port}/  (storage {mask_url(storage)})"
    )
    if token:
        print(
            "a token is required: open the URL with ?token=TOKEN once; it is then kept in a cookie"
        )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
