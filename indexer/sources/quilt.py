"""Quilt registries: `quilt+file:///path/registry` and `quilt+s3://bucket`, read through quilt3.

Every package becomes a `package` asset (metadata, message, top hash) and every entry a
`package_entry` asset (logical key, size, hash, metadata, physical key) with a content summary
when its bytes are reachable: local physical keys are read in place, S3 objects are downloaded
(exact version, up to a size limit) to a temporary file.

Ids: `quilt:{registry}#{package}` and `quilt:{registry}#{package}:{logical_key}`, stable across
revisions. With `all_revisions=True` older revisions are indexed too, their package part
suffixed with `@{top_hash}` (`quilt:{registry}#{package}@{top_hash}:{logical_key}`).

A package whose manifest cannot be read is reported as a SourceIssue; an entry whose bytes
cannot be read still becomes an asset, with the reason in `errors`. Either way the scan goes on.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from indexer.access import resolve_groups
from indexer.sources import _s3
from indexer.sources._content import (
    SummaryCache,
    code_fingerprint,
    data_level_from,
    describe,
    entity_from,
    file_overview,
    identifiers_of,
    inherited,
    normalize,
    summarize_file,
)
from indexer.sources.base import Checked, Part, SourceIssue, path_from_uri
from indexer.sources.files import Content, fetch_s3_content, with_content
from labsearch import identifiers as ids
from labsearch.errors import SourceError
from labsearch.schema import Asset, AssetKind, Entity, Link, LinkType, Provenance
from labsearch.settings import Settings

__all__ = ["QuiltSource", "package_id", "entry_id"]

# Metadata keys through which a package names the packages it was derived from.
DERIVED_FROM_KEYS = (
    "derived_from",
    "derived_from_packages",
    "source_package",
    "source_packages",
    "parent_package",
    "parent_packages",
    "upstream_packages",
)
_PACKAGE_NAME = re.compile(r"^[\w-]+/[\w-]+$")


def _quilt3() -> Any:
    """Import quilt3 without its usage telemetry (an HTTP call per API use) or progress bars.

    quilt3 reads both switches from the environment once, at import; if another module imported
    it first, switching the class flag still stops the telemetry requests.
    """
    os.environ.setdefault("QUILT_DISABLE_USAGE_METRICS", "true")
    os.environ.setdefault("QUILT_MINIMIZE_STDOUT", "true")
    import quilt3
    from quilt3.telemetry import ApiTelemetry

    ApiTelemetry.telemetry_disabled = True
    return quilt3


def _listdir(path: Path) -> list[str]:
    """Names in a directory, none if it is missing (quilt3's local backend does the same)."""
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []


@contextmanager
def _shared_s3_clients() -> Iterator[None]:
    """Let quilt3 reuse its S3 clients for the length of a scan.

    quilt3 builds a new boto3 session and client for nearly every call, and each client build
    loads botocore's service JSON again (about half a second here): two or three per package on
    an S3 registry. quilt3's documented build-client hook lets us hand back the client built
    first, one per signing mode. Any hook already installed still builds that client.
    """
    from quilt3 import hooks

    previous = hooks.get_build_s3_client_hook()
    clients: dict[str, Any] = {}
    lock = threading.Lock()

    def reuse(build_client_base: Any, session: Any, client_kwargs: dict, **kwargs: Any) -> Any:
        signing = repr(getattr(client_kwargs.get("config"), "signature_version", None))
        with lock:
            if signing not in clients:
                build = previous or (lambda base, *args, **kw: base(*args, **kw))
                clients[signing] = build(build_client_base, session, client_kwargs, **kwargs)
            return clients[signing]

    hooks.set_build_s3_client_hook(reuse)
    try:
        yield
    finally:
        hooks.set_build_s3_client_hook(previous)


def package_id(registry: str, name: str, top_hash: str | None = None) -> str:
    """Asset id of a package; `top_hash` only for revisions other than the latest."""
    return f"quilt:{registry}#{name}" + (f"@{top_hash}" if top_hash else "")


def entry_id(package_asset_id: str, logical_key: str) -> str:
    return f"{package_asset_id}:{logical_key}"


def _registry_of(uri: str) -> str:
    if not uri.startswith(("quilt+file://", "quilt+s3://")):
        raise SourceError(
            f"{uri!r} is not a Quilt registry URI; write quilt+file:///path/registry or "
            "quilt+s3://bucket"
        )
    return uri[len("quilt+") :].rstrip("/")


_EPOCH = datetime.fromtimestamp(0, UTC)


@dataclass(frozen=True)
class Revision:
    top_hash: str
    pushed_at: datetime | None
    is_latest: bool


def _timestamp(pointer: str) -> datetime | None:
    return datetime.fromtimestamp(int(pointer), UTC) if pointer.isdigit() else None


def _groups_in(metadata: Mapping[str, Any]) -> list[str]:
    for key in ("groups", "access_groups"):
        value = metadata.get(key)
        if isinstance(value, str):
            return [value]
        if isinstance(value, list | tuple):
            return [str(v) for v in value if v]
    return []


class QuiltSource:
    def __init__(
        self,
        uri: str,
        settings: Settings,
        all_revisions: bool = False,
        max_download_bytes: int = _s3.DEFAULT_MAX_DOWNLOAD_BYTES,
    ) -> None:
        self.uri = uri
        self.settings = settings
        self.registry = _registry_of(uri)
        self.all_revisions = all_revisions
        self.max_download_bytes = max_download_bytes
        self._s3_client: Any = None
        self._quilt_registry: Any = None
        self._pointer_dir: Path | None | bool = False  # False: not looked up yet
        # Package id -> fingerprint at the last complete sync, set by the indexer: a package
        # whose fingerprint is unchanged is not read again (a re-run reads no manifests).
        self.known_fingerprints: Mapping[str, str] = {}
        self._code: str | None = None

    # -- scanning --------------------------------------------------------------------------

    def scan(self) -> Iterator[Asset | SourceIssue | Checked]:
        self._check_registry()
        with self._s3_clients_shared():
            try:
                names = sorted(self._package_names())
            except Exception as exc:  # quilt3 raises many types; all mean "cannot list"
                raise SourceError(
                    f"{self.uri}: cannot list the packages of the registry: {exc}"
                ) from exc
            cache = SummaryCache(self.settings.cache_dir)
            try:
                with tempfile.TemporaryDirectory(prefix="labsearch-quilt-") as workdir:
                    for name in names:
                        yield from self._package(name, cache, Path(workdir))
            finally:
                cache.close()

    def scan_part(self, names: Sequence[str]) -> Part:
        """The packages `names` name, as the registry holds them now: a package whose pointers
        are gone drops its assets; an unchanged fingerprint (a repeated event) reads nothing."""
        wanted = sorted(set(names))
        roots = [package_id(self.registry, name) for name in wanted]

        def items() -> Iterator[Asset | SourceIssue | Checked]:
            with self._s3_clients_shared():
                cache = SummaryCache(self.settings.cache_dir)
                try:
                    with tempfile.TemporaryDirectory(prefix="labsearch-quilt-") as workdir:
                        for name in wanted:
                            if self._exists(name):
                                yield from self._package(name, cache, Path(workdir))
                finally:
                    cache.close()

        return Part(roots, items())

    # -- the registry: pointers without quilt3 where possible, manifests through quilt3 ------

    def _quilt(self) -> tuple[Any, Any]:
        """quilt3 and the registry object, imported and resolved on first need (0.4 s of
        imports: boto3, the GraphQL client). Resolved once and handed to every quilt3 call:
        given a URL string, each call re-parses quilt3's YAML config file, which was 80% of a
        scan's time."""
        quilt3 = _quilt3()
        if self._quilt_registry is None:
            from quilt3.backends import get_package_registry

            self._quilt_registry = get_package_registry(self.registry)
        return quilt3, self._quilt_registry

    def _s3_clients_shared(self) -> Any:
        """Reuse quilt3's S3 clients over a scan of an S3 registry; a local registry has none."""
        if self.registry.startswith("s3://"):
            self._quilt()
            return _shared_s3_clients()
        return nullcontext()

    def _pointer_directory(self) -> Path | None:
        """`.quilt/named_packages` of a local registry in the layout quilt3 writes by default
        (its version 1), read here with plain directory listings like quilt3's local backend
        does, so that finding every package unchanged imports no quilt3. None otherwise
        (S3, or a registry with quilt3's version 2 layout): quilt3 lists those."""
        if self._pointer_dir is False:
            self._pointer_dir = None
            if not self.registry.startswith("s3://"):
                quilt_dir = path_from_uri(self.registry, "file") / ".quilt"
                if not (quilt_dir / "v2").exists():
                    self._pointer_dir = quilt_dir / "named_packages"
        return self._pointer_dir

    def _package_names(self) -> list[str]:
        directory = self._pointer_directory()
        if directory is None:
            quilt3, registry = self._quilt()
            return list(quilt3.list_packages(registry))
        return [
            f"{user}/{package}"
            for user in _listdir(directory)
            for package in _listdir(directory / user)
        ]

    def _pointers(self, name: str) -> list[tuple[str, str]]:
        """(pointer, top hash) of every pointer of a package: one per push, named by its Unix
        time, plus "latest"."""
        directory = self._pointer_directory()
        if directory is None:
            quilt3, registry = self._quilt()
            return list(quilt3.list_package_versions(name, registry=registry))
        if not _PACKAGE_NAME.match(name):  # what quilt3 checks before it lists
            raise SourceError(f"invalid package name {name!r}")
        pointers = directory / name
        return [
            (pointer, (pointers / pointer).read_text(encoding="utf-8"))
            for pointer in _listdir(pointers)
        ]

    def _exists(self, name: str) -> bool:
        """Does the registry still name the package (has it any pointer)?"""
        pointers = f".quilt/named_packages/{name}/"
        if self.registry.startswith("s3://"):
            bucket, _ = _s3.split_uri(self.registry)
            listed = self._s3().list_objects_v2(Bucket=bucket, Prefix=pointers, MaxKeys=1)
            return bool(listed.get("KeyCount"))
        directory = path_from_uri(self.registry, "file") / pointers
        return directory.is_dir() and any(directory.iterdir())

    def _check_registry(self) -> None:
        if self.registry.startswith("s3://"):
            bucket, rest = _s3.split_uri(self.registry)
            if rest:
                raise SourceError(
                    f"{self.uri}: a Quilt registry is a whole bucket; write quilt+s3://{bucket}"
                )
            _s3.check_bucket(self._s3(), bucket, self.uri)
            # An existing bucket that holds no Quilt manifests is almost surely a wrong name;
            # indexing it "successfully" would delete everything indexed from it before.
            listed = self._s3().list_objects_v2(Bucket=bucket, Prefix=".quilt/", MaxKeys=1)
            if not listed.get("KeyCount"):
                raise SourceError(
                    f"{self.uri}: bucket {bucket!r} is not a Quilt registry (no .quilt/ "
                    "manifests); push a package to it with quilt3 first, or index its objects "
                    f"as plain files with s3://{bucket}/prefix"
                )
            return
        path = path_from_uri(self.registry, "file")
        if not path.is_dir():
            raise SourceError(f"{self.uri}: registry directory {path} does not exist")
        if not (path / ".quilt").is_dir():
            raise SourceError(
                f"{self.uri}: {path} is not a Quilt registry (it has no .quilt directory); "
                "point at the directory packages were built into with quilt3"
            )

    def _s3(self) -> Any:
        if self._s3_client is None:
            self._s3_client = _s3.client(self.settings)
        return self._s3_client

    def _revisions(self, name: str) -> tuple[list[Revision], datetime | None]:
        """The revisions to index (latest first) and when the package was first pushed.

        quilt3 lists one pointer per push, named by its Unix time, plus "latest"; a top hash
        pushed twice keeps its first time, which is when that content appeared.
        """
        pushed: dict[str, datetime | None] = {}
        latest = None
        for pointer, top_hash in self._pointers(name):
            if pointer == "latest":
                latest = top_hash
                continue
            when, earlier = _timestamp(pointer), pushed.get(top_hash)
            if top_hash not in pushed or (when and (earlier is None or when < earlier)):
                pushed[top_hash] = when
        times = [t for t in pushed.values() if t]
        created = min(times) if times else None
        if latest is None:  # no "latest" pointer: the newest push is the latest revision
            if not pushed:
                return [], None
            latest = max(pushed, key=lambda h: pushed[h] or _EPOCH)
        revisions = [Revision(latest, pushed.get(latest), True)]
        if self.all_revisions:
            older = sorted((h for h in pushed if h != latest), key=lambda h: pushed[h] or _EPOCH)
            revisions += [Revision(h, pushed[h], False) for h in reversed(older)]
        return revisions, created

    def _package(
        self, name: str, cache: SummaryCache, workdir: Path
    ) -> Iterator[Asset | SourceIssue | Checked]:
        try:
            revisions, created = self._revisions(name)
        except Exception as exc:
            yield SourceIssue(
                self.uri,
                name,
                f"cannot list the package's revisions: {exc}",
                keep=package_id(self.registry, name),
            )
            return
        if not revisions:
            yield SourceIssue(self.uri, name, "the package has no revisions (no latest pointer)")
            return
        root = package_id(self.registry, name)
        fingerprint = self._fingerprint(name, revisions, created)
        if self.known_fingerprints.get(root) == fingerprint:
            yield Checked(root, fingerprint, unchanged=True)
            return
        complete = True
        for revision in revisions:
            top_hash = revision.top_hash
            try:
                quilt3, registry = self._quilt()
                package = quilt3.Package.browse(name, registry=registry, top_hash=top_hash)
                header = next(package.manifest)
                entries = list(package.walk())
            except Exception as exc:
                yield SourceIssue(
                    self.uri,
                    f"{name}@{top_hash}",
                    f"cannot read the package manifest: {type(exc).__name__}: {exc}",
                    field="manifest",
                    keep=package_id(self.registry, name),
                )
                complete = False
                continue
            built = self._revision(name, revision, created, header, entries, cache, workdir)
            try:
                for item in built:
                    # A package with an entry that could not be read is not done: no
                    # fingerprint, so the next run reads it again and reports it again.
                    if isinstance(item, SourceIssue) or (isinstance(item, Asset) and item.errors):
                        complete = False
                    yield item
            except (TypeError, ValueError, AttributeError, KeyError) as exc:
                # quilt3 reads a manifest without checking its fields' types: a size that is
                # not a number or a message that is not text fails here, not at browse().
                yield SourceIssue(
                    self.uri,
                    f"{name}@{top_hash}",
                    f"malformed package manifest: {type(exc).__name__}: {exc}",
                    field="manifest",
                    keep=package_id(self.registry, name),
                )
                complete = False
        if complete:
            yield Checked(root, fingerprint)

    def _fingerprint(self, name: str, revisions: list[Revision], created: datetime | None) -> str:
        """Everything a package's assets are built from: its top hashes (which pin manifest,
        metadata and every entry's bytes), push times, the access rules and the code."""
        if self._code is None:
            import indexer
            import indexer.extractors
            import indexer.sources
            import labsearch

            self._code = code_fingerprint(indexer, indexer.sources, indexer.extractors, labsearch)
        parts = [
            self._code,
            self.uri,
            name,
            [(r.top_hash, str(r.pushed_at), r.is_latest) for r in revisions],
            str(created),
            resolve_groups(self.settings, self.uri, None, keys=self._rule_keys(name)).groups,
            self.max_download_bytes,
        ]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    def _rule_keys(self, name: str) -> list[str]:
        """What access-rule prefixes are matched against for a package."""
        return [self.registry, name, f"{self.registry}#{name}"]

    # -- assets ----------------------------------------------------------------------------

    def _revision(
        self,
        name: str,
        revision: Revision,
        created: datetime | None,
        header: Mapping[str, Any],
        entries: list[tuple[str, Any]],
        cache: SummaryCache,
        workdir: Path,
    ) -> Iterator[Asset | SourceIssue]:
        top_hash, is_latest = revision.top_hash, revision.is_latest
        user_meta = header.get("user_meta") or {}
        if not isinstance(user_meta, Mapping):
            user_meta = {"user_meta": user_meta}
        message = header.get("message") or ""
        normalized = normalize(user_meta)
        own_id = package_id(self.registry, name, None if is_latest else top_hash)
        access = resolve_groups(
            self.settings,
            self.uri,
            _groups_in(user_meta),
            keys=self._rule_keys(name),
        )
        data_level = data_level_from(user_meta, name)
        logical_keys = [lk for lk, _ in entries]
        metadata: dict[str, Any] = {
            "package": name,
            "registry": self.registry,
            "top_hash": top_hash,
            "message": message,
            "latest": is_latest,
            "entries": len(entries),
            "size": sum(int(entry.size or 0) for _, entry in entries),
            **user_meta,
            **normalized,
        }
        text_lines = [f"Quilt package {name} in registry {self.registry}"]
        if message:
            text_lines.append(f"Message: {message}")
        text_lines += describe(user_meta)
        if logical_keys:
            text_lines.append(f"Files ({len(logical_keys)}): {file_overview(logical_keys)}")
        package = Asset(
            id=own_id,
            source=self.uri,
            kind=AssetKind.PACKAGE,
            entity=entity_from(user_meta)
            or (Entity.RUN if "run_id" in normalized else Entity.DATASET),
            title=name,
            text="\n".join(text_lines),
            metadata=metadata,
            identifiers=ids.collect(
                [name, name.split("/", 1)[-1]],
                identifiers_of(normalized),
                ids.from_metadata(user_meta),
                ids.from_text(message),
            ),
            data_level=data_level,
            links=[Link(rel=LinkType.DERIVED_FROM, target=t) for t in self._parents(user_meta)],
            provenance=Provenance(
                source=self.uri, registry=self.registry, package=name, top_hash=top_hash
            ),
            **access.asset_fields(),
            # Older revisions were current when pushed; the package itself exists since its
            # first push and was last changed when its latest revision was pushed.
            created_at=created if is_latest else revision.pushed_at,
            updated_at=revision.pushed_at,
        )
        yield package
        for logical_key, entry in entries:
            try:
                yield from self._entry(package, logical_key, entry, normalized, cache, workdir)
            except Exception as exc:  # one malformed entry must not hide the others
                yield SourceIssue(
                    self.uri, f"{name}:{logical_key}", f"cannot read entry: {exc}", field="entry"
                )

    def _parents(self, metadata: Mapping[str, Any]) -> list[str]:
        """Package ids named by `derived_from` & co.: "ns/name" (same registry),
        "registry#ns/name", a Quilt URI "quilt+s3://bucket#package=ns/name[@hash]", or
        {"registry": ..., "name": ...}."""
        targets: list[str] = []
        for key in DERIVED_FROM_KEYS:
            value = metadata.get(key)
            for item in value if isinstance(value, list | tuple) else [value]:
                target = self._parent(item)
                if target:
                    targets.append(target)
        return list(dict.fromkeys(targets))

    def _parent(self, item: Any) -> str | None:
        registry, name = self.registry, None
        if isinstance(item, Mapping):
            registry = str(item.get("registry") or registry)
            name = item.get("name") or item.get("package")
        elif isinstance(item, str):
            name = item
            if "#package=" in item:
                registry, _, rest = item.partition("#package=")
                name = rest.split("&", 1)[0].split("@", 1)[0].split(":", 1)[0]
            elif "#" in item:
                registry, _, name = item.partition("#")
        if not isinstance(name, str) or not _PACKAGE_NAME.match(name):
            return None
        registry = registry.removeprefix("quilt:").removeprefix("quilt+").rstrip("/")
        return package_id(registry, name)

    def _entry(
        self,
        package: Asset,
        logical_key: str,
        entry: Any,
        package_normalized: Mapping[str, Any],
        cache: SummaryCache,
        workdir: Path,
    ) -> Iterator[Asset]:
        user_meta = entry.meta if isinstance(entry.meta, Mapping) else {"meta": entry.meta}
        physical = entry.physical_key
        entry_hash = entry.hash or {}
        name = package.provenance.package or ""
        base = logical_key.rsplit("/", 1)[-1]
        content = self._content(physical, entry, base, cache, workdir)
        own = normalize(user_meta)
        # An entry inherits its package's run, experiment and samples, except that samples the
        # entry itself names (its metadata, else its content: BAM read groups, a FASTQ's file
        # name) are more exact: "files of sample X" must not list the FASTQ of sample Y.
        if "samples" not in own and content.summary is not None:
            from_content = normalize(content.summary.metadata).get("samples")
            if from_content:
                own["samples"] = from_content
        metadata: dict[str, Any] = {
            "package": name,
            "logical_key": logical_key,
            "name": base,
            "size": entry.size,
            "hash_type": entry_hash.get("type"),
            **inherited(package_normalized),
            **user_meta,
            **own,
        }
        package_samples = package_normalized.get("samples")
        if package_samples and own.get("samples") and own["samples"] != package_samples:
            metadata["package_samples"] = package_samples
        provenance = Provenance(
            source=self.uri,
            registry=self.registry,
            package=name,
            top_hash=package.provenance.top_hash,
            logical_key=logical_key,
            entry_hash=entry_hash.get("value"),
            physical_key=str(physical),
        )
        if physical.is_local():
            provenance.path = physical.path
        else:
            provenance.s3_uri = f"s3://{physical.bucket}/{physical.path}"
            provenance.version_id = physical.version_id
        asset = Asset(
            id=entry_id(package.id, logical_key),
            source=self.uri,
            kind=AssetKind.PACKAGE_ENTRY,
            entity=entity_from(user_meta) or Entity.FILE,
            title=logical_key,
            text="\n".join([f"{logical_key} in Quilt package {name}", *describe(user_meta)]),
            metadata={k: v for k, v in metadata.items() if v is not None},
            identifiers=ids.collect(
                [base, logical_key],
                identifiers_of(metadata),
                ids.from_metadata(user_meta),
                ids.from_text(logical_key),
            ),
            data_level=data_level_from(user_meta)
            or package.data_level
            or data_level_from({}, logical_key),
            links=[Link(rel=LinkType.PART_OF, target=package.id)],
            provenance=provenance,
            groups=package.groups,
            rule_keys=package.rule_keys,
            created_at=package.created_at,
            updated_at=package.updated_at,
        )
        yield from with_content(asset, content)

    def _content(
        self, physical: Any, entry: Any, name: str, cache: SummaryCache, workdir: Path
    ) -> Content:
        if physical.is_local():
            path = Path(physical.path)
            try:
                stat = path.stat()
            except OSError as exc:
                return Content(
                    error=f"cannot read the entry's bytes at {path}: {exc.strerror or exc}"
                )
            # Same key as the file:// source, so a file seen through both is read once.
            return Content(
                summary=cache.get_or_make(
                    f"file:{path}:{stat.st_size}:{stat.st_mtime_ns}",
                    lambda: summarize_file(path),
                )
            )
        obj = _s3.S3Object(
            bucket=physical.bucket,
            key=physical.path,
            size=int(entry.size or 0),
            version_id=physical.version_id,
            # Without a version id the manifest's content hash identifies the bytes for the cache.
            etag=(entry.hash or {}).get("value"),
            last_modified=None,
        )
        return fetch_s3_content(self._s3(), cache, obj, name, workdir, self.max_download_bytes)
