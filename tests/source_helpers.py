"""What every source test does first: run a scan and split it into assets and issues."""

from __future__ import annotations

from indexer.sources.base import Checked, Source, SourceIssue
from labsearch.schema import Asset


def split_scan(source: Source) -> tuple[dict[str, Asset], list[SourceIssue]]:
    """Assets by id (ids must be unique within one scan) and the issues, in scan order."""
    assets: dict[str, Asset] = {}
    issues: list[SourceIssue] = []
    for item in source.scan():
        if isinstance(item, Checked):  # bookkeeping for the indexer (which packages it read)
            continue
        if isinstance(item, SourceIssue):
            issues.append(item)
        else:
            assert item.id not in assets, f"duplicate id {item.id}"
            assets[item.id] = item
    return assets, issues
