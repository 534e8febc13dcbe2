"""The random streams of a training run: one for the data, one per member purpose.

A run draws from independent generators, each a child of a seed:

* the **data stream** (``data_seed``): each epoch's batch order, then the augmentation
  of its batches. A cohort shares it: every member sees the same batches.
* the **member streams** (the network's training ``seed``): input noise, and one
  generator per hidden layer for its dropout masks. Each member of a cohort has its
  own, so it draws exactly what it would draw trained alone.

Giving each purpose its own generator makes the draws of one purpose independent of
the others: a cohort may draw a member's dropout masks for many batches at once (one
call per layer and chunk of rows) and still get the numbers ``train()`` draws one batch
at a time, since a NumPy ``Generator`` yields the same sequence however its draws are
split into calls. ``train(seed=s)`` without ``data_seed`` uses ``data_seed = s``: a run
stays reproducible from one number, and its data and member streams still differ
(different spawn keys).
"""

from __future__ import annotations

from dataclasses import dataclass

from hpsearch.nn.backend import xp

#: Spawn keys: the data stream and the member streams of one seed never coincide.
DATA_STREAM = 0x6461
MEMBER_STREAM = 0x6D62


def data_stream(data_seed: int | None) -> xp.random.Generator:
    """The generator of batch order and augmentation for ``data_seed`` (None: fresh entropy)."""
    return xp.random.default_rng(xp.random.SeedSequence(data_seed, spawn_key=(DATA_STREAM,)))


@dataclass
class MemberStreams:
    """A member's generators: ``noise`` for input noise, ``dropout[l]`` for hidden layer l."""

    noise: xp.random.Generator
    dropout: list[xp.random.Generator]


def member_streams(seed: int | None, hidden_layers: int) -> MemberStreams:
    """The generators of a network trained with ``seed`` and ``hidden_layers`` hidden layers."""
    if seed is None:
        seed = int(xp.random.SeedSequence().generate_state(1)[0])

    def child(i: int) -> xp.random.Generator:
        return xp.random.default_rng(xp.random.SeedSequence(seed, spawn_key=(MEMBER_STREAM, i)))

    return MemberStreams(noise=child(0), dropout=[child(1 + i) for i in range(hidden_layers)])
