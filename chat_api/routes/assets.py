"""Asset detail and download links.

Asset ids contain '/', ':' and '#' (e.g. `quilt:s3://lab-bucket#raw/run-7:reads/R1.fastq.gz`).
The route captures the rest of the path, so a single '/' may stay as is, but '#', '?' and '%'
must be percent-encoded (or the client drops them), and some clients collapse the '//' of
's3://'. Encoding the whole id (`urllib.parse.quote(asset_id, safe="")`, JavaScript
`encodeURIComponent`) always works.
"""

from __future__ import annotations

from fastapi import APIRouter

from chat_api.deps import CurrentUser, State
from labsearch.models import AssetResponse, ErrorBody, PresignResponse

router = APIRouter(
    prefix="/assets",
    tags=["assets"],
    responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody}},
)

ID_DOC = "Percent-encode the id (quote(id, safe='')): it contains '/', ':' and '#'."


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
    links = state.service.links(asset)
    state.audit.record(user=access.user, action="asset", returned=[asset.id])
    return AssetResponse(asset=asset, links=links)
