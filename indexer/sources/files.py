"""Plain files: `file:///dir` (every non-hidden file below a directory) and `s3://bucket/prefix`
(the current version of every object under a prefix), each one `file` asset with a content
summary.

Ids: `file://{absolute path}` and `s3://{bucket}/{key}`. Access groups come from the settings'
rules (prefix of the source URI, the directory or the object URI), else nobody (fail closed).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from indexer.access import resolve_groups
from indexer.extractors.base import Summary
from indexer.sources import _s3
from indexer.sources._content import (
    SummaryCache,
    chunk_assets,
    data_level_from,
    merge_summary,
    summarize_file,
)
from indexer.sources.base import Part, SourceIssue, path_from_uri
from labsearch import identifiers as ids
from labsearch.errors import SourceError
from labsearch.schema import Asset, AssetKind, Entity, Provenance
from labsearch.settings import Settings

__all__ = ["FileSource", "S3Source", "Content", "fetch_s3_content", "with_content"]


# Up to this many changed keys are read with one HEAD each; more with a listing.
HEAD_EACH_UP_TO = 20


def _hidden(name: str) -> bool:
    return name.startswith(".")


@dataclass
class Content:
    """The outcome of trying to read an object's bytes: a summary, or why there is none."""

    summary: Summary | None = None
    error: str | None = None  # the bytes should have been readable but were not: a failure
    skipped: str | None = None  # deliberately not read (too large): not a failure


def with_content(asset: Asset, content: Content) -> list[Asset]:
    """The asset with its summary merged in, followed by its chunk assets."""
    if content.summary is not None:
        merged = merge_summary(asset, content.summary)
        return [merged, *chunk_assets(merged, content.summary)]
    if content.error:
        return [asset.model_copy(update={"errors": [*asset.errors, content.error]})]
    if content.skipped:
        metadata = {**asset.metadata, "content": {"skipped": content.skipped}}
        return [asset.model_copy(update={"metadata": metadata})]
    return [asset]


def fetch_s3_content(
    s3: Any,
    cache: SummaryCache,
    obj: _s3.S3Object,
    name: str,
    workdir: Path,
    max_bytes: int,
) -> Content:
    """Summarize one S3 object version: download it (if small enough) under its own file name,
    which the extractors dispatch on, then delete the copy."""
    if obj.size > max_bytes:
        return Content(
            skipped=f"too large to summarize: {obj.size} bytes exceeds the "
            f"{max_bytes} byte download limit"
        )
    version = obj.version_id or obj.etag or "unversioned"
    failure: list[str] = []

    def make() -> Summary | None:
        dest = workdir / (Path(name).name or "object")
        try:
            _s3.download(s3, obj.bucket, obj.key, obj.version_id, dest)
        except Exception as exc:  # any S3 or network failure: record it, go on with the scan
            failure.append(
                f"cannot download {obj.uri} (version {version}): {_s3.describe_error(exc)}"
            )
            return None
        try:
            return summarize_file(dest)
        finally:
            dest.unlink(missing_ok=True)

    summary = cache.get_or_make(f"s3:{obj.bucket}/{obj.key}:{version}:{name}", make)
    return Content(summary=summary, error=failure[0] if failure else None)


