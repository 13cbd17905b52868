"""Writes that arrive while a rebuild loads its new index, kept when the rebuild is published.

A rebuild (`labsearch index --rebuild`) fills a new index for minutes while `labsearch watch`, an
ingest or a server (other processes, other store objects) keep writing to the index behind the
alias. Without more, the alias swap would drop what they wrote and resurrect what they deleted.
Every writer can find a rebuild in progress through two aliases, so this works across processes:

- `<alias>-rebuilding` names the unpublished index. A writer repeats each write there (through
  the alias with `require_alias`, so a write that comes after the swap never auto-creates an
  index; it goes to the published index instead).
- `<alias>-rebuild-writes` names a journal index: the ids written during the rebuild. The
  rebuild may write an older version of such an id after the writer (it read its sources
  earlier), so `finish_rebuild()` replays every journaled id from the serving index, which the
  writers keep current, into the new one. The replay is conditional on the version it looked at
  (`if_seq_no`): a writer that writes the id again meanwhile wins.

The swap removes both aliases and the journal in the same atomic `_aliases` request.

Order matters and is what makes it safe: a writer looks up the rebuild, journals its ids, writes
the serving index (refreshed), then the new index; the replay reads the journal, then the new
index's versions, then the serving index. A writer that found no rebuild writes only the serving
index: a rebuild that starts after that reads its sources later, so it indexes that change itself.
A rebuild for another model cannot take the old model's vectors; those writes are not replayed
(logged), the rebuild's own data stands.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_errors

from labsearch.stores.opensearch_bulk import Action, BulkWriteError, RetryPolicy, batches, run_bulk
from labsearch.stores.opensearch_client import pages_by_id, translated_errors

log = logging.getLogger(__name__)

JOURNAL_SUFFIX = "-writes"


def marker_alias(alias: str) -> str:
    """The alias on a rebuild's unpublished index, while the rebuild runs."""
    return f"{alias}-rebuilding"


def journal_alias(alias: str) -> str:
    """The alias on the journal of ids written during the rebuild."""
    return f"{alias}-rebuild-writes"


def journal_index(pending_index: str) -> str:
    return f"{pending_index}{JOURNAL_SUFFIX}"


def announce(client: OpenSearch, alias: str, pending_index: str) -> None:
    """Make a rebuild into `pending_index` known to every writer. The journal comes first: a
    writer that sees the marker must find the journal."""
    client.indices.create(
        index=journal_index(pending_index),
        body={
            "settings": {"index": {"number_of_shards": 1, "auto_expand_replicas": "0-1"}},
            "mappings": {"dynamic": "strict", "properties": {"id": {"type": "keyword"}}},
            "aliases": {journal_alias(alias): {}},
        },
        params={"wait_for_active_shards": "1"},
    )
    client.indices.update_aliases(
        body={"actions": [{"add": {"index": pending_index, "alias": marker_alias(alias)}}]}
    )


def drop_abandoned(client: OpenSearch, alias: str, serving: Sequence[str]) -> None:
    """Delete the indices of a rebuild that was never published (its process died or failed)
    before a new rebuild starts, so writers stop repeating their writes into it. Two rebuilds
    of one alias at once are not supported: the later one drops the earlier, whose
    `finish_rebuild()` then refuses to publish."""
    left: set[str] = set()
    for name in (marker_alias(alias), journal_alias(alias)):
        if client.indices.exists_alias(name=name):
            left |= set(client.indices.get_alias(name=name))
    left -= set(serving)
    if left:
        log.warning("dropping %s, left by a rebuild of %s that was never published", left, alias)
        client.indices.delete(index=",".join(sorted(left)), params={"ignore_unavailable": "true"})


def still_announced(client: OpenSearch, alias: str, pending_index: str) -> bool:
    """False when a later rebuild of the same alias took over (and dropped this one's index)."""
    name = marker_alias(alias)
    if not client.indices.exists_alias(name=name):
        return False
    return pending_index in client.indices.get_alias(name=name)


def swap_actions(alias: str, pending_index: str) -> list[dict[str, Any]]:
    """The `_aliases` actions that end the rebuild's announcement (with the swap itself)."""
    return [
        {"remove": {"index": pending_index, "alias": marker_alias(alias)}},
        {"remove_index": {"index": journal_index(pending_index)}},
    ]


