"""Links a person can open, built from an asset's provenance."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from labsearch.models import AssetLinks, Citation
from labsearch.schema import Asset
from retriever.downloads import servable_path
from retriever.exact_versions import manifest_path, python_snippet, quilt3_command

# Metadata shown on citation cards: the facts a scientist checks first.
CARD_KEYS = ("samples", "run_id", "instrument", "date", "experiment_id", "project", "organism")


def s3_uri(asset: Asset) -> str | None:
    prov = asset.provenance
    uri = prov.s3_uri
    if not uri and prov.physical_key and prov.physical_key.startswith("s3://"):
        uri = prov.physical_key
    if not uri:
        return None
    if prov.version_id and "versionId=" not in uri:
        uri = f"{uri.split('?', 1)[0]}?versionId={prov.version_id}"
    return uri


def catalog_url(asset: Asset, catalog: str | None) -> str | None:
    """Quilt catalog page of a package or entry in an S3 registry (local registries have none)."""
    prov = asset.provenance
    if not catalog or not prov.package or not (prov.registry or "").startswith("s3://"):
        return None
    bucket = prov.registry.removeprefix("s3://").split("/", 1)[0]
    revision = prov.top_hash or "latest"
    url = f"{catalog.rstrip('/')}/b/{bucket}/packages/{prov.package}/tree/{revision}/"
    if prov.logical_key:
        url += quote(prov.logical_key)
    return url


def file_url(asset: Asset) -> str | None:
    prov = asset.provenance
    if prov.path:
        return f"file://{quote(prov.path)}"
    if prov.physical_key and prov.physical_key.startswith("file://"):
        return prov.physical_key
    return None


def download_url(asset: Asset, roots: Sequence[Path] = ()) -> str | None:
    """The API path that serves the asset's bytes, when this service may serve them."""
    if servable_path(asset, roots) is None:
        return None
    return f"/v1/download/{quote(asset.id, safe='')}"


def links_for(asset: Asset, catalog: str | None, roots: Sequence[Path] = ()) -> AssetLinks:
    uri = s3_uri(asset)
    return AssetLinks(
        s3_uri=uri,
        catalog_url=catalog_url(asset, catalog),
        eln_url=asset.provenance.eln_url,
        file_url=file_url(asset),
        presign=f"/v1/assets/{quote(asset.id, safe='')}/presign" if uri else None,
        download=(download := download_url(asset, roots)),
        preview=download.replace("/v1/download/", "/v1/preview/", 1) if download else None,
        manifest=f"/v1/manifest/{quote(asset.id, safe='')}" if manifest_path(asset) else None,
        record=f"/v1/record/{quote(asset.id, safe='')}" if _is_eln(asset) else None,
        quilt3_command=quilt3_command(asset),
        python=python_snippet(asset),
    )


def _is_eln(asset: Asset) -> bool:
    return asset.source.startswith("eln+file://") and bool(asset.provenance.record_id)


def card_metadata(asset: Asset) -> dict:
    return {key: asset.metadata[key] for key in CARD_KEYS if key in asset.metadata}


def citation_for(asset: Asset, catalog: str | None, roots: Sequence[Path] = ()) -> Citation:
    links = links_for(asset, catalog, roots)
    prov = asset.provenance
    return Citation(
        asset_id=asset.id,
        title=asset.title,
        kind=asset.kind,
        entity=asset.entity,
        data_level=asset.data_level,
        package=prov.package,
        top_hash=prov.top_hash,
        logical_key=prov.logical_key,
        entry_hash=prov.entry_hash,
        s3_uri=links.s3_uri,
        version_id=prov.version_id,
        catalog_url=links.catalog_url,
        eln_url=links.eln_url,
        file_url=links.file_url,
        download_url=links.download,
        preview_url=links.preview,
        manifest_url=links.manifest,
        record_url=links.record,
        quilt3_command=links.quilt3_command,
        python=links.python,
        metadata=card_metadata(asset),
    )
