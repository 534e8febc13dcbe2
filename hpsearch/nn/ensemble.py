"""``Ensemble``: networks that vote by averaging their class probabilities.

The book's ch. 6 cites ensembles of independently trained networks as a cheap gain
in accuracy: each net makes its own mistakes, and the average of their probabilities
makes fewer. ``hpsearch retrain --ensemble N`` trains N members with different seeds
(``--top K``: from the K best trials, so their hidden layers may differ) and saves
them here, in one ``.npz`` file that ``load_model`` reads back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hpsearch.errors import ConfigError
from hpsearch.nn.backend import xp
from hpsearch.nn.network import UNREADABLE, Network

__all__ = ["Ensemble", "load_model"]

_NOT_A_MODEL = (
    "{path}: not a network saved by hpsearch (expected an .npz file written by "
    "Network.save, Ensemble.save or `hpsearch retrain`)."
)


class Ensemble:
    """Members that read the same inputs and name the same classes (their hidden layers
    may differ), whose ``predict_proba`` is the mean of theirs."""

    def __init__(self, members: Sequence[Network]) -> None:
        members = list(members)
        if not members:
            raise ConfigError("an ensemble needs at least one network")
        ends = {(m.sizes[0], m.sizes[-1]) for m in members}
        if len(ends) > 1:
            raise ConfigError(
                "ensemble members must share their inputs and classes, got (inputs, classes) "
                f"{sorted(ends)}"
            )
        self.members = members

    def __len__(self) -> int:
        return len(self.members)

    def __repr__(self) -> str:
        return f"Ensemble({len(self)} x {self.members[0]!r})"

    @property
    def sizes(self) -> list[int]:
        """Member 0's layer sizes (all members share the first and the last)."""
        return self.members[0].sizes

    @property
    def n_classes(self) -> int:
        return self.members[0].n_classes

    def predict_proba(self, X: Any) -> Any:
        """The members' class probabilities, averaged."""
        total = self.members[0].predict_proba(X)
        for member in self.members[1:]:
            total += member.predict_proba(X)
        total /= len(self.members)
        return total

    def predict(self, X: Any) -> Any:
        """The class of highest mean probability for each row."""
        return self.predict_proba(X).argmax(axis=1)

    def evaluate(self, X: Any, y: Any) -> tuple[float, float]:
        """(log-likelihood loss of the averaged probabilities, accuracy) over ``X, y``.

        The loss is ``-mean(ln p_y)`` whatever the members' own loss: it is the cost of
        the ensemble's probabilities, which no member's output layer computes.
        """
        y = xp.asarray(y)
        if len(y) == 0:
            return float("nan"), float("nan")
        proba = self.predict_proba(X)
        picked = proba[xp.arange(len(y)), y]
        loss = -xp.log(xp.maximum(picked, xp.finfo(proba.dtype).tiny)).mean()
        return float(loss), float((proba.argmax(axis=1) == y).mean())

    def save(self, path: str | os.PathLike[str]) -> Path:
        """All members in one ``.npz`` file (their configs and parameters); returns its path."""
        path = Path(path)
        arrays: dict[str, Any] = {}
        for j, member in enumerate(self.members):
            arrays.update({f"member{j}_weights_{i}": w for i, w in enumerate(member.weights)})
            arrays.update({f"member{j}_biases_{i}": b for i, b in enumerate(member.biases)})
        members = json.dumps([m.config for m in self.members])
        with path.open("wb") as fh:
            xp.savez(fh, members=xp.array(members), **arrays)
        return path


def load_model(path: str | os.PathLike[str]) -> Network | Ensemble:
    """A ``Network`` or an ``Ensemble`` saved by their ``save``; anything else is a
    ``ConfigError`` that names the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no model file {path}" + (" (it is a folder)" if path.is_dir() else ""))
    try:
        with xp.load(path, allow_pickle=False) as data:
            if "members" not in data.files:
                return Network.load(path)
            members = []
            for j, config in enumerate(json.loads(str(data["members"]))):
                member = Network(**config)
                n = len(member.weights)
                member.weights = [data[f"member{j}_weights_{i}"].copy() for i in range(n)]
                member.biases = [data[f"member{j}_biases_{i}"].copy() for i in range(n)]
                member.check_parameters(path)
                members.append(member)
    except ConfigError:
        raise
    except UNREADABLE:
        raise ConfigError(_NOT_A_MODEL.format(path=path)) from None
    return Ensemble(members)
