"""Source URIs → source objects. The scheme before `+` (or the URI scheme) picks the connector."""

from __future__ import annotations

from typing import Any

from indexer.sources.base import Source, SourceIssue
from labsearch.errors import SourceError
from labsearch.settings import Settings

__all__ = ["Source", "SourceIssue", "SCHEMES", "open_source"]

SCHEMES = {
    "quilt+file": "Quilt registry on a local disk: quilt+file:///path/to/registry",
    "quilt+s3": "Quilt registry in S3: quilt+s3://bucket",
    "eln+file": "ELN/LIMS JSON Lines export: eln+file:///path/export.jsonl",
    "elabftw+https": "eLabFTW server (API v2): elabftw+https://host",
    "elabftw+http": "eLabFTW server without TLS (testing only): elabftw+http://host:port",
    "isatab+file": "ISA-Tab investigation directory: isatab+file:///path/dir",
    "table+file": "Run tables and sample sheets (CSV/TSV/TXT/XLSX, SRA RunInfo, ENA filereport), "
    "one asset per row: table+file:///path/table.csv or a directory of tables",
    "sdrf+file": "SDRF sample and data file tables: sdrf+file:///path/x.sdrf.tsv or a directory",
    "rocrate+file": "RO-Crate (ro-crate-metadata.json): rocrate+file:///path/crate-dir",
    "file": "Plain files in a directory: file:///path/dir",
    "s3": "Plain objects under an S3 prefix: s3://bucket/prefix",
}


def open_source(uri: str, settings: Settings, **options: Any) -> Source:
    scheme = uri.split("://", 1)[0] if "://" in uri else ""
    if scheme in ("quilt+file", "quilt+s3"):
        from indexer.sources.quilt import QuiltSource

        return QuiltSource(uri, settings, **options)
    if scheme == "eln+file":
        from indexer.sources.eln import ElnExportSource

        return ElnExportSource(uri, settings)
    if scheme in ("elabftw+https", "elabftw+http"):
        from indexer.sources.elabftw import ElabFTWSource

        return ElabFTWSource(uri, settings)
    if scheme == "isatab+file":
        from indexer.sources.isatab import IsaTabSource

        return IsaTabSource(uri, settings)
    if scheme == "table+file":
        from indexer.sources.table import TableSource

        return TableSource(uri, settings)
    if scheme == "sdrf+file":
        from indexer.sources.sdrf import SdrfSource

        return SdrfSource(uri, settings)
    if scheme == "rocrate+file":
        from indexer.sources.ro_crate import RoCrateSource

        return RoCrateSource(uri, settings)
    if scheme == "file":
        from indexer.sources.files import FileSource

        return FileSource(uri, settings)
    if scheme == "s3":
        from indexer.sources.files import S3Source

        return S3Source(uri, settings)
    if scheme == "ingest":
        raise SourceError(
            f"{uri}: pushed records are written through POST /v1/ingest (or a webhook), there "
            "is nothing to read; `labsearch remove` forgets them"
        )
    known = "\n".join(f"  {name}: {help_}" for name, help_ in SCHEMES.items())
    raise SourceError(f"unknown source {uri!r}. Sources are URIs of one of these kinds:\n{known}")
