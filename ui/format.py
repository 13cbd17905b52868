"""Small text helpers shared by the components: labels, key metadata, short hashes."""

from __future__ import annotations

from typing import Any

# The metadata a scientist looks for first, in this order, under these names.
KEY_METADATA = {
    "sample": "Sample",
    "samples": "Samples",
    "run_id": "Run",
    "instrument": "Instrument",
    "date": "Date",
    "experiment_id": "Experiment",
    "project": "Project",
}
MAX_LISTED = 4


def value_text(value: Any) -> str:
    """A metadata value on one line; long lists are cut with a count of the rest."""
    if isinstance(value, list):
        shown = ", ".join(str(v) for v in value[:MAX_LISTED])
        rest = len(value) - MAX_LISTED
        return f"{shown} (+{rest} more)" if rest > 0 else shown
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def key_metadata(metadata: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (label, value_text(metadata[name]))
        for name, label in KEY_METADATA.items()
        if metadata.get(name) not in (None, "", [])
    ]


def package_at_hash(package: str | None, top_hash: str | None) -> str | None:
    """`lab-a/raw-run-7@ef26a1e3` as Quilt users quote a package revision."""
    if not package:
        return None
    return f"{package}@{top_hash[:10]}" if top_hash else package


def s3_uri_text(s3_uri: str | None, version_id: str | None) -> str | None:
    if not s3_uri:
        return None
    if version_id and "versionId=" not in s3_uri:
        return f"{s3_uri}?versionId={version_id}"
    return s3_uri


def label(value: str | None) -> str:
    """`package_entry` -> `package entry`."""
    return (value or "").replace("_", " ")


def facts(kind: str | None, entity: str | None, data_level: str | None) -> str:
    """`package · run · raw data`; the entity is left out when it only repeats the kind."""
    parts = [label(kind)]
    if entity and entity != kind:
        parts.append(label(entity))
    if data_level:
        parts.append(f"{data_level} data")
    return " · ".join(p for p in parts if p)
