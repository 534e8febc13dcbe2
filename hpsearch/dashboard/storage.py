"""Which storage the dashboard reads and how its URL is shown; it is opened with
``hpsearch.storage.urls.open_storage(url, read_only=True)``, the one ``open_storage``."""

from __future__ import annotations

from hpsearch.storage.urls import mask_url, resolve_storage_url

__all__ = ["mask_url", "resolve_storage_url"]
