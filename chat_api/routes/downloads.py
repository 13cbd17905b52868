"""Access to what a citation names: a file's bytes (`/v1/download`) and a bounded preview of them
(`/v1/preview`), a package revision's manifest (`/v1/manifest`) and an ELN record as exported
(`/v1/record`).

The same permission check as `/v1/assets/{id}` (a forbidden asset and a missing one both answer
404), then only a path the indexer stored, resolved at request time and allowed only under the
asset's source directory or LABSEARCH_DOWNLOAD_ROOTS (retriever/downloads.py). `Range` requests
are answered with 206. Every download is audited; a file whose size changed since it was indexed
carries `X-Labsearch-Modified: true`, since its bytes may no longer be the ones cited.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse

from chat_api.deps import CurrentUser, State
from chat_api.previews import preview_asset
from labsearch.models import ErrorBody, PreviewResponse

router = APIRouter(
    tags=["assets"],
    responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody}},
)
ID_DOC = "Percent-encode the id (quote(id, safe='')): it contains '/', ':' and '#'."


@router.get(
    "/download/{asset_id:path}",
    summary="The bytes of a file or package entry you may see (Range supported).",
    description=ID_DOC,
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, 206: {"description": "Range"}},
)
def download(asset_id: str, access: CurrentUser, state: State) -> FileResponse:
    asset, path = state.service.download(asset_id, access)
    size = path.stat().st_size
    indexed_size = asset.metadata.get("size")
    headers = {}
    if isinstance(indexed_size, int) and indexed_size != size:
        headers["X-Labsearch-Modified"] = "true"
    state.audit.record(user=access.user, action="download", returned=[asset.id], bytes=size)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type, filename=path.name, headers=headers)


@router.get(
    "/manifest/{asset_id:path}",
    summary="The manifest (JSON Lines) of the package revision a package or entry cites.",
    description=ID_DOC,
    response_class=FileResponse,
    responses={200: {"content": {"application/jsonl": {}}}},
)
def manifest(asset_id: str, access: CurrentUser, state: State) -> FileResponse:
    asset, path = state.service.manifest(asset_id, access)
    state.audit.record(user=access.user, action="manifest", returned=[asset.id])
    name = f"{asset.provenance.package.replace('/', '_')}@{asset.provenance.top_hash[:12]}.jsonl"
    return FileResponse(path, media_type="application/jsonl", filename=name)


@router.get(
    "/record/{asset_id:path}",
    summary="An ELN record as the export holds it (JSON).",
    description=ID_DOC,
)
def record(asset_id: str, access: CurrentUser, state: State) -> dict[str, Any]:
    asset, body = state.service.record(asset_id, access)
    state.audit.record(user=access.user, action="record", returned=[asset.id])
    return body


@router.get(
    "/preview/{asset_id:path}",
    response_model=PreviewResponse,
    summary="A bounded preview of a file you may see: head, header, page 1, tree or thumbnail.",
    description=ID_DOC,
)
def preview(asset_id: str, access: CurrentUser, state: State) -> PreviewResponse:
    shown = preview_asset(state.service, asset_id, access)
    state.audit.record(user=access.user, action="preview", returned=[shown.asset_id])
    return shown
