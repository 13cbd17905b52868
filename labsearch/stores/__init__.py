"""Stores: pick the backend the settings name.

The OpenSearch backend is imported only when configured, so the embedded default needs neither
opensearch-py nor a running node.
"""

from __future__ import annotations

from labsearch.errors import ConfigError
from labsearch.settings import Settings
from labsearch.stores.protocol import AssetStore


def open_store(settings: Settings, dimension: int, recreate: bool = False) -> AssetStore:
    """Open (or create) the index for `settings.model` with vectors of `dimension`.

    `recreate=True` drops the existing index first (`labsearch index --rebuild`). Raises
    ModelMismatchError when the index was built with another model or dimension.
    """
    if settings.backend == "embedded":
        from labsearch.stores.embedded import EmbeddedStore

        store = EmbeddedStore.open(settings.index_dir, settings.model, dimension, recreate=recreate)
        store.query_timeout = settings.query_timeout_seconds
        return store
    if settings.backend == "opensearch":
        try:
            from labsearch.stores.opensearch import OpenSearchStore
        except ImportError as error:
            raise ConfigError(
                f"LABSEARCH_BACKEND=opensearch needs the OpenSearch client ({error}); install it "
                "with `pip install opensearch-py`, or set LABSEARCH_BACKEND=embedded."
            ) from error
        return OpenSearchStore.open(settings, dimension, recreate)
    raise ConfigError(f"unknown LABSEARCH_BACKEND {settings.backend!r}; use embedded or opensearch")


__all__ = ["open_store"]
