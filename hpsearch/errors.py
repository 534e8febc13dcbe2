"""The one family of errors hpsearch raises on purpose.

The CLI turns any ``HpsearchError`` into a one-line message and exit code 1;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class HpsearchError(Exception):
    """Root of every error hpsearch raises for bad input or a bad environment."""


class ConfigError(HpsearchError, ValueError):
    """A bad argument or configuration value (names the value and what is valid)."""


class DataError(HpsearchError):
    """A dataset that cannot be found, read, verified or split."""


class SpecError(HpsearchError):
    """A study spec with one or more problems; ``problems`` lists them, one per line."""

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        if len(self.problems) == 1:
            message = head + self.problems[0]
        else:
            message = (
                head
                + f"{len(self.problems)} problems:\n"
                + "\n".join(f"  - {p}" for p in self.problems)
            )
        super().__init__(message)


class StorageError(HpsearchError):
    """A storage URL that cannot be opened, or a study that is not in it."""
