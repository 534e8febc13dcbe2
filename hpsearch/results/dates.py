"""The one date format of everything hpsearch shows or writes: ISO 8601 with its UTC offset."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(moment: datetime | None) -> str | None:
    """``2026-12-03T18:45:56+00:00``: ``moment`` in UTC, to the second; None stays None.

    Naive datetimes are local time, as Optuna's ``FrozenTrial`` gives them; aware
    ones are converted. Every export, table and dashboard field uses this, so one
    study's times read the same everywhere and sort as text.
    """
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="seconds")


def now_utc() -> str:
    """The current time in the same format."""
    return iso_utc(datetime.now(UTC)) or ""
