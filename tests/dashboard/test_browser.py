"""End to end in headless Chromium: the pages draw, link up, update live and stay safe.

Skipped when /usr/bin/chromium or Playwright is missing, unless HPSEARCH_REQUIRE_BROWSER
is set (CI), where that is a failure. Screenshots go to $HPSEARCH_ARTIFACTS or
tests/artifacts/.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import optuna
import pytest
from dashboard_fakes import STUDIES, XSS_NAME
from optuna.trial import TrialState
from werkzeug.serving import make_server

from hpsearch.dashboard import create_app
from hpsearch.storage.running import trial_id_of

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
POLL_MS = 400
pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def _browser_or_skip() -> Any:
    problem = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "the playwright package is not installed"
    if problem is None and not Path(CHROMIUM).exists():
        problem = f"{CHROMIUM} is missing (apt-get install chromium)"
    if problem is not None:
        if os.environ.get("HPSEARCH_REQUIRE_BROWSER"):
            pytest.fail(f"HPSEARCH_REQUIRE_BROWSER is set but {problem}")
        pytest.skip(problem)
    return sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_playwright = _browser_or_skip()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Server:
    """The app on 127.0.0.1, a free port, in a thread."""

    def __init__(self, storage: str, token: str | None = None) -> None:
        app = create_app(storage, token=token)
        app.config["HPSEARCH_POLL_MS"] = POLL_MS
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(5)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from dashboard_fakes import fill

    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'studies.db'}"
    fill(url, bulk=True)
    running = Server(url)
    running.storage = url  # type: ignore[attr-defined]
    yield running
    running.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page that records console errors, failed requests and dialogs (none allowed)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.on("response", lambda r: r.status >= 400 and page.problems.append(f"{r.status} {r.url}"))
    page.on("dialog", lambda d: (page.problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _drew(page: Any, selector: str) -> None:
    page.wait_for_selector(f"{selector} .plot-container svg.main-svg", state="attached")


def test_pages_draw_and_link_up(server: Server, page: Any, artifacts: Path) -> None:
    # Studies list -> study (charts, table) -> trial (curves, command) -> compare.
    page.goto(server.url + "/")
    page.wait_for_selector("#studies tbody tr")
    assert page.locator("#studies tbody tr").count() == 6
    page.screenshot(path=artifacts / "studies.png", full_page=True)

    page.click("a.study-link:text-is('tpe-digits')")
    page.wait_for_url("**/studies/tpe-digits")
    for chart in ("#progress-time", "#progress-epochs", "#parcoords", "#importances", "#curves"):
        _drew(page, chart)
    page.wait_for_selector("#trials tbody tr")
    assert page.locator("#trials tbody tr").count() == 22
    assert "0.9612 (ensemble of 10)" in page.text_content("#summary")
    page.wait_for_function("Number(document.getElementById('curves').dataset.epochs) > 0")
    page.screenshot(path=artifacts / "study.png", full_page=True)

    # Sorting by value (descending first) puts the best trial on top; filters narrow the rows.
    page.click("#trials th[data-key=value]")
    best = page.text_content("#best-link")
    top = page.text_content("#trials tbody tr:first-child td:nth-child(2)")
    assert f"(trial {top.strip()})" in best
    page.fill("#filter", "state=pruned")
    page.wait_for_function("document.querySelectorAll('#trials tbody tr').length === 5")
    page.select_option("#state-filter", "FAIL")
    page.fill("#filter", "")
    page.wait_for_function("document.querySelectorAll('#trials tbody tr').length === 1")
    page.select_option("#state-filter", "")

    page.click("#trials tbody tr:first-child a.trial-link")
    page.wait_for_url("**/trials/*")
    for chart in ("#curve-accuracy", "#curve-loss", "#gradient-norms"):
        _drew(page, chart)
    page.wait_for_function("document.getElementById('command').textContent.startsWith('hpsearch')")
    assert page.is_visible("#retrain-section")
    assert "10 networks averaged" in page.text_content("#retrain")
    page.screenshot(path=artifacts / "trial.png", full_page=True)

    query = "&".join(f"study={s}" for s in STUDIES)
    page.goto(f"{server.url}/compare?{query}")
    _drew(page, "#compare-time")
    _drew(page, "#compare-epochs")
    page.wait_for_selector("#compare-table tbody tr")
    assert page.locator("#compare-table tbody tr").count() == 3
    assert page.locator("#choices input:checked").count() == 3
    page.screenshot(path=artifacts / "compare.png", full_page=True)
    assert page.problems == []


def test_running_trial_curves_update_live(
    browser: Any, page: Any, fresh_storage: str, artifacts: Path
) -> None:
    # A new epoch in live_history shows up on the open trial and study pages.
    live = Server(fresh_storage)
    try:
        study = optuna.load_study(study_name="tpe-digits", storage=fresh_storage)
        trial = next(t for t in study.trials if t.state == TrialState.RUNNING)
        epochs = len(trial.user_attrs["live_history"]["records"])
        page.goto(f"{live.url}/studies/tpe-digits/trials/{trial.number}")
        page.wait_for_function(
            f"document.getElementById('curve-accuracy').dataset.epochs === '{epochs}'"
        )
        study_page = page.context.new_page()
        study_page.goto(f"{live.url}/studies/tpe-digits")
        study_page.wait_for_function("Number(document.getElementById('curves').dataset.epochs) > 0")
        before = int(study_page.evaluate("document.getElementById('curves').dataset.epochs"))

        history = trial.user_attrs["live_history"]
        record = dict(history["records"][-1], epoch=epochs + 1, validation_accuracy=0.97)
        history["records"].append(record)
        storage = optuna.storages.RDBStorage(fresh_storage)
        storage.set_trial_user_attr(trial_id_of(trial), "live_history", history)
        storage.set_trial_intermediate_value(trial_id_of(trial), epochs + 1, 0.97)

        page.wait_for_function(
            f"document.getElementById('curve-accuracy').dataset.epochs === '{epochs + 1}'"
        )
        study_page.wait_for_function(
            f"Number(document.getElementById('curves').dataset.epochs) === {before + 1}"
        )
        page.screenshot(path=artifacts / "trial-live.png", full_page=True)
        assert page.problems == []
    finally:
        live.close()


def test_xss_probe_shows_as_text(server: Server, page: Any, artifacts: Path) -> None:
    # A study named <script>alert(1)</script> is shown literally and no dialog fires.
    page.goto(server.url + "/")
    link = page.locator("a.study-link", has_text=XSS_NAME)
    link.wait_for()
    assert link.text_content() == XSS_NAME
    page.goto(f"{server.url}/studies/{quote(XSS_NAME, safe='')}")
    page.wait_for_selector("#trials tbody tr")
    _drew(page, "#progress-time")
    assert page.text_content("#study-name") == XSS_NAME
    page.goto(f"{server.url}/studies/{quote(XSS_NAME, safe='')}/trials/0")
    page.wait_for_function("document.getElementById('command').textContent.length > 0")
    assert XSS_NAME in page.text_content("#study-link")
    page.screenshot(path=artifacts / "xss.png", full_page=True)
    assert page.problems == []


def test_token_guards_pages_and_api(page: Any, filled_storage: str) -> None:
    guarded = Server(filled_storage, token="s3cret")
    try:
        assert page.goto(guarded.url + "/").status == 401
        assert page.goto(guarded.url + "/api/studies").status == 401
        response = page.goto(guarded.url + "/?token=s3cret")
        assert response.status == 200 and "token" not in page.url
        page.wait_for_selector("#studies tbody tr")  # the API calls pass with the cookie
        assert page.goto(guarded.url + "/api/studies").status == 200
    finally:
        guarded.close()
