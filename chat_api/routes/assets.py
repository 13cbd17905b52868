"""Asset detail and download links.

Asset ids contain '/', ':' and '#' (e.g. `quilt:s3://lab-bucket#raw/run-7:reads/R1.fastq.gz`).
The route captures the rest of the path, so a single '/' may stay as is, but '#', '?' and '%'
must be percent-encoded (or the client drops them), and some clients collapse the '//' of
's3://'. Encoding the whole id (`urllib.parse.quote(asset_id, safe="")`, JavaScript
`encodeURIComponent`) always works.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter

from chat_api.deps import CurrentUser, State
from labsearch.models import AssetLinks, AssetResponse, ErrorBody, PresignResponse

router = APIRouter(
    prefix="/assets",
    tags=["assets"],
    responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody}},
)

ID_DOC = "Percent-encode the id (quote(id, safe='')): it contains '/', ':' and '#'."


def asset_path(asset_id: str) -> str:
    return "/v1/assets/" + quote(asset_id, safe="")


@router.post(
    "/{asset_id:path}/presign",
    response_model=PresignResponse,
    summary="A short-lived HTTPS download link for an S3 asset you may see.",
    description=ID_DOC,
    responses={400: {"model": ErrorBody}},
)
def presign(asset_id: str, access: CurrentUser, state: State) -> PresignResponse:
    asset = state.service.get_asset(asset_id, access)
    link = state.presigner.presign(asset)
    state.audit.record(user=access.user, action="presign", returned=[asset.id])
    return link


@router.get(
    "/{asset_id:path}",
    response_model=AssetResponse,
    summary="Metadata, provenance and links of one asset (404 if missing or not yours to see).",
    description=ID_DOC,
)
def get_asset(asset_id: str, access: CurrentUser, state: State) -> AssetResponse:
    asset = state.service.get_asset(asset_id, access)
    citation = state.service.citation(asset)
    s3 = citation.s3_uri or asset.provenance.s3_uri
    links = AssetLinks(
        s3_uri=s3,
        catalog_url=citation.catalog_url,
        eln_url=citation.eln_url,
        file_url=citation.file_url,
        presign=asset_path(asset.id) + "/presign" if s3 else None,
    )
    state.audit.record(user=access.user, action="asset", returned=[asset.id])
    return AssetResponse(asset=asset, links=links)
