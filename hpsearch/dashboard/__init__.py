"""The web dashboard: a read-only Flask app over an Optuna storage (JSON API + HTML pages).

from hpsearch.dashboard import create_app, serve
app = create_app("sqlite:///hpsearch.db")          # in-process, e.g. app.test_client()
serve("sqlite:///hpsearch.db", "127.0.0.1", 8080)  # blocking
"""

from __future__ import annotations

from hpsearch.dashboard.app import create_app, serve

__all__ = ["create_app", "serve"]
