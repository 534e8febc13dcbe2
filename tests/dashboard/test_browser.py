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
    guarded = Server(filled_storage, token="browser-token-0123456789")
    try:
        assert page.goto(guarded.url + "/").status == 401
        assert page.goto(guarded.url + "/api/studies").status == 401
        response = page.goto(guarded.url + "/?token=browser-token-0123456789")
        assert response.status == 200 and "token" not in page.url
        page.wait_for_selector("#studies tbody tr")  # the API calls pass with the cookie
        assert page.goto(guarded.url + "/api/studies").status == 200
    finally:
        guarded.close()


def _checked(page: Any) -> list[int]:
    return sorted(
        int(n)
        for n in page.eval_on_selector_all(
            "#trials tbody input[type=checkbox]:checked",
            "boxes => boxes.map(b => b.closest('tr').dataset.number)",
        )
    )


def _shown(page: Any) -> list[int]:
    page.wait_for_function("document.getElementById('curves').dataset.shown")
    return sorted(int(n) for n in page.evaluate("curves.dataset.shown").split(","))


def test_curve_boxes_match_the_curves_drawn(
    browser: Any, page: Any, fresh_storage: str, artifacts: Path
) -> None:
    # On load and after a live change of the default selection, the ticked boxes name
    # exactly the trials whose curves are drawn.
    live = Server(fresh_storage)
    try:
        page.goto(f"{live.url}/studies/tpe-digits")
        page.wait_for_selector("#trials tbody tr")
        shown = _shown(page)
        assert shown and _checked(page) == shown
        study = optuna.load_study(study_name="tpe-digits", storage=fresh_storage)
        trial = study.ask()
        study.tell(trial, 0.9999)  # a new best: the default selection changes
        page.wait_for_function(
            f"document.getElementById('curves').dataset.shown.split(',').includes('{trial.number}')"
        )
        page.wait_for_function(
            f"document.querySelector('#trials tr[data-number=\"{trial.number}\"] input').checked"
        )
        assert _checked(page) == _shown(page)
        page.screenshot(path=artifacts / "study-selection.png", full_page=True)
        assert page.problems == []
    finally:
        live.close()


def _parcoords(page: Any) -> dict[str, Any]:
    page.wait_for_function("document.getElementById('parcoords').dataset.draws")
    return page.evaluate(
        """() => {
          const trace = document.getElementById('parcoords').data[0];
          return {dims: trace.dimensions.map(d => ({label: d.label, range: d.range || null,
                   tickvals: d.tickvals || null, ticktext: d.ticktext || null, values: d.values})),
                  color: trace.line.color, cmin: trace.line.cmin, cmax: trace.line.cmax};
        }"""
    )


def test_parallel_coordinates_follow_the_search_space(server: Server, page: Any) -> None:
    # Axes from the distributions: log axes for log ranges however the samples spread,
    # integer ticks on integer axes, categories in the space's order; colour by rank.
    import math

    page.goto(server.url + "/studies/tpe-digits")
    data = _parcoords(page)
    dims = {d["label"]: d for d in data["dims"]}
    eta = dims["eta (log)"]
    assert eta["range"] == pytest.approx([math.log10(0.01), math.log10(5.0)])
    assert all(
        v == pytest.approx(math.log10(float(t)))
        for v, t in zip(eta["tickvals"], eta["ticktext"], strict=True)
    )
    layers = dims["hidden_layers"]
    assert layers["tickvals"] == [1, 2, 3] and layers["ticktext"] == ["1", "2", "3"]
    assert "hidden_width (log)" in dims  # an IntDistribution with log=True
    loss = dims["loss"]
    assert loss["ticktext"] == ["cross_entropy", "log_likelihood", "quadratic"]
    assert set(loss["values"]) <= {0, 1, 2}
    assert dims["batch_size"]["ticktext"] == ["10", "32", "64"]
    # Colour is the rank: 0 (worst) to 1 (best), the best trial's line at 1.
    value = dims["validation_accuracy"]["values"]
    color = data["color"]
    assert (data["cmin"], data["cmax"]) == (0, 1)
    assert color[value.index(max(value))] == 1 and color[value.index(min(value))] == 0
    assert sorted(color) == pytest.approx([i / (len(color) - 1) for i in range(len(color))])
    assert page.problems == []


