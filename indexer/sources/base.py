"""The source contract: a source turns one URI into assets, reporting bad records as issues."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

from labsearch.errors import SourceError
from labsearch.schema import Asset


@dataclass(frozen=True)
class SourceIssue:
    """A record, file or field that could not be read. Indexing goes on without it."""

    source: str
    location: str  # file path, object key, record id or "line 17"
    reason: str
    field: str | None = None
    # Id of an asset whose already-indexed version (and its children: `id:...`, `id@...`) must
    # be kept: the record exists in the source but could not be read this time.
    keep: str | None = None

    def __str__(self) -> str:
        where = f"{self.location} [{self.field}]" if self.field else self.location
        return f"{self.source}: {where}: {self.reason}"


@dataclass(frozen=True)
class Checked:
    """A container (a Quilt package with its revisions and entries) and the fingerprint of all
    its assets were built from. `unchanged`: the fingerprint is the one of the last complete
    sync, so the source did not read the container again and its indexed assets stand."""

    root: str  # asset id of the container; its children are `root:...`, `root@...`, `root#...`
    fingerprint: str
    unchanged: bool = False


@dataclass
class Part:
    """A part of a source, read again because something said it changed (a watcher's event).

    `roots` are the asset ids the part covers, with their children (`root:...`, `root@...`,
    `root#...`; a root ending in "/" covers every id it starts). After `items` are read, stored
    assets under the roots that the items did not produce are gone from the source."""

    roots: list[str]
    items: Iterator[Asset | SourceIssue | Checked]


class Source(Protocol):
    uri: str

    def scan(self) -> Iterator[Asset | SourceIssue | Checked]:
        """Every asset the source holds now (so missing ones can be deleted), and issues.
        Sources that fingerprint containers (Quilt packages) also yield `Checked` markers."""
        ...


class PartialSource(Source, Protocol):
    """A source that can read a part of itself: `keys` are what its change events name (file
    paths, object keys, package names, ELN entries). What it reads is the source's state now,
    never the event's: a late or repeated event can only re-read the current version."""

    def scan_part(self, keys: Sequence[str]) -> Part: ...


def path_from_uri(uri: str, scheme: str) -> Path:
    """`scheme:///abs/path` → Path, with a clear error for anything else."""
    parsed = urlparse(uri)
    if parsed.scheme != scheme:
        raise SourceError(f"{uri!r} is not a {scheme}:// URI")
    if parsed.netloc not in ("", "localhost"):
        raise SourceError(
            f"{uri!r}: {scheme} URIs name a local absolute path, e.g. {scheme}:///data/x "
            f"(three slashes); got host {parsed.netloc!r}"
        )
    return Path(unquote(parsed.path))
