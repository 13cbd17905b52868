"""Which bytes of an asset a person may download, and from where on this disk.

Only a path the indexer stored (`provenance.path`, or a `file://` physical key) is ever served,
never one built from a request; it is resolved with realpath when asked for (so a symlink or a
`..` planted since indexing cannot lead elsewhere) and must lie under the directory of the
source that produced the asset, or under one of LABSEARCH_DOWNLOAD_ROOTS. Records that live
inside a shared export (an ELN record's path is the whole export file) are not files of their
own and are never served.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

from labsearch.schema import Asset, AssetKind

# Kinds whose stored path is the asset's own bytes.
FILE_KINDS = frozenset({AssetKind.FILE, AssetKind.PACKAGE_ENTRY})


def stored_path(asset: Asset) -> Path | None:
    """The path the indexer recorded for the asset's own bytes, if it has one."""
    if asset.kind not in FILE_KINDS:
        return None
    prov = asset.provenance
    if prov.path:
        return Path(prov.path)
    if prov.physical_key and prov.physical_key.startswith("file://"):
        return Path(unquote(urlparse(prov.physical_key).path))
    return None


def source_root(source: str) -> Path | None:
    """The local directory a source URI names (`file:///d`, `quilt+file:///registry`,
    `table+file:///d/runs.csv` -> /d); None for remote sources."""
    scheme, _, rest = source.partition("://")
    if scheme != "file" and not scheme.endswith("+file"):
        return None
    path = Path(unquote(urlparse("file://" + rest).path))
    return path if path.is_dir() or not path.suffix else path.parent


def servable_path(asset: Asset, extra_roots: Sequence[Path] = ()) -> Path | None:
    """The real path of the asset's bytes if it may be served, else None."""
    stored = stored_path(asset)
    if stored is None:
        return None
    roots = [r for r in (source_root(asset.source), *extra_roots) if r is not None]
    real = Path(os.path.realpath(stored))
    if not real.is_file():
        return None
    for root in roots:
        if real.is_relative_to(os.path.realpath(root)):
            return real
    return None
