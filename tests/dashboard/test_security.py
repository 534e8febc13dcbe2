"""Safe by default: read-only, escaped, token-guarded off loopback, passwords masked."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from dashboard_fakes import XSS_NAME
from flask.testing import FlaskClient

from hpsearch.cli import main
from hpsearch.dashboard import create_app
from hpsearch.dashboard.auth import COOKIE, check_bind, is_loopback
from hpsearch.dashboard.storage import mask_url, resolve_storage_url
from hpsearch.errors import ConfigError, StorageError
from hpsearch.storage.urls import open_storage

TOKEN = "k3ep-this-s3cret-0123"  # at least 16 characters
ROUTES = [
    "/",
    "/compare",
    "/studies/tpe-digits",
    "/studies/tpe-digits/trials/0",
    "/api/info",
    "/api/studies",
    "/api/studies/tpe-digits",
    "/api/studies/tpe-digits/importances",
    "/api/studies/tpe-digits/curves?trials=0",
    "/api/studies/tpe-digits/trials/0",
    "/api/compare?study=tpe-digits",
]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_only_get_and_head_are_allowed(client: FlaskClient, method: str) -> None:
    for route in ROUTES:
        response = client.open(route, method=method)
        assert response.status_code == 405, route
        assert response.headers["Allow"] == "GET, HEAD"
    assert client.head("/api/studies").status_code == 200


def test_reading_every_route_leaves_the_database_unchanged(fresh_storage: str) -> None:
    path = Path(fresh_storage.removeprefix("sqlite:///"))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    client = create_app(fresh_storage).test_client()
    for route in ROUTES:
        assert client.get(route).status_code == 200, route
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_pages_escape_study_names(client: FlaskClient) -> None:
    # Server templates autoescape; the data reaches the page as text, never markup.
    from urllib.parse import quote

    html = client.get(f"/studies/{quote(XSS_NAME, safe='')}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert XSS_NAME not in html


def test_security_headers(client: FlaskClient) -> None:
    response = client.get("/")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert client.get("/api/studies").headers["Cache-Control"] == "no-store"


def test_plotly_is_served_locally(client: FlaskClient) -> None:
    response = client.get("/vendor/plotly.min.js")
    assert response.status_code == 200 and b"plotly" in response.data[:2000].lower()
    for page in ("/", "/studies/tpe-digits", "/compare"):
        assert "cdn" not in client.get(page).get_data(as_text=True).lower()


def test_token_is_required_everywhere(filled_storage: str) -> None:
    client = create_app(filled_storage, token=TOKEN).test_client()
    for route in [*ROUTES, "/vendor/plotly.min.js", "/static/common.js", "/nope"]:
        assert client.get(route).status_code == 401, route
    assert client.get("/api/studies", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/api/studies?token=nope").status_code == 401
    ok = client.get("/api/studies", headers={"Authorization": "Bearer " + TOKEN})
    assert ok.status_code == 200


def test_query_token_sets_a_cookie_and_is_dropped_from_the_url(filled_storage: str) -> None:
    client = create_app(filled_storage, token=TOKEN).test_client()
    response = client.get(f"/studies/tpe-digits?token={TOKEN}&x=1")
    assert response.status_code == 303 and response.headers["Location"] == "/studies/tpe-digits?x=1"
    cookie = response.headers["Set-Cookie"]
    assert f"{COOKIE}={TOKEN}" in cookie and "HttpOnly" in cookie
    # Lax, not Strict: following a link to the dashboard from elsewhere sends the cookie.
    assert "SameSite=Lax" in cookie
    assert client.get("/studies/tpe-digits").status_code == 200  # the cookie now
    assert client.get("/api/studies/tpe-digits").status_code == 200


def test_binding_beyond_loopback_needs_a_token() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", TOKEN)
    with pytest.raises(ConfigError, match="--token"):
        check_bind("0.0.0.0", None)


def test_cli_refuses_public_bind_without_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HPSEARCH_DASHBOARD_TOKEN", raising=False)
    assert main(["dashboard", "--host", "0.0.0.0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "HPSEARCH_DASHBOARD_TOKEN" in err
    assert main(["dashboard", "--help"]) == 0


def test_cli_reports_a_missing_storage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--storage", f"sqlite:///{tmp_path}/none.db", "--port", "0"]) == 1
    assert f"no storage at sqlite:///{tmp_path}/none.db" in capsys.readouterr().err


def test_storage_url_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HPSEARCH_STORAGE", raising=False)
    assert resolve_storage_url(None) == "sqlite:///hpsearch.db"
    monkeypatch.setenv("HPSEARCH_STORAGE", "sqlite:///env.db")
    assert resolve_storage_url(None) == "sqlite:///env.db"
    assert resolve_storage_url("sqlite:///cli.db") == "sqlite:///cli.db"


def test_passwords_are_never_shown() -> None:
    url = "postgresql+psycopg://hp:hunter2@127.0.0.1:1/nodb"
    assert "hunter2" not in mask_url(url) and "***" in mask_url(url)
    with pytest.raises(StorageError) as caught:
        open_storage(url, read_only=True)  # nothing listens on port 1
    assert "hunter2" not in str(caught.value) and "hp:***@" in str(caught.value)
    # The driver's reason, not Optuna's generic "e.g. exceeding max length".
    assert "max length" not in str(caught.value) and "refused" in str(caught.value).lower()


def test_info_shows_the_masked_storage(client: FlaskClient, filled_storage: str) -> None:
    assert client.get("/api/info").get_json()["storage"] == filled_storage


def test_short_tokens_are_refused(filled_storage: str) -> None:
    for short in ("t", "s3cret", "x" * 15):
        with pytest.raises(ConfigError, match="at least 16 characters"):
            create_app(filled_storage, token=short)
        with pytest.raises(ConfigError, match="at least 16 characters"):
            check_bind("0.0.0.0", short)
    create_app(filled_storage, token="x" * 16)


def test_cli_refuses_a_short_token(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--token", "abc"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "at least 16 characters" in err and "abc" not in err


@pytest.mark.parametrize(
    "host", ["attacker.example", "attacker.example:8080", "127.0.0.1.nip.io", "[::2]:80"]
)
def test_without_a_token_a_foreign_host_header_is_refused(client: FlaskClient, host: str) -> None:
    # DNS rebinding: a page on attacker.example resolving to 127.0.0.1 sends its own Host.
    for route in ("/api/info", "/api/studies", "/studies/tpe-digits", "/"):
        response = client.get(route, headers={"Host": host})
        assert response.status_code == 421, (route, host)
    assert "DNS rebinding" in client.get("/api/info", headers={"Host": host}).get_json()["error"]


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "localhost", "LOCALHOST:1", "[::1]:8080"])
def test_without_a_token_loopback_host_headers_are_served(client: FlaskClient, host: str) -> None:
    assert client.get("/api/info", headers={"Host": host}).status_code == 200


def test_with_a_token_any_host_header_is_served(filled_storage: str) -> None:
    # Bound beyond loopback (with a token), the dashboard's own name is whatever DNS says.
    client = create_app(filled_storage, token=TOKEN).test_client()
    auth = {"Authorization": f"Bearer {TOKEN}", "Host": "hpsearch.example.org"}
    assert client.get("/api/info", headers=auth).status_code == 200


def test_served_on_its_bound_address_only(filled_storage: str) -> None:
    # A real server on 127.0.0.1: the Host header is checked on the wire too.
    import http.client
    import threading

    from werkzeug.serving import make_server

    app = create_app(filled_storage)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for host, status in (("attacker.example", 421), (f"127.0.0.1:{server.server_port}", 200)):
            conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
            conn.request("GET", "/api/info", headers={"Host": host})
            assert conn.getresponse().status == status
            conn.close()
    finally:
        server.shutdown()


def test_the_token_is_not_written_to_the_access_log(filled_storage: str) -> None:
    # serve()'s request handler masks ?token=... in werkzeug's access log.
    import http.client
    import logging
    import threading

    from werkzeug.serving import make_server

    from hpsearch.dashboard.app import RedactingRequestHandler

    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("werkzeug")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    app = create_app(filled_storage, token=TOKEN)
    server = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=RedactingRequestHandler
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
        conn.request("GET", f"/studies/tpe-digits?x=1&token={TOKEN}")
        assert conn.getresponse().status == 303
        conn.close()
    finally:
        server.shutdown()
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    lines = [r for r in records if "/studies/tpe-digits" in r]
    assert lines and all(TOKEN not in r for r in records)
    assert "token=***" in lines[0]
