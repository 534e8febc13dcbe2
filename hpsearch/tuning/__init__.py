"""Optuna glue: the spec's space as distributions, samplers and pruners by name, the objective, per-epoch reporting, the typed trial record."""
