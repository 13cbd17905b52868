"""Everything a request needs, built once per app: settings, the search service, the LLM, auth,
limits, conversations, the audit log and the presigner.

The search service (index + embedding model) and the LLM can take seconds to load, so when the
app has to open them itself it does so on a background thread at startup: /v1/healthz answers at
once, /v1/readyz says "not_ready" until loading finished, and other routes wait for it.
Loading ends with a warm-up query embedded, so "ready" means the first search pays no model load
(the ONNX session, or torch where there is no export).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from chat_api.answering import Answerer
from chat_api.audit import AuditLog
from chat_api.auth import Authenticator
from chat_api.conversations import ConversationStore
from chat_api.limits import RateLimiter, SignInThrottle
from chat_api.llm import LLM, build_llm
from chat_api.presign import Presigner
from chat_api.webhooks import SeenIds
from labsearch.access import Access
from labsearch.errors import LabsearchError, StoreUnavailableError
from labsearch.settings import Settings
from labsearch.stores.protocol import SearchMode, SearchRequest

log = logging.getLogger(__name__)

LOAD_WAIT_SECONDS = 120.0
WARM_UP_QUERY = "warm-up query: liver RNA-seq samples"


class ApiState:
    def __init__(
        self, settings: Settings, service: Any | None = None, llm: LLM | None = None
    ) -> None:
        self.settings = settings
        self.auth = Authenticator(settings)
        self.limiter = RateLimiter(settings.rate_limit_per_minute)
        self.sign_ins = SignInThrottle(settings.auth_failures_per_minute)
        self.conversations = ConversationStore(
            settings.home / "conversations.sqlite", settings.max_conversation_messages
        )
        self.audit = AuditLog(settings.audit_path)
        self.presigner = Presigner(settings.aws_region, settings.presign_expiry_seconds)
        self._service = service
        self._llm = llm
        self._ingestor: Any = None
        self.webhook_ids = SeenIds()
        self._llm_given = llm is not None or settings.llm == "extractive"
        self._loaded = threading.Event()
        self._error: LabsearchError | None = None
        if service is not None and self._llm_given:
            self._loaded.set()

    # --- loading ----------------------------------------------------------------------------

    def start_loading(self) -> None:
        if not self._loaded.is_set():
            threading.Thread(target=self._load, name="labsearch-load", daemon=True).start()

    def _load(self) -> None:
        try:
            if self._service is None:
                from retriever.service import SearchService

                self._service = SearchService.from_settings(self.settings)
            self._warm_up()
            if not self._llm_given:
                self._llm = build_llm(self.settings)
        except LabsearchError as exc:
            self._error = exc
        except Exception as exc:  # surfaced on /v1/readyz and every request, not swallowed
            log.exception("loading the search service failed")
            self._error = StoreUnavailableError(f"the search service failed to load: {exc}")
        finally:
            self._loaded.set()

    def _warm_up(self) -> None:
        """Embed one query, so the model (and, for ONNX, its session) is loaded before ready,
        and search with it, so the store has its vector index in memory (on a large embedded
        index, loading or clustering it is seconds to a minute: not for the first user)."""
        embedder = getattr(self._service, "embedder", None)
        if embedder is None:
            return
        started = time.perf_counter()
        vector = embedder.embed_query(WARM_UP_QUERY)
        log.info("warm-up query embedded in %.2f s", time.perf_counter() - started)
        store = getattr(self._service, "store", None)
        if store is None:
            return
        started = time.perf_counter()
        request = SearchRequest(vector=vector.tolist(), mode=SearchMode.DENSE, k=1)
        store.search(request, Access.as_operator())
        log.info("vector index ready in %.2f s", time.perf_counter() - started)

    @property
    def ready(self) -> bool:
        return self._loaded.is_set() and self._error is None

    @property
    def load_error(self) -> LabsearchError | None:
        return self._error

    def _wait(self) -> None:
        if not self._loaded.is_set():
            self.start_loading()
            if not self._loaded.wait(LOAD_WAIT_SECONDS):
                raise StoreUnavailableError("the index and model are still loading; retry shortly")
        if self._error is not None:
            raise self._error

    @property
    def service(self) -> Any:
        self._wait()
        return self._service

    @property
    def llm(self) -> LLM | None:
        self._wait()
        return self._llm

    @property
    def llm_name(self) -> str:
        if self._llm is not None:
            return self._llm.name
        return self.settings.llm

    @property
    def ingestor(self) -> Any:
        """The push service (indexer/ingest.py), on the loaded index and model."""
        if self._ingestor is None:
            from indexer.ingest import Ingestor

            service = self.service
            self._ingestor = Ingestor(self.settings, service.store, service.embedder)
        return self._ingestor

    @property
    def answerer(self) -> Answerer:
        return Answerer(self.service, self.settings, self.llm)
