"""Apply changed access rules to stored assets: no source is read and nothing is embedded.

An asset whose groups came from the settings' rules records the strings they were matched
against (`Asset.rule_keys`); its groups are recomputed from those with the same function the
sources use (indexer/access.py `rule_groups`). Assets whose record named its own groups
(`rule_keys` None) are never touched. Each changed asset gets the content hash it would get
from a fresh index run, so the next `labsearch index` sees it as unchanged.

Nothing here takes a lock: callers that are not already the only writer take
`writer_lock(settings.home)` (indexer/jobs.py `apply_rules` does), since applying touches the
assets of every source.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

from indexer.access import rule_groups
from indexer.state import SyncState
from labsearch.settings import Settings
from labsearch.stores.protocol import AssetStore, GroupsUpdate, StoredAsset

BATCH_SIZE = 500  # assets read (and at most written) per store call: memory stays bounded


@dataclass
class AccessReport:
    """What applying the access rules did."""

    ruled: int = 0  # assets whose groups come from rules (checked)
    changed: int = 0  # of those, assets whose groups changed
    own: int = 0  # assets whose record names its groups (left alone)

    def summary(self) -> str:
        return (
            f"{self.changed} assets changed groups, {self.ruled - self.changed} unchanged, "
            f"{self.own} name their own groups"
        )


def rules_fingerprint(settings: Settings) -> str:
    """Hash of everything rule-derived groups depend on: access rules and public sources."""
    payload = {
        "access_rules": [rule.model_dump(mode="json") for rule in settings.access_rules],
        "public_sources": list(settings.public_sources),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def store_key(settings: Settings) -> str:
    """Which index the state db's record of applied rules is about (one home may serve both
    backends, or several OpenSearch indexes)."""
    if settings.backend == "opensearch":
        return f"opensearch:{settings.opensearch_url}/{settings.opensearch_index}"
    return f"{settings.backend}:{os.path.realpath(settings.index_dir)}"


def rules_changed(settings: Settings) -> bool:
    """Do the configured rules differ from the ones last applied to the configured index?"""
    state = SyncState(settings.state_path)
    try:
        return state.applied_rules(store_key(settings)) != rules_fingerprint(settings)
    finally:
        state.close()


def record_rules_applied(settings: Settings) -> None:
    """Remember the configured rules as applied to the configured index (after a rebuild,
    which gave every asset the current rules' groups)."""
    state = SyncState(settings.state_path)
    try:
        state.save_applied_rules(store_key(settings), rules_fingerprint(settings))
    finally:
        state.close()


def apply_access_rules(
    settings: Settings, store: AssetStore, model_key: str, batch_size: int = BATCH_SIZE
) -> AccessReport:
    """Recompute the groups of every stored asset whose groups come from rules and write the
    changed ones (`model_key`: what the indexer computes content hashes with, see
    indexer/pipeline.py `model_key`). Never embeds; reads the store batch by batch."""
    report = AccessReport()
    for batch in store.iter_assets(batch_size):
        updates = []
        for stored in batch:
            if stored.asset.rule_keys is None:
                report.own += 1
                continue
            report.ruled += 1
            update = _regrouped(settings, stored, model_key)
            if update is not None:
                updates.append(update)
        if updates:
            report.changed += store.set_groups(updates)
    return report


def apply_if_rules_changed(
    settings: Settings, store: AssetStore, model_key: str, *, force: bool = False
) -> AccessReport | None:
    """Apply the rules when they changed since they were last applied to this index (always
    with `force`), then record them as applied; None when nothing needed doing. For the index
    job, the server and the watcher at startup; the caller holds the writer lock."""
    fingerprint = rules_fingerprint(settings)
    key = store_key(settings)
    state = SyncState(settings.state_path)
    try:
        if not force and state.applied_rules(key) == fingerprint:
            return None
        report = apply_access_rules(settings, store, model_key)
        # Recorded only after every asset was done: an interrupted run is repeated next time.
        state.save_applied_rules(key, fingerprint)
        return report
    finally:
        state.close()


def _regrouped(settings: Settings, stored: StoredAsset, model_key: str) -> GroupsUpdate | None:
    asset = stored.asset
    groups = rule_groups(settings, asset.source, asset.rule_keys or [])
    if sorted(set(groups)) == sorted(set(asset.groups)):
        return None
    regrouped = asset.model_copy(update={"groups": groups})
    # The new hash says "unchanged" to the next index run only if the stored asset was current
    # for this model_key; an asset waiting to be re-embedded (another model, text cut or
    # embedding-text version) keeps its old hash, so the index run still re-embeds it.
    current = stored.content_hash == asset.content_hash(model_key)
    content_hash = regrouped.content_hash(model_key) if current else stored.content_hash
    return GroupsUpdate(asset.id, groups, content_hash)
