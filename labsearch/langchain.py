"""A LangChain retriever over the labsearch API (through labsearch/client.py, so no torch, no
server code): documents carry the asset's text, and in metadata its id, identifiers and the
links to cite and open it.

    from labsearch.langchain import LabsearchRetriever

    retriever = LabsearchRetriever.connect("http://127.0.0.1:8000", api_key="demo-alice", k=5)
    docs = retriever.invoke("liver RNA-seq", filters={"entity": "run"})

Filters (labsearch/filters.py grammar) are set on the retriever, or passed per call as above.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables.config import run_in_executor
from pydantic import ConfigDict, Field

from labsearch.client import ApiClient, AsyncApiClient
from labsearch.models import MAX_INCLUDED_TEXT, Hit, SearchResponse

# The links worth citing first: where a person opens the asset.
CITE_ORDER = ("catalog_url", "eln_url", "file_url", "s3_uri", "download")


def to_document(hit: Hit) -> Document:
    """A search hit as a LangChain Document (text, then everything to cite it in metadata)."""
    links = hit.links.model_dump(exclude_none=True)
    source = next((links[name] for name in CITE_ORDER if name in links), hit.id)
    metadata: dict[str, Any] = {
        "id": hit.id,
        "title": hit.title,
        "kind": hit.kind.value,
        "entity": hit.entity.value if hit.entity else None,
        "data_level": hit.data_level.value if hit.data_level else None,
        "score": hit.score,
        "exact": hit.exact,
        "identifiers": list(hit.identifiers),
        "source": source,
        "links": links,
        "metadata": dict(hit.metadata),
    }
    content = hit.text if hit.text else "\n".join([hit.title, *hit.highlights])
    return Document(page_content=content, metadata=metadata, id=hit.id)


class LabsearchRetriever(BaseRetriever):
    """Retrieves assets the signed-in user may see, ranked by labsearch's hybrid search."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    client: ApiClient | None = Field(default=None, description="For invoke().")
    async_client: AsyncApiClient | None = Field(
        default=None, description="For ainvoke(); without one, ainvoke runs the sync client."
    )
    k: int = Field(default=5, ge=1, le=100, description="Documents per query.")
    filters: dict[str, Any] | None = Field(
        default=None, description="Applied to every query unless a call passes its own."
    )
    mode: str = Field(default="hybrid", pattern="^(hybrid|bm25|dense)$")
    text_chars: int = Field(
        default=4000, ge=0, le=MAX_INCLUDED_TEXT, description="Characters of text per document."
    )

    @classmethod
    def connect(
        cls,
        base_url: str,
        *,
        api_key: str | None = None,
        token: str | None = None,
        **fields: Any,
    ) -> LabsearchRetriever:
        """A retriever with its own sync and async clients of the API at `base_url`."""
        return cls(
            client=ApiClient(base_url, api_key=api_key, token=token),
            async_client=AsyncApiClient(base_url, api_key=api_key, token=token),
            **fields,
        )

    def _arguments(self, filters: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "filters": self.filters if filters is None else filters,
            "size": self.k,
            "mode": self.mode,
            "include_text": self.text_chars,
        }

    def _documents(self, response: SearchResponse) -> list[Document]:
        return [to_document(hit) for hit in response.hits]

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        filters: dict[str, Any] | None = None,
    ) -> list[Document]:
        if self.client is None:
            raise ValueError("LabsearchRetriever needs a client (or use .connect(url, ...))")
        return self._documents(self.client.search(query, **self._arguments(filters)))

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        filters: dict[str, Any] | None = None,
    ) -> list[Document]:
        if self.async_client is None:
            return await run_in_executor(
                None,
                self._get_relevant_documents,
                query,
                run_manager=run_manager.get_sync(),
                filters=filters,
            )
        arguments = self._arguments(filters)
        return self._documents(await self.async_client.search(query, **arguments))
