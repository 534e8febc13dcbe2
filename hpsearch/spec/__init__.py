"""Study specs: TOML -> a frozen, typed StudySpec; field checks, the hyperparameter table, the grid."""
