"""Records pushed by apps and ELNs (POST /v1/ingest, signed webhooks): upserted and deleted by
id, in batches, each record with its own status.

Pushed records live under their own source, `ingest://{name}`: `labsearch sources` lists it,
re-indexing other sources never touches it, `labsearch remove ingest://{name}` forgets it. A
record is the JSON object of docs/eln-format.md (one line of an ELN export) and becomes the same
asset an export line would, with the id `ingest:{name}:{record id}`.

Who may write what: the caller's groups bound the groups of every record it writes, and of every
record it overwrites or deletes, so an app cannot plant records in (or remove them from) another
lab's view. The caller takes the source's lock without waiting: while another writer holds it (a
rebuild), the push fails at once with WriterBusyError, which the API answers with 503 and
Retry-After.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ValidationError

from indexer.locks import source_lock
from indexer.pipeline import model_key
from indexer.sources.eln import ElnExportSource, ElnRecord, _describe_validation
from indexer.state import SyncReport, SyncState
from labsearch.access import Access
from labsearch.embeddings import Embedder
from labsearch.errors import IndexLockedError, InvalidRequestError, WriterBusyError
from labsearch.schema import Asset
from labsearch.settings import Settings
from labsearch.stores.protocol import AssetStore, IndexedAsset

SCHEME = "ingest"
_OPERATOR = Access.as_operator()  # the ingest checks groups itself, against the stored ones
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

Status = Literal["created", "updated", "unchanged", "deleted", "not_found", "invalid", "forbidden"]


def source_uri(name: str) -> str:
    """`ingest://{name}`, for a name of letters, digits, `.`, `_` and `-`."""
    if not _NAME.match(name):
        raise InvalidRequestError(
            f"source name {name!r} must be 1-64 letters, digits, '.', '_' or '-', starting "
            "with a letter or digit (e.g. 'benchling' or 'lims-prod')"
        )
    return f"{SCHEME}://{name}"


def is_pushed(uri: str) -> bool:
    return uri.startswith(f"{SCHEME}://")


@dataclass
class RecordStatus:
    id: str
    status: Status
    asset_id: str | None = None
    detail: str | None = None
    field: str | None = None


@dataclass
class Writer:
    """Who pushes: a user with the ingest scope, a webhook sender or the operator (None)."""

    name: str
    groups: frozenset[str] | None  # None: the operator, who may write any groups

    def may_write(self, groups: Iterable[str]) -> list[str]:
        """The groups among `groups` the writer is not in (empty: allowed)."""
        if self.groups is None:
            return []
        return sorted(set(groups) - self.groups)

    def may_see(self, groups: Iterable[str]) -> bool:
        """Whether a user in the writer's groups could read a record stored with `groups`."""
        if self.groups is None:
            return True
        return Access.for_groups(self.groups).can_see(groups)


@dataclass
class IngestResult:
    source: str
    results: list[RecordStatus] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)


class _PushedRecords(ElnExportSource):
    """Turns pushed records into assets the way an ELN export's lines are turned."""

    def __init__(self, uri: str, settings: Settings) -> None:
        self.uri = uri
        self.settings = settings
        self.path = None  # type: ignore[assignment]  # pushed records have no file
        self.name = uri.removeprefix(f"{SCHEME}://")

    def asset_id(self, record_id: str) -> str:
        return f"{SCHEME}:{self.name}:{record_id}"