class LiveWrites:
    """What a writer outside the rebuild does (OpenSearchStore holds one per store)."""

    def __init__(self, client: OpenSearch, alias: str, url: str, retry: RetryPolicy) -> None:
        self.client = client
        self.alias = alias
        self.url = url
        self.retry = retry

    def begin(self, asset_ids: Sequence[str]) -> bool:
        """Before a write: True when a rebuild is in progress (its journal now lists the ids,
        so the write must be repeated with `repeat`), False when there is none."""
        if not asset_ids:
            return False
        with translated_errors(self.url, "looking for a rebuild in progress"):
            try:
                self.client.indices.get_alias(name=marker_alias(self.alias))
            except os_errors.NotFoundError:
                return False
        entries = [Action("index", asset_id, {"id": asset_id}) for asset_id in asset_ids]
        try:
            self._send(journal_alias(self.alias), entries)
        except BulkWriteError as error:
            if _alias_gone(error):  # published meanwhile: the alias names the new index now
                return False
            raise
        return True

    def repeat(self, actions: Sequence[Action], serving: Callable[[list[Action]], Any]) -> None:
        """After a write to the serving index succeeded: the same actions into the rebuild's
        index. If the rebuild was published in between, the alias now names that index and the
        actions go through `serving` again (the first write may have reached the old one)."""
        try:
            self._send(marker_alias(self.alias), list(actions))
        except BulkWriteError as error:
            if _alias_gone(error):
                serving(list(actions))
                return
            # A rebuild for another model (other dimension) refuses these vectors: the write
            # stands in the serving index until the swap; the rebuild's data replaces it.
            log.warning(
                "a rebuild of %s in progress refused writes made meanwhile (%s); they are kept "
                "until it is published, then `labsearch index` must run again",
                self.alias,
                error,
            )

    def _send(self, target: str, actions: list[Action]) -> None:
        for batch in batches(actions, 1000, 8 * 1024 * 1024):
            run_bulk(
                self.client, target, batch, policy=self.retry, url=self.url, require_alias=True
            )


def journaled_ids(client: OpenSearch, url: str, pending_index: str) -> Iterator[list[str]]:
    """The ids written by others during the rebuild, a page at a time."""
    index = journal_index(pending_index)
    with translated_errors(url, "reading the writes made during the rebuild"):
        client.indices.refresh(index=index)
    what = "reading the writes made during the rebuild"
    for page in pages_by_id(client, url, index, {"match_all": {}}, False, what):
        yield [hit["_id"] for hit in page]


def replay(
    client: OpenSearch,
    url: str,
    pending_index: str,
    current: Callable[[list[str]], dict[str, dict[str, Any]]],
    retry: RetryPolicy,
) -> int:
    """Copy the serving version of every journaled id into the rebuild's index (a deletion
    where the serving index no longer has it); returns how many ids were replayed.
    `current(ids)` gives the serving index's documents (vectors included) of those that exist."""
    replayed = 0
    for chunk in journaled_ids(client, url, pending_index):
        # The new index's versions first, then the serving documents: a writer that changed the
        # id after we read it has also written the new index, so the condition fails and its
        # newer write stands.
        with translated_errors(url, "reading versions in the rebuilt index"):
            docs = client.mget(
                index=pending_index, body={"ids": chunk}, params={"_source": "false"}
            )["docs"]
        versions = {d["_id"]: (d["_seq_no"], d["_primary_term"]) for d in docs if d.get("found")}
        serving = current(chunk)
        actions = []
        for asset_id in chunk:
            version = versions.get(asset_id)
            if asset_id in serving:
                op = "index" if version else "create"
                actions.append(Action(op, asset_id, serving[asset_id], version))
            elif version:
                actions.append(Action("delete", asset_id, None, version))
        for batch in batches(actions, 500, 8 * 1024 * 1024):
            run_bulk(client, pending_index, batch, policy=retry, url=url)
        replayed += len(chunk)
    return replayed


def _alias_gone(error: BulkWriteError) -> bool:
    return bool(error.failures) and all("require_alias" in r for r in error.failures.values())
