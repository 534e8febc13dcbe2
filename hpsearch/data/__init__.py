"""Datasets for hpsearch: loading, provenance, splits for a search, and augmentation.

>>> data = load("digits")
>>> part = split(data, validation=0.2, subset=500, seed=0)

``load`` knows ``digits`` (bundled with scikit-learn), ``fashion-mnist`` and
``mnist`` (IDX files found locally or downloaded and verified), ``npz:PATH`` and
``csv:PATH``. A ``Split`` (and each fold of ``k_folds``) carries no test set, so a
search cannot touch it.
"""

from __future__ import annotations

from hpsearch.data.augment import Augmentation
from hpsearch.data.builtin import SourceInfo, describe_sources
from hpsearch.data.cache import cache_root
from hpsearch.data.catalog import DATASET_NAMES, check_name, load, load_options
from hpsearch.data.dataset import Dataset
from hpsearch.data.split import Folds, Split, k_folds, split

__all__ = [
    "DATASET_NAMES",
    "Augmentation",
    "Dataset",
    "Folds",
    "SourceInfo",
    "Split",
    "cache_root",
    "check_name",
    "describe_sources",
    "k_folds",
    "load",
    "load_options",
    "split",
]
