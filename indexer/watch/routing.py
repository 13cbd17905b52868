"""Which watched source a change belongs to, and what part of it to read again.

A change is `{source uri: keys}`: the keys a source's `scan_part` understands (file paths, object
keys, package names), or None for "sync the whole source" (single-file sources such as an ELN
export or a run table, whose every row may have changed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from indexer.watch.s3_events import ObjectEvent

Changes = dict[str, set[str] | None]

NAMED_PACKAGES = ".quilt/named_packages/"
# Local sources read whole when anything under their path changes.
WHOLE_FILE_SCHEMES = ("isatab+file", "table+file", "sdrf+file", "rocrate+file", "eln+file")


def merge(into: Changes, more: Changes) -> Changes:
    """Union of two changes; "whole source" absorbs any keys."""
    for uri, keys in more.items():
        if uri in into and (into[uri] is None or keys is None):
            into[uri] = None
        elif uri in into:
            into[uri] |= keys  # type: ignore[operator]
        else:
            into[uri] = None if keys is None else set(keys)
    return into


def _local_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.netloc not in ("", "localhost"):
        return None
    return Path(unquote(parsed.path))


def _package_name(key: str) -> str | None:
    """`.quilt/named_packages/team/pkg/latest` -> "team/pkg" (pointers are named by push time
    or "latest"; package names have one slash)."""
    if not key.startswith(NAMED_PACKAGES):
        return None
    parts = key[len(NAMED_PACKAGES) :].split("/")
    return "/".join(parts[:-1]) if len(parts) >= 3 else None


def for_s3_event(sources: Iterable[str], event: ObjectEvent) -> Changes:
    changes: Changes = {}
    for uri in sources:
        if uri.startswith("s3://"):
            bucket, _, prefix = uri[len("s3://") :].partition("/")
            keys = {k for k in event.keys if bucket == event.bucket and k.startswith(prefix)}
        elif uri.startswith("quilt+s3://"):
            bucket = uri[len("quilt+s3://") :].rstrip("/")
            names = (_package_name(k) for k in event.keys) if bucket == event.bucket else ()
            keys = {name for name in names if name}
        else:
            continue
        if keys:
            merge(changes, {uri: keys})
    return changes


def for_path(sources: Iterable[str], path: Path) -> Changes:
    changes: Changes = {}
    for uri in sources:
        scheme = uri.split("://", 1)[0]
        root = _local_path(uri) if "://" in uri else None
        if root is None:
            continue
        if scheme == "file" and (path == root or path.is_relative_to(root)):
            merge(changes, {uri: {str(path)}})
        elif scheme == "quilt+file" and path.is_relative_to(root / ".quilt" / "named_packages"):
            name = _package_name(path.relative_to(root).as_posix())
            if name:
                merge(changes, {uri: {name}})
        elif scheme in WHOLE_FILE_SCHEMES and (path == root or path.is_relative_to(root)):
            merge(changes, {uri: None})
    return changes


@dataclass(frozen=True)
class WatchedPath:
    """A directory to ask the file-system watcher about."""

    directory: Path
    recursive: bool


def watched_paths(sources: Iterable[str]) -> list[WatchedPath]:
    """Where file-system notifications for the local sources come from. A single-file source is
    watched through its directory: editors and exports replace files by renaming over them."""
    found: dict[Path, bool] = {}
    for uri in sources:
        scheme = uri.split("://", 1)[0]
        root = _local_path(uri) if "://" in uri else None
        if root is None or scheme not in ("file", "quilt+file", *WHOLE_FILE_SCHEMES):
            continue
        if scheme == "quilt+file":
            root = root / ".quilt"  # pointers under named_packages/ say a package was pushed
        directory, recursive = (root, True) if root.is_dir() else (root.parent, False)
        if directory.is_dir():
            found[directory] = found.get(directory, False) or recursive
    return [WatchedPath(d, r) for d, r in sorted(found.items())]


def is_local(uri: str) -> bool:
    return uri.split("://", 1)[0] in ("file", "quilt+file", *WHOLE_FILE_SCHEMES)
