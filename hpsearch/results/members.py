"""The networks ``retrain`` trains: one, or an ensemble's members, one after another or
in parallel processes.

Member j trains from source ``j mod K`` of the K it is given (a trial's params, options
and seeds: one source, or the K best trials' for a hyperparameter ensemble), with that
source's seed ``+ j`` and batch order ``data_seed + j``, on the full training set less its
own validation set (``retrain_split``), so the members differ in init, dropout, batch
order and held-out rows, and together see all of the data. With
``jobs > 1`` the members train in that many spawned processes (a small-batch network
keeps one core busy, so an ensemble on 2 cores trains in about half the time); each
member is the same network it would be in one process, since its seeds fix it.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import queue
import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hpsearch.data import Dataset, Split, split
from hpsearch.errors import ConfigError
from hpsearch.nn import History, Network
from hpsearch.spec.study_spec import StudySpec
from hpsearch.tuning.objective import build_network, make_augmentation, train_on_split

__all__ = [
    "MAX_VALIDATION_FRACTION",
    "EpochCallback",
    "MemberEpochCallback",
    "Source",
    "TrainedMembers",
    "retrain_split",
    "train_members",
]

#: A validation *count* from the spec is capped at this fraction of the full training set.
MAX_VALIDATION_FRACTION = 0.5
#: Seconds between looks at the members' epoch reports while processes train.
_POLL_SECONDS = 0.2

EpochCallback = Callable[[int, dict[str, Any]], None]
#: One trained member: its network, its history and its split's sizes.
_Trained = tuple[Network, History, dict[str, int]]
#: ``(member, epoch, metrics)``: an epoch of one member, from whichever process trains it.
MemberEpochCallback = Callable[[int, int, dict[str, Any]], None]


@dataclass(frozen=True)
class Source:
    """A trial that members train from: its params, the training options they give, its
    seed and its recorded data seed (None for trials recorded without one: the seed)."""

    params: dict[str, Any]
    options: dict[str, Any]
    seed: int
    data_seed: int | None = None


@dataclass
class TrainedMembers:
    """What ``train_members`` trained: the networks, their histories, and the sizes
    (``train``, ``validation``) of each member's split, the same for all of them."""

    networks: list[Network]
    histories: list[History]
    examples: dict[str, int]


def retrain_split(
    dataset: Dataset, spec: StudySpec, member: int = 0, validation: int | float | None = None
) -> Split:
    """All of ``dataset``'s training set, less a seeded validation set for early stopping.

    ``validation`` (rows or a fraction) defaults to the spec's ``[data] validation``.
    A fraction is kept; a count is kept too, capped at half the training set so that
    most of the data trains. Each ensemble ``member`` holds out its own set.
    """
    if validation is None:
        validation = spec.data.validation
    if isinstance(validation, int):
        validation = min(validation, int(len(dataset.y_train) * MAX_VALIDATION_FRACTION))
    return split(dataset, validation=validation, subset=None, seed=(spec.study.seed or 0) + member)


@dataclass(frozen=True)
class _Recipe:
    """Everything a member needs besides its index (sent once to each process)."""

    sources: tuple[Source, ...]
    spec: StudySpec
    dataset: Dataset
    validation: int | float | None

    def train(self, j: int, on_epoch: EpochCallback | None) -> _Trained:
        """Member ``j``: its network, history, and its split's sizes."""

        def callback(epoch: int, metrics: dict[str, Any]) -> bool:
            if on_epoch is not None:
                on_epoch(epoch, metrics)
            return False

        source = self.sources[j % len(self.sources)]
        data = retrain_split(self.dataset, self.spec, member=j, validation=self.validation)
        network = build_network(
            source.params,
            self.spec,
            self.dataset.n_features,
            self.dataset.n_classes,
            source.seed + j,
        )
        history = train_on_split(
            network,
            data,
            source.options,
            source.seed + j,
            make_augmentation(self.spec, self.dataset.image_shape),
            callback,
            None if source.data_seed is None else source.data_seed + j,
        )
        return network, history, {"train": len(data.y_train), "validation": len(data.y_validation)}


