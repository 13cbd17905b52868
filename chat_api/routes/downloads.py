"""File downloads: the bytes of an asset you may see, streamed from where the indexer found them.

The same permission check as `/v1/assets/{id}` (a forbidden asset and a missing one both answer
404), then only a path the indexer stored, resolved at request time and allowed only under the
asset's source directory or LABSEARCH_DOWNLOAD_ROOTS (retriever/downloads.py). `Range` requests
are answered with 206. Every download is audited; a file whose size changed since it was indexed
carries `X-Labsearch-Modified: true`, since its bytes may no longer be the ones cited.
"""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter
from fastapi.responses import FileResponse

from chat_api.deps import CurrentUser, State
from labsearch.models import ErrorBody

router = APIRouter(
    prefix="/download",
    tags=["assets"],
    responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody}},
)


@router.get(
    "/{asset_id:path}",
    summary="The bytes of a file or package entry you may see (Range supported).",
    description="Percent-encode the id (quote(id, safe='')): it contains '/', ':' and '#'.",
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
