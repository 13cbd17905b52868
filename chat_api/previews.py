"""Previews for the API: the permission check and path rules of downloads, then a bounded preview
(indexer/extractors/preview.py) in a worker thread, given at most PREVIEW_SECONDS."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from indexer.extractors.preview import preview
from labsearch.access import Access
from labsearch.models import PreviewResponse

PREVIEW_SECONDS = 2.0
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="labsearch-preview")


def preview_asset(service, asset_id: str, access: Access) -> PreviewResponse:
    asset, path = service.download(asset_id, access)
    future = _POOL.submit(preview, path)
    try:
        shown = future.result(timeout=PREVIEW_SECONDS)
    except FutureTimeout:
        return PreviewResponse(
            asset_id=asset.id,
            format="unknown",
            notes=[f"no preview within {PREVIEW_SECONDS:g} s; download the file to open it"],
        )
    thumbnail = None
    if shown.image_png is not None:
        thumbnail = "data:image/png;base64," + base64.b64encode(shown.image_png).decode()
    return PreviewResponse(
        asset_id=asset.id,
        format=shown.format,
        text=shown.text,
        truncated=shown.truncated,
        thumbnail=thumbnail,
        notes=shown.notes,
    )