class FileSource:
    """`file:///dir`: one asset per non-hidden file under the directory (or the file itself)."""

    def __init__(self, uri: str, settings: Settings) -> None:
        self.uri = uri
        self.settings = settings
        self.root = path_from_uri(uri, "file")

    def scan(self) -> Iterator[Asset | SourceIssue]:
        if not self.root.exists():
            raise SourceError(
                f"{self.uri}: {self.root} does not exist; give an existing directory as "
                "file:///absolute/path"
            )
        cache = SummaryCache(self.settings.cache_dir)
        try:
            issues: list[SourceIssue] = []
            for path in self._files(issues):
                yield from self._file(path, cache)
            yield from issues
        finally:
            cache.close()

    def scan_part(self, keys: Sequence[str]) -> Part:
        """The files at the paths `keys` name, as they are now: a path that is gone (or became a
        directory) drops its asset, a directory is read whole."""
        roots: list[str] = []
        paths: list[Path] = []
        for key in keys:
            path = Path(key)
            if not self._inside(path):
                continue
            roots += [f"file://{path}", f"file://{path}/"]  # the file, or all under a directory
            paths.append(path)

        def items() -> Iterator[Asset | SourceIssue]:
            cache = SummaryCache(self.settings.cache_dir)
            try:
                issues: list[SourceIssue] = []
                for path in paths:
                    if path.is_dir():
                        yield from (
                            item
                            for file in self._files(issues, path)
                            for item in self._file(file, cache)
                        )
                    elif path.is_file():
                        yield from self._file(path, cache)
                yield from issues
            finally:
                cache.close()

        return Part(roots, items())

    def _inside(self, path: Path) -> bool:
        """Is `path` one this source indexes (under its root, no hidden part)?"""
        if path == self.root:
            return True
        if not path.is_relative_to(self.root):
            return False
        return not any(_hidden(part) for part in path.relative_to(self.root).parts)

    def _files(self, issues: list[SourceIssue], top: Path | None = None) -> Iterator[Path]:
        top = top or self.root
        if top.is_file():
            yield top
            return

        def unreadable(error: OSError) -> None:
            issues.append(
                SourceIssue(self.uri, str(error.filename), f"cannot list: {error.strerror}")
            )

        # Sorted walk: deterministic order makes runs and their reports comparable.
        for directory, subdirs, files in os.walk(top, onerror=unreadable):
            subdirs[:] = sorted(d for d in subdirs if not _hidden(d))
            for name in sorted(files):
                if not _hidden(name):
                    yield Path(directory) / name

    def _file(self, path: Path, cache: SummaryCache) -> Iterator[Asset | SourceIssue]:
        try:
            stat = path.stat()
        except OSError as exc:  # e.g. a dangling symlink
            yield SourceIssue(self.uri, str(path), f"cannot read file: {exc.strerror or exc}")
            return
        relative = path.relative_to(self.root).as_posix() if path != self.root else path.name
        modified = datetime.fromtimestamp(stat.st_mtime, UTC)
        asset = Asset(
            id=f"file://{path}",
            source=self.uri,
            kind=AssetKind.FILE,
            entity=Entity.FILE,
            title=path.name,
            text=f"File {relative} in {self.root}",
            metadata={
                "name": path.name,
                "path": str(path),
                "relative_path": relative,
                "directory": str(path.parent),
                "size": stat.st_size,
                "modified": modified.isoformat(),
            },
            identifiers=ids.collect([path.name], ids.from_text(relative)),
            data_level=data_level_from({}, relative),
            provenance=Provenance(source=self.uri, path=str(path)),
            **resolve_groups(
                self.settings, self.uri, None, keys=[str(path.parent), str(path), f"file://{path}"]
            ).asset_fields(),
            updated_at=modified,
        )
        summary = cache.get_or_make(
            f"file:{path}:{stat.st_size}:{stat.st_mtime_ns}", lambda: summarize_file(path)
        )
        yield from with_content(asset, Content(summary=summary))


