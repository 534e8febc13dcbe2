"""Storage: URLs, opening them, retries through database restarts, and every storage speed path. The only package that touches Optuna's private modules or tables."""
