"""JSON and JSON Lines: structure (keys, lengths) and scalar fields as readable text; the
normalized keys a lab puts in metadata files (sample, run_id, organism...) become metadata."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from indexer.extractors import sniff
from indexer.extractors.base import Summary
from indexer.extractors.common import listing, plural
from indexer.extractors.reading import GZIP_ERRORS, decode_text, gzip_error, read_capped
from labsearch import identifiers
from labsearch.schema import NORMALIZED_METADATA_KEYS

MAX_FIELDS = 40  # scalar fields spelled out in the text
NORMALIZED = NORMALIZED_METADATA_KEYS


def _scalars(
    value: Any, prefix: str = "", out: list[tuple[str, str]] | None = None
) -> list[tuple[str, str]]:
    """(dotted path, value) of scalar leaves, breadth of the first MAX_FIELDS."""
    out = [] if out is None else out
    if len(out) >= MAX_FIELDS:
        return out
    if isinstance(value, dict):
        for key, child in value.items():
            _scalars(child, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list):
        if value and all(not isinstance(item, dict | list) for item in value):
            out.append((prefix, listing(value, 10)))
        else:
            for item in value[:3]:
                _scalars(item, f"{prefix}[]", out)
    elif value is not None and len(out) < MAX_FIELDS:
        out.append((prefix, str(value)[:200]))
    return out


def _parse(content: str, path: Path, lines: bool, summary: Summary) -> Any:
    if not lines:
        try:
            return json.loads(content)
        except json.JSONDecodeError as exc:
            summary.errors.append(
                f"invalid JSON in {path.name} at line {exc.lineno} column {exc.colno}: {exc.msg}"
            )
            return None
    records = []
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            summary.errors.append(f"invalid JSON on line {number} of {path.name}: {exc.msg}")
    return records


def summarize(path: Path) -> Summary:
    summary = Summary(format="json")
    try:
        data, truncated = read_capped(path)
    except GZIP_ERRORS as exc:
        summary.errors.append(gzip_error(path, exc))
        summary.text = f"JSON file {path.name} (unreadable)"
        return summary
    content, errors = decode_text(data, path, truncated=truncated)
    summary.errors += errors
    base = sniff.strip_compression(path.name)[0].lower()
    lines = base.endswith((".jsonl", ".ndjson"))
    if truncated and not lines:
        summary.errors.append(
            f"JSON file {path.name} is larger than the content cap; its structure is not parsed"
        )
        value = None
    else:
        value = _parse(content, path, lines, summary)
    metadata: dict[str, Any] = {"json_lines": lines}
    if isinstance(value, dict):
        metadata |= {"json_type": "object", "keys": list(value)[:100]}
        for key in NORMALIZED:
            field = value.get(key)
            scalar_list = isinstance(field, list) and all(isinstance(v, str | int) for v in field)
            if isinstance(field, str | int | float) or scalar_list:
                metadata[key] = field
        if isinstance(value.get("sample"), str) and "samples" not in metadata:
            metadata["samples"] = [value["sample"]]
        shape = f"JSON object with keys {listing(value, 20)}"
    elif isinstance(value, list):
        keys = list(
            dict.fromkeys(k for item in value[:1000] if isinstance(item, dict) for k in item)
        )
        metadata |= {"json_type": "array", "length": len(value), "item_keys": keys[:100]}
        noun = "record" if lines else "item"
        shape = f"JSON {'Lines' if lines else 'array'} of {plural(len(value), noun)}"
        shape += f" with keys {listing(keys, 20)}" if keys else ""
    elif value is not None:
        metadata["json_type"] = type(value).__name__
        shape = f"JSON {type(value).__name__}"
    else:
        shape = "JSON (unparsed)"
    summary.metadata = metadata
    fields = _scalars(value) if value is not None else []
    summary.identifiers = identifiers.collect(
        identifiers.from_metadata(value) if isinstance(value, dict) else [],
        identifiers.from_metadata({"records": value[:1000]}) if isinstance(value, list) else [],
    )
    summary.text = f"{shape} ({path.name})."
    if fields:
        summary.text += "\n" + "; ".join(f"{key}: {val}" for key, val in fields)
    return summary