class Ingestor:
    """Writes pushed records into the store; one instance per API process."""

    def __init__(self, settings: Settings, store: AssetStore, embedder: Embedder) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder

    def push(
        self,
        name: str,
        upserts: Sequence[dict[str, Any]],
        deletes: Sequence[str],
        writer: Writer,
    ) -> IngestResult:
        uri = source_uri(name)
        total = len(upserts) + len(deletes)
        if total > self.settings.ingest_max_records:
            raise InvalidRequestError(
                f"{total} records in one request; the limit is "
                f"{self.settings.ingest_max_records} (LABSEARCH_INGEST_MAX_RECORDS): send "
                "them in several batches"
            )
        try:
            with source_lock(self.settings.home, uri):  # never waits: a push must not hang
                result = self._push(uri, upserts, deletes, writer)
                self._record(result)
        except IndexLockedError as busy:
            raise WriterBusyError(
                f"cannot write to {uri} now: {busy}. Nothing was written; send the same "
                f"request again in {WriterBusyError.retry_after_seconds} s (pushes are "
                "idempotent)"
            ) from busy
        return result

    def _push(
        self, uri: str, upserts: Sequence[dict[str, Any]], deletes: Sequence[str], writer: Writer
    ) -> IngestResult:
        records = _PushedRecords(uri, self.settings)
        result = IngestResult(uri)
        existing = self.store.hashes_by_source(uri)
        parsed: list[ElnRecord] = []
        seen: set[str] = set()
        for position, raw in enumerate(upserts):
            record, status = _parse(raw, position, seen)
            if status is not None:
                result.results.append(status)
            else:
                assert record is not None
                seen.add(record.record_id)
                parsed.append(record)
        prefix = records.asset_id("")
        known = {asset_id.removeprefix(prefix) for asset_id in existing} | seen
        key = model_key(self.settings, self.embedder)
        pending: list[tuple[Asset, str, RecordStatus]] = []
        for record in parsed:
            asset = records._asset(record, known)
            status = self._check(asset, existing, writer, record.record_id)
            if status.status == "forbidden":
                result.results.append(status)
                continue
            content_hash = asset.content_hash(key)
            if existing.get(asset.id) == content_hash:
                status.status = "unchanged"
                result.results.append(status)
                continue
            pending.append((asset, content_hash, status))
        self._write(pending)
        result.results += [status for _, _, status in pending]
        result.results += self._delete(records, deletes, seen, existing, writer)
        return result

    def _check(
        self, asset: Asset, existing: dict[str, str], writer: Writer, record_id: str
    ) -> RecordStatus:
        """May the writer give the record its groups, and replace what is stored under its id?"""
        status = RecordStatus(record_id, "updated" if asset.id in existing else "created", asset.id)
        missing = writer.may_write(asset.groups)
        if missing:
            status.status = "forbidden"
            status.detail = (
                f"{writer.name} is not in group(s) {', '.join(missing)} the record names; push "
                "records only for your own groups"
            )
            status.field = "access_groups"
        elif asset.id in existing:
            stored = self.store.get_many([asset.id], _OPERATOR)
            if stored and writer.may_write(stored[0].groups):
                # The stored record's groups are not named: the writer may not even see it.
                status.status = "forbidden"
                status.detail = (
                    f"{writer.name} may not replace the record stored under this id; push it "
                    "under another id"
                )
                status.field = "id"
        return status

    def _write(self, pending: list[tuple[Asset, str, RecordStatus]]) -> None:
        limit = self.settings.embed_max_chars
        batch = self.settings.index_batch_size
        for start in range(0, len(pending), batch):
            part = pending[start : start + batch]
            vectors = self.embedder.embed([asset.embedding_text(limit) for asset, _, _ in part])
            self.store.upsert(
                [
                    IndexedAsset(asset=asset, vector=vector.tolist(), content_hash=content_hash)
                    for (asset, content_hash, _), vector in zip(part, vectors, strict=True)
                ]
            )

    def _delete(
        self,
        records: _PushedRecords,
        deletes: Sequence[str],
        upserted: set[str],
        existing: dict[str, str],
        writer: Writer,
    ) -> list[RecordStatus]:
        statuses: list[RecordStatus] = []
        doomed: list[str] = []
        for raw in deletes:
            record_id = str(raw).strip()
            asset_id = records.asset_id(record_id)
            if not record_id or record_id in upserted:
                reason = "blank id" if not record_id else "the same id is upserted in this request"
                statuses.append(RecordStatus(record_id, "invalid", None, reason, "delete"))
                continue
            stored = self.store.get_many([asset_id], _OPERATOR) if asset_id in existing else []
            missing = writer.may_write(stored[0].groups) if stored else []
            if not stored or (missing and not writer.may_see(stored[0].groups)):
                # A record the writer may neither change nor see answers as a missing one:
                # "forbidden" would tell that it exists (and in which groups).
                statuses.append(RecordStatus(record_id, "not_found", asset_id))
                continue
            if missing:
                detail = f"{writer.name} is not in group(s) {', '.join(missing)} of the record"
                statuses.append(RecordStatus(record_id, "forbidden", asset_id, detail))
                continue
            doomed.append(asset_id)
            statuses.append(RecordStatus(record_id, "deleted", asset_id))
        if doomed:
            self.store.delete(doomed)
        return statuses

    def _record(self, result: IngestResult) -> None:
        """What `labsearch sources` shows for the pushed source: the last push."""
        report = SyncReport(
            source=result.source,
            added=result.count("created"),
            updated=result.count("updated"),
            unchanged=result.count("unchanged"),
            deleted=result.count("deleted"),
            failed=result.count("invalid") + result.count("forbidden"),
            errors=[
                f"{result.source}: {r.id}: {r.detail}"
                for r in result.results
                if r.status in ("invalid", "forbidden")
            ][:100],
            finished_at=datetime.now(UTC).isoformat(),
            complete=True,
        )
        state = SyncState(self.settings.state_path)
        try:
            state.record(report)
        finally:
            state.close()


def _parse(raw: Any, position: int, seen: set[str]) -> tuple[ElnRecord | None, RecordStatus | None]:
    """The record, or the status saying why it was refused."""
    label = str(raw.get("id", f"#{position}")) if isinstance(raw, dict) else f"#{position}"
    if not isinstance(raw, dict):
        detail = f"record {position} is a {type(raw).__name__}, not a JSON object"
        return None, RecordStatus(label, "invalid", None, detail)
    try:
        record = ElnRecord.model_validate(raw)
    except ValidationError as exc:
        field_name, reason = _describe_validation(exc)
        return None, RecordStatus(label, "invalid", None, reason, field_name)
    if record.record_id in seen:
        detail = "the same id appears twice in this request; send each record once"
        return None, RecordStatus(record.record_id, "invalid", None, detail, "id")
    return record, None