class S3Source:
    """`s3://bucket/prefix`: the current version of every object under the prefix."""

    def __init__(
        self,
        uri: str,
        settings: Settings,
        max_download_bytes: int = _s3.DEFAULT_MAX_DOWNLOAD_BYTES,
    ) -> None:
        self.uri = uri
        self.settings = settings
        self.bucket, self.prefix = _s3.split_uri(uri)
        self.max_download_bytes = max_download_bytes

    def scan(self) -> Iterator[Asset | SourceIssue]:
        s3 = _s3.client(self.settings)
        _s3.check_bucket(s3, self.bucket, self.uri)
        cache = SummaryCache(self.settings.cache_dir)
        try:
            with tempfile.TemporaryDirectory(prefix="labsearch-s3-") as workdir:
                for obj in _s3.latest_objects(s3, self.bucket, self.prefix):
                    # Skip "folder" markers and hidden keys (.quilt/ manifests, .DS_Store...)
                    if not self._indexes(obj.key):
                        continue
                    yield from self._object(s3, cache, obj, Path(workdir))
        finally:
            cache.close()

    def scan_part(self, keys: Sequence[str]) -> Part:
        """The objects `keys` name, at their current version (a key whose latest version is a
        delete marker, or that is gone, drops its asset)."""
        wanted = [k for k in dict.fromkeys(keys) if self._indexes(k)]
        roots = [f"s3://{self.bucket}/{key}" for key in wanted]

        def items() -> Iterator[Asset | SourceIssue]:
            s3 = _s3.client(self.settings)
            cache = SummaryCache(self.settings.cache_dir)
            try:
                with tempfile.TemporaryDirectory(prefix="labsearch-s3-") as workdir:
                    for key, obj in self._current(s3, wanted):
                        if isinstance(obj, Exception):  # any S3 failure: keep what is indexed
                            uri = f"s3://{self.bucket}/{key}"
                            reason = f"cannot read the object: {_s3.describe_error(obj)}"
                            yield SourceIssue(self.uri, uri, reason, keep=uri)
                        elif obj is not None:
                            yield from self._object(s3, cache, obj, Path(workdir))
            finally:
                cache.close()

        return Part(roots, items())

    def _current(
        self, s3: Any, keys: list[str]
    ) -> Iterator[tuple[str, _s3.S3Object | Exception | None]]:
        """Each key's current version (None: gone). A few keys are asked one HEAD each; many
        (a backlog of events after a restart or a bulk upload) are read from one listing of
        their common prefix, which costs a request per thousand keys instead of one per key."""
        if len(keys) <= HEAD_EACH_UP_TO:
            bucket_exists = False
            for key in keys:
                try:
                    obj = _s3.current_object(s3, self.bucket, key)
                    if obj is None and not bucket_exists:
                        # HEAD answers a bare 404 for a missing bucket too: no deletion then.
                        _s3.check_bucket(s3, self.bucket, self.uri)
                        bucket_exists = True
                    yield key, obj
                except Exception as exc:
                    yield key, exc
            return
        wanted = set(keys)
        prefix = os.path.commonprefix(keys)
        try:
            listed = {
                obj.key: obj
                for obj in _s3.latest_objects(s3, self.bucket, prefix)
                if obj.key in wanted
            }
        except Exception as exc:
            for key in keys:
                yield key, exc
            return
        for key in keys:
            yield key, listed.get(key)

    def _indexes(self, key: str) -> bool:
        """Is `key` an object this source indexes (under the prefix, not hidden or a folder)?"""
        return (
            key.startswith(self.prefix)
            and not key.endswith("/")
            and not any(_hidden(p) for p in key.split("/"))
        )

    def _object(
        self, s3: Any, cache: SummaryCache, obj: _s3.S3Object, workdir: Path
    ) -> Iterator[Asset]:
        name = obj.key.rsplit("/", 1)[-1]
        metadata: dict[str, Any] = {
            "name": name,
            "bucket": obj.bucket,
            "key": obj.key,
            "size": obj.size,
            "version_id": obj.version_id,
            "etag": obj.etag,
        }
        if obj.last_modified:
            metadata["modified"] = obj.last_modified.isoformat()
        asset = Asset(
            id=obj.uri,
            source=self.uri,
            kind=AssetKind.FILE,
            entity=Entity.FILE,
            title=name,
            text=f"S3 object {obj.key} in bucket {obj.bucket}",
            metadata={k: v for k, v in metadata.items() if v is not None},
            identifiers=ids.collect([name], ids.from_text(obj.key)),
            data_level=data_level_from({}, obj.key),
            provenance=Provenance(source=self.uri, s3_uri=obj.uri, version_id=obj.version_id),
            **resolve_groups(self.settings, self.uri, None, keys=[obj.uri]).asset_fields(),
            updated_at=obj.last_modified,
        )
        content = fetch_s3_content(s3, cache, obj, name, workdir, self.max_download_bytes)
        yield from with_content(asset, content)
