"""Without the `dashboard` extra, `hpsearch dashboard` says which extra to install."""

from __future__ import annotations

import sys

import pytest

from hpsearch.cli import main


def test_dashboard_without_flask_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rule: a missing optional dependency is one clear line naming the extra, exit 1."""
    for name in [m for m in sys.modules if m.startswith("hpsearch.dashboard")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "flask", None)  # makes `import flask` raise ImportError
    assert main(["dashboard"]) == 1
    err = capsys.readouterr().err
    assert "pip install 'hpsearch[dashboard]'" in err and "Traceback" not in err
