"""Exact-version access to what a citation names: the quilt3 command and Python that fetch the
cited package revision (or entry), its manifest at the cited top hash, and an ELN record as the
JSON line it was indexed from.

Local registries keep each revision's manifest at `.quilt/packages/<top hash>`; the path is
built from the stored registry and a top hash that must be 64 hex digits, never from a request.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from labsearch.schema import Asset, AssetKind

_TOP_HASH = re.compile(r"[0-9a-f]{64}")
_ELN_KINDS = frozenset({AssetKind.EXPERIMENT, AssetKind.SAMPLE})


def quilt3_command(asset: Asset) -> str | None:
    """The shell command that installs exactly the cited revision (or only the cited entry)."""
    prov = asset.provenance
    if not (prov.package and prov.registry and prov.top_hash):
        return None
    command = f"quilt3 install {prov.package} --registry {prov.registry} --top-hash {prov.top_hash}"
    if prov.logical_key:
        command += f" --path {_shell_quote(prov.logical_key)}"
    return command + " --dest ."


def python_snippet(asset: Asset) -> str | None:
    """Python that opens the cited revision and, for an entry, fetches its bytes."""
    prov = asset.provenance
    if not (prov.package and prov.registry and prov.top_hash):
        return None
    lines = [
        "import quilt3",
        f"pkg = quilt3.Package.browse({prov.package!r}, registry={prov.registry!r}, "
        f"top_hash={prov.top_hash!r})",
    ]
    if prov.logical_key:
        lines.append(f"pkg[{prov.logical_key!r}].fetch({Path(prov.logical_key).name!r})")
    return "\n".join(lines)


def manifest_path(asset: Asset) -> Path | None:
    """The manifest file of the cited revision in a local registry, if it is there."""
    prov = asset.provenance
    if not (prov.registry and prov.top_hash and prov.registry.startswith("file://")):
        return None
    if not _TOP_HASH.fullmatch(prov.top_hash):
        return None
    registry = Path(unquote(urlparse(prov.registry).path))
    path = registry / ".quilt" / "packages" / prov.top_hash
    return path if path.is_file() else None


def eln_record(asset: Asset) -> dict[str, Any] | None:
    """The record, as the JSON object the export holds for it, or None."""
    prov = asset.provenance
    if asset.kind not in _ELN_KINDS or not prov.path or not prov.record_id:
        return None
    if not asset.source.startswith("eln+file://"):
        return None
    try:
        lines = Path(prov.path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and str(record.get("id", "")).strip() == prov.record_id:
            return record
    return None


def file_matches_entry(path: Path, entry_hash: str) -> str | None:
    """The hash type (`SHA256` or `sha2-256-chunked`) under which the file's bytes equal the
    cited entry hash, or None. Reads the file once, in quilt3's own checksum parts."""
    from quilt3 import checksums

    chunked = checksums.SHA256_CHUNKED_HASH_NAME
    calculator_cls = checksums.MultiPartChecksumCalculator.get_calculator_cls(chunked)
    chunk_size = checksums.get_checksum_chunksize(path.stat().st_size)
    whole = hashlib.sha256()
    parts = []
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            whole.update(chunk)
            calculator = calculator_cls()
            calculator.update(chunk)
            parts.append(calculator.digest(len(chunk)))
    if whole.hexdigest() == entry_hash:
        return checksums.SHA256_HASH_NAME
    if calculator_cls.combine_parts(parts) == entry_hash:  # as calculate_multipart_checksum_bytes
        return chunked
    return None


def _shell_quote(text: str) -> str:
    return text if re.fullmatch(r"[\w./-]+", text) else "'" + text.replace("'", "'\\''") + "'"
