"""The service behind the ingest routes: run a push, audit it, and shape the answer."""

from __future__ import annotations

from collections import Counter
from typing import Any

from chat_api.state import ApiState
from indexer.ingest import Writer
from labsearch.models import IngestResponse, RecordStatus


def push(
    state: ApiState,
    source: str,
    upserts: list[dict[str, Any]],
    deletes: list[str],
    writer: str,
    groups: tuple[str, ...],
) -> IngestResponse:
    """Write the records as `writer`, who may write for `groups` only."""
    result = state.ingestor.push(source, upserts, deletes, Writer(writer, frozenset(groups)))
    state.audit.record(
        user=writer,
        action="ingest",
        source=result.source,
        written=[r.asset_id for r in result.results if r.status in ("created", "updated")],
        deleted=[r.asset_id for r in result.results if r.status == "deleted"],
    )
    return IngestResponse(
        source=result.source,
        results=[RecordStatus(**vars(r)) for r in result.results],
        counts=dict(Counter(r.status for r in result.results)),
    )