def train_members(
    sources: Source | Sequence[Source],
    spec: StudySpec,
    dataset: Dataset,
    *,
    validation: int | float | None = None,
    ensemble: int = 1,
    jobs: int = 1,
    on_member: Callable[[int], None] | None = None,
    on_epoch: MemberEpochCallback | None = None,
    on_member_done: Callable[[int], None] | None = None,
) -> TrainedMembers:
    """Train ``ensemble`` networks from ``sources`` (member j from source ``j mod K``) on
    ``dataset``'s training set, the way ``retrain`` does (module doc), in ``jobs``
    processes (at most one per member). ``validation`` overrides the spec's
    (``retrain_split``). ``on_member(j)`` is called as member j starts,
    ``on_epoch(j, epoch, metrics)`` after each of its epochs and ``on_member_done(j)``
    once it has trained, all in this process."""
    if jobs < 1:
        raise ConfigError(f"jobs must be >= 1, but got {jobs}")
    sources = (sources,) if isinstance(sources, Source) else tuple(sources)
    if not sources:
        raise ConfigError("an ensemble needs at least one trial to train from")
    recipe = _Recipe(sources, spec, dataset, validation)
    events = _Events(on_member, on_epoch, on_member_done)
    if min(jobs, ensemble) == 1:
        trained = []
        for j in range(ensemble):
            events.started(j)
            trained.append(recipe.train(j, functools.partial(events.epoch, j)))
            events.done(j)
    else:
        trained = _train_in_processes(recipe, ensemble, min(jobs, ensemble), events)
    return TrainedMembers(
        [network for network, _, _ in trained],
        [history for _, history, _ in trained],
        trained[-1][2],
    )


@dataclass(frozen=True)
class _Events:
    """The caller's progress callbacks, any of them None."""

    on_member: Callable[[int], None] | None
    on_epoch: MemberEpochCallback | None
    on_member_done: Callable[[int], None] | None

    def started(self, j: int) -> None:
        if self.on_member is not None:
            self.on_member(j)

    def epoch(self, j: int, epoch: int, metrics: dict[str, Any]) -> None:
        if self.on_epoch is not None:
            self.on_epoch(j, epoch, metrics)

    def done(self, j: int) -> None:
        if self.on_member_done is not None:
            self.on_member_done(j)


# --------------------------------------------------------------------------- processes
# Each spawned process gets the recipe once (its initializer) and a queue on which its
# members announce their start (epoch 0), each epoch's metrics and their end (epoch -1).

_recipe: _Recipe | None = None
_reports: Any = None


def _start_process(recipe: _Recipe, reports: Any, threads: int) -> None:
    global _recipe, _reports
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)  # jobs x threads <= cores; small batches use one anyway
    _recipe, _reports = recipe, reports


def _train_in_process(j: int) -> _Trained:
    assert _recipe is not None, "the pool's initializer sets the recipe"
    _reports.put((j, 0, {}))

    def report(epoch: int, metrics: dict[str, Any]) -> None:
        _reports.put((j, epoch, {k: v for k, v in metrics.items() if isinstance(v, float)}))

    trained = _recipe.train(j, report)
    _reports.put((j, -1, {}))
    return trained


def _train_in_processes(
    recipe: _Recipe,
    ensemble: int,
    jobs: int,
    events: _Events,
) -> list[_Trained]:
    context = multiprocessing.get_context("spawn")
    reports = context.Queue()
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with _pool(context, jobs, (recipe, reports, threads)) as pool:
        pending = [pool.apply_async(_train_in_process, (j,)) for j in range(ensemble)]
        while not all(p.ready() for p in pending):
            _drain(reports, events)
        _drain(reports, events)  # the last reports may trail the results
        return [p.get() for p in pending]  # re-raises a member's error here


@contextmanager
def _pool(context: Any, jobs: int, initargs: tuple[Any, ...]) -> Iterator[Any]:
    """A process pool that is closed when done and killed on an error or Ctrl-C."""
    pool = context.Pool(jobs, initializer=_start_process, initargs=initargs)
    try:
        yield pool
    except BaseException:
        pool.terminate()
        raise
    else:
        pool.close()
    finally:
        pool.join()


def _drain(reports: Any, events: _Events) -> None:
    """Pass on the members' reports until none comes for ``_POLL_SECONDS``."""
    while True:
        try:
            j, epoch, metrics = reports.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            return
        if epoch == 0:
            events.started(j)
        elif epoch == -1:
            events.done(j)
        else:
            events.epoch(j, epoch, metrics)
