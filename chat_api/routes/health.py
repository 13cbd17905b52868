from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from chat_api.deps import State
from labsearch.models import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="The process is up (no auth).")
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="The index is open and a warm-up query was embedded (no auth); 503 until then.",
    responses={503: {"model": Readiness}},
)
def readyz(state: State) -> JSONResponse:
    if not state.ready:
        error = state.load_error
        body = Readiness(
            status="not_ready", llm=state.llm_name, detail=str(error) if error else "loading"
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    store_obj = getattr(state.service, "store", None)
    store = {}
    if store_obj is not None:
        # No count: anyone may ask, and the size of the index is not theirs to know.
        info = store_obj.info()
        store = {"backend": info.backend, "model": info.model}
    body = Readiness(status="ready", store=store, llm=state.llm_name)
    return JSONResponse(body.model_dump(mode="json"))