def test_parallel_coordinates_are_not_redrawn_without_new_data(server: Server, page: Any) -> None:
    page.goto(server.url + "/studies/tpe-digits")
    _parcoords(page)
    page.wait_for_timeout(POLL_MS * 8)  # several polls (the study has a running trial)
    assert page.evaluate("document.getElementById('parcoords').dataset.draws") == "1"


def test_empty_states_say_so_instead_of_blank_axes(server: Server, page: Any) -> None:
    page.goto(server.url + "/studies/empty")
    page.wait_for_selector("#progress-time .chart-empty")
    for chart in ("#progress-time", "#progress-epochs", "#parcoords", "#timeline", "#curves"):
        page.wait_for_selector(f"{chart} .chart-empty")
        assert page.locator(f"{chart} svg.main-svg").count() == 0, chart
    assert "No complete trials yet." in page.text_content("#progress-time")
    assert "No trial has started yet." in page.text_content("#timeline")
    assert page.is_visible("#trials-empty")
    assert "No active workers" in page.text_content("#workers")
    page.goto(server.url + "/compare")
    page.wait_for_selector("#compare-time .chart-empty")
    assert page.locator("#compare-time svg.main-svg").count() == 0
    assert page.problems == []


def test_study_page_shows_spec_budget_workers_and_timeline(server: Server, page: Any) -> None:
    page.goto(server.url + "/studies/tpe-digits")
    page.wait_for_selector("#space tbody tr")
    assert page.text_content("#space tbody tr[data-param=eta]").strip().startswith("eta")
    assert "log scale" in page.text_content("#space tbody tr[data-param=eta]")
    # 20 finished trials (14 complete + 5 pruned count) of the spec's 50.
    assert page.text_content("#budget-trials").strip() == "19 of 50 trials done (38%)"
    assert page.get_attribute("#budget-bar", "value") == "19"
    assert "node2:4006" in page.text_content("#workers-table")
    _drew(page, "#timeline")
    assert page.evaluate("document.getElementById('timeline').dataset.bars") == "21"
    states = page.evaluate("document.getElementById('timeline').data.map(t => t.name)")
    assert set(states) == {"complete", "pruned", "fail", "running"}
    assert "validation_accuracy ↑" in page.text_content("#trials thead")
    assert page.problems == []


def test_labels_are_escaped_once(page: Any, tmp_path: Path) -> None:
    # A study named with quotes and markup shows literally in a Plotly legend.
    from dashboard_fakes import add_study

    url = f"sqlite:///{tmp_path / 'labels.db'}"
    tricky = 'say "hi" & <b>bye</b>'
    add_study(url, tricky, n_trials=4, bulk=True)
    add_study(url, "plain", n_trials=4, bulk=True)  # two traces, so Plotly draws a legend
    labels = Server(url)
    try:
        page.goto(f"{labels.url}/compare?study={quote(tricky)}&study=plain")
        _drew(page, "#compare-time")
        legend = page.text_content("#compare-time .legend")
        assert f"{tricky} (tpe)" in legend and "&quot;" not in legend and "&amp;" not in legend
        assert page.problems == []
    finally:
        labels.close()


@pytest.fixture(scope="session")
def big_storage(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 20,000-trial study with curves, built once per session (~30 s, see big_fakes)."""
    from big_fakes import big_study

    url = f"sqlite:///{tmp_path_factory.mktemp('big') / 'big.db'}"
    big_study(url, "big", n_trials=20_000, running=4)
    return url


@pytest.mark.timeout(300)
def test_a_20000_trial_study_page_loads_without_errors(
    browser: Any, page: Any, big_storage: str, artifacts: Path
) -> None:
    big = Server(big_storage)
    try:
        page.set_default_timeout(120_000)
        page.goto(f"{big.url}/studies/big")
        page.wait_for_selector("#trials tbody tr")
        for chart in ("#progress-time", "#parcoords", "#timeline", "#curves"):
            _drew(page, chart)
        assert page.evaluate("document.getElementById('parcoords').dataset.lines") == "3000"
        assert "3,000 of 14,999 complete trials" in page.text_content("#parcoords-note")
        assert page.evaluate("document.getElementById('timeline').dataset.bars") == "2000"
        assert "(20004 of 20004 shown by the filter)" in page.text_content("#trial-count")
        assert page.locator("#trials tbody tr").count() == 200  # paged
        page.screenshot(path=artifacts / "study-20000.png")
        assert page.problems == []
    finally:
        big.close()
