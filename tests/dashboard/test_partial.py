"""A big study's first answer is its summary, counted by the database, while its trials
are read in the background; the page then gets the full answer, the same as ever."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy
from flask import Flask
from test_browser import Server, browser, page  # noqa: F401  (fixtures)

from hpsearch.dashboard import create_app
from hpsearch.dashboard.warmup import Warmup
from hpsearch.storage.reads import StudyReader

# Move with the clock (a running trial's seconds so far, its worker's time).
VOLATILE = ("now", "budget", "wall_seconds", "workers", "live_trials")


def _app(url: str, above: int) -> Flask:
    app = create_app(url)
    app.config["HPSEARCH_PARTIAL_ABOVE"] = above
    return app


def _stable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in VOLATILE}


def test_first_answer_is_the_summary_then_the_full_one(filled_storage: str) -> None:
    app = _app(filled_storage, above=5)
    client = app.test_client()
    gate = threading.Event()
    read = StudyReader.tables

    def slow(self: StudyReader, study_id: int) -> Any:
        gate.wait(10)  # the background read waits until the partial answer is checked
        return read(self, study_id)

    full = create_app(filled_storage).test_client().get("/api/studies/tpe-digits").get_json()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(StudyReader, "tables", slow)
        first = client.get("/api/studies/tpe-digits").get_json()
        again = client.get("/api/studies/tpe-digits").get_json()  # still reading
        gate.set()
        app.extensions["hpsearch_warmup"].join(10)
    assert first["partial"] is True and again["partial"] is True
    for key in ("counts", "n_trials", "total_epochs", "name", "direction", "directions", "spec"):
        assert first[key] == full[key], key
    assert (first["best"]["number"], first["best"]["value"]) == (
        full["best"]["number"],
        full["best"]["value"],
    )
    assert first["trials"]["number"] == [] and first["budget"]["n_trials"] == 50
    done = client.get("/api/studies/tpe-digits").get_json()
    assert "partial" not in done
    assert _stable(done) == _stable(full)
    assert done["live_trials"]["number"] == full["live_trials"]["number"]
    assert [w["trials"] for w in done["workers"]] == [w["trials"] for w in full["workers"]]


def test_small_studies_are_answered_in_full_at_once(filled_storage: str) -> None:
    client = _app(filled_storage, above=1000).test_client()
    data = client.get("/api/studies/tpe-digits").get_json()
    assert "partial" not in data and len(data["trials"]["number"]) > 0


def test_a_failed_background_read_is_reported_by_the_next_request(
    filled_storage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(filled_storage, above=5)
    client = app.test_client()

    def down(*args: object) -> None:
        raise sqlalchemy.exc.OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr(StudyReader, "_read_table", down)
    assert client.get("/api/studies/tpe-digits").get_json()["partial"] is True
    warmup: Warmup = app.extensions["hpsearch_warmup"]
    warmup.join(10)
    response = client.get("/api/studies/tpe-digits")
    assert response.status_code == 503
    assert "database is locked" in response.get_json()["error"]


@pytest.fixture
def partial_server(filled_storage: str) -> Iterator[Server]:
    running = Server(filled_storage)
    running._server.app.config["HPSEARCH_PARTIAL_ABOVE"] = 5  # type: ignore[attr-defined]  # noqa: SLF001
    yield running
    running.close()


def test_page_shows_the_summary_then_the_trials(partial_server: Server, page: Any) -> None:  # noqa: F811
    page.goto(f"{partial_server.url}/studies/tpe-digits")
    page.wait_for_selector("#trials tbody tr[data-number]")
    page.wait_for_selector("#progress-time .plot-container svg.main-svg", state="attached")
    assert page.locator("#trials").get_attribute("data-partial") is None
    assert page.locator("#trials-empty").is_hidden()
    assert "trials" in page.locator("#summary").inner_text()
    assert page.problems == []
