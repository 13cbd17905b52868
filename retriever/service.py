"""The retrieval service: what the CLI, the API and the evals call.

search(): hybrid ranking from the store, with assets that carry an identifier named in the query
put first (exact matches beat embeddings). answer(): list/count questions are answered from the
store's exhaustive match (complete, with a count); other questions get an extractive answer from
the top hits. Every call takes the caller's Access; the store enforces it inside its queries.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from labsearch import filters as filter_grammar
from labsearch.access import Access
from labsearch.embeddings import Embedder
from labsearch.errors import InvalidRequestError, LabsearchError, NotFoundError
from labsearch.identifiers import query_candidates
from labsearch.models import (
    Answer,
    AssetLinks,
    Citation,
    EntityResult,
    Hit,
    SearchRequestModel,
    SearchResponse,
)
from labsearch.schema import Asset
from labsearch.settings import Settings
from labsearch.stores.protocol import AssetStore, FusionSettings, SearchMode, SearchRequest
from retriever import answers, resolve
from retriever.citations import card_metadata, citation_for, links_for
from retriever.downloads import servable_path
from retriever.exact_versions import eln_record, file_matches_entry, manifest_path
from retriever.llm_questions import InvalidReading, QuestionModel, read_question
from retriever.questions import EntityQuestion, names_and_unexplained_words, understand
from retriever.vocabulary import ATTRIBUTE_KEYS

log = logging.getLogger(__name__)
DEFAULT_FACETS = ("kind", "entity", "data_level", "metadata.instrument", "metadata.project")
MAX_MEMBERS = 5000  # an entity answer larger than this is returned with complete=false


# Each facet is a count over every matching asset: bounded, so one request cannot cost minutes.
MAX_FACET_FIELDS = 32


class SearchService:
    def __init__(self, settings: Settings, store: AssetStore, embedder: Embedder) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.fusion = FusionSettings.from_settings(settings)

    @classmethod
    def from_settings(cls, settings: Settings) -> SearchService:
        from labsearch.stores import open_store

        embedder = Embedder.from_settings(settings)
        store = open_store(settings, embedder.dimension)
        return cls(settings, store, embedder)

    def close(self) -> None:
        self.store.close()
        self.embedder.close()

    # Search ---------------------------------------------------------------------------------

    def search(self, request: SearchRequestModel, access: Access) -> SearchResponse:
        query = request.query.strip()
        if len(query) > self.settings.max_query_chars:
            raise InvalidRequestError(
                f"query is {len(query)} characters; the limit is {self.settings.max_query_chars}"
            )
        filter_grammar.parse(request.filters)  # validate early, with a clear error
        offset = (request.page - 1) * request.size
        total = None
        if query:
            hits = self.rank(query, access, request.filters, request.size, offset, request.mode)
        else:
            matched = self.store.match(request.filters, access, limit=offset + request.size)
            hits = [self._hit(asset, 0.0) for asset in matched.assets[offset:]]
            total = matched.count
        if request.include_text and hits:
            hits = self._with_text(hits, access, request.include_text)
        facets = {}
        if len(set(request.facets)) > MAX_FACET_FIELDS:
            raise InvalidRequestError(
                f"{len(set(request.facets))} facet fields asked for; at most {MAX_FACET_FIELDS} "
                "per search (each is a count over every match)"
            )
        if request.facets:
            facets = self.store.facets(request.facets, access, filters=request.filters, text=query)
        return SearchResponse(
            query=query, hits=hits, facets=facets, total=total, page=request.page, size=request.size
        )

    def _with_text(self, hits: list[Hit], access: Access, limit: int) -> list[Hit]:
        """Hits carrying up to `limit` characters of their asset's text (read under `access`)."""
        texts = {
            asset.id: asset.text for asset in self.store.get_many([h.id for h in hits], access)
        }
        return [hit.model_copy(update={"text": texts.get(hit.id, "")[:limit]}) for hit in hits]

    def rank(
        self,
        query: str,
        access: Access,
        filters: dict[str, Any] | None = None,
        k: int = 10,
        offset: int = 0,
        mode: str = "hybrid",
    ) -> list[Hit]:
        """Ranked hits; assets carrying an identifier named in the query come first."""
        search_mode = SearchMode(mode)
        vector = None
        if search_mode is not SearchMode.BM25:
            vector = self.embedder.embed_query(query).tolist()
        depth = offset + k
        ranked = self.store.search(
            SearchRequest(
                text=query,
                vector=vector,
                filters=filters,
                k=depth,
                mode=search_mode,
                fusion=self.fusion,
            ),
            access,
        )
        exact_ids = (
            self._exact_ids(query, access, filters) if search_mode is SearchMode.HYBRID else {}
        )
        position = {item.asset.id: i for i, item in enumerate(ranked)}
        exact = [item for item in ranked if item.asset.id in exact_ids]
        missing = [i for i in exact_ids if i not in position]
        exact_assets = [(item.asset, item.score, item.highlights) for item in exact] + [
            (asset, 0.0, []) for asset in self.store.get_many(missing, access)
        ]
        # Assets named by the identifier (in their title) before those that merely mention it.
        exact_assets.sort(
            key=lambda t: (
                not any(i in t[0].title for i in exact_ids[t[0].id]),
                position.get(t[0].id, len(position)),
            )
        )
        hits = [self._hit(a, s, h, exact=True) for a, s, h in exact_assets]
        hits += [
            self._hit(item.asset, item.score, item.highlights)
            for item in ranked
            if item.asset.id not in exact_ids
        ]
        return hits[offset:depth]

    def _exact_ids(
        self, query: str, access: Access, filters: dict[str, Any] | None
    ) -> dict[str, list[str]]:
        """Asset id -> identifiers of the query it carries (only identifiers that exist)."""
        candidates = query_candidates(query)
        if not candidates:
            return {}
        exact_filter = filter_grammar.combine({"identifiers": {"in": candidates}}, filters)
        matched = self.store.match(exact_filter, access, limit=200)
        wanted = set(candidates)
        return {a.id: [i for i in a.identifiers if i in wanted] for a in matched.assets}

    def _hit(
        self, asset: Asset, score: float, highlights: Sequence[str] = (), exact: bool = False
    ) -> Hit:
        return Hit(
            id=asset.id,
            kind=asset.kind,
            entity=asset.entity,
            title=asset.title,
            score=round(float(score), 6),
            data_level=asset.data_level,
            identifiers=asset.identifiers[:20],
            metadata=card_metadata(asset),
            highlights=list(highlights),
            links=self.links(asset),
            exact=exact,
        )

    # Questions ------------------------------------------------------------------------------

    def understand(
        self,
        query: str,
        access: Access,
        previous: Answer | None = None,
        reader: QuestionModel | None = None,
    ) -> EntityQuestion | None:
        """The list/count question `query` asks, if any: by the rule parser, or by `reader` (a
        language model filling the same structure) when given, validated, with the rule parser
        as the fallback."""

        def known(candidates: list[str]) -> list[str]:
            if not candidates:
                return []
            found = self.store.match({"identifiers": {"in": candidates}}, access, limit=500)
            present = {i for asset in found.assets for i in asset.identifiers}
            return [c for c in candidates if c in present]

        dictionaries = self.value_dictionaries(access)
        prior = previous.result if previous else None
        by_rules = understand(
            query,
            known_identifiers=known,
            attributes=dictionaries,
            today=date.today(),
            previous=_question_from_result(prior),
            previous_filter=prior.filters if prior else None,
        )
        if reader is None or previous is not None:
            return by_rules
        known_ids, unplaced = names_and_unexplained_words(
            query, known_identifiers=known, attributes=dictionaries
        )
        try:
            by_model = read_question(query, reader, known_ids, dictionaries)
        except (InvalidReading, LabsearchError) as exc:
            log.info("question reader fell back to the rules for %r: %s", query, exc)
            return by_rules
        if by_model is None:
            return by_rules
        # What the rules could not place must show up in the model's reading, or the answer is
        # not complete: the model may have dropped a constraint as easily as the rules did.
        said = " ".join(c.text + " " + " ".join(c.values) for c in by_model.constraints).lower()
        by_model.unknown_words = [
            w.split(" | ")[0]
            for w in unplaced
            if not any(alternative.lower() in said for alternative in w.split(" | "))
        ]
        return by_model

    def value_dictionaries(self, access: Access) -> dict[str, list[str]]:
        """Every value of each attribute key the caller may see (no top-N cut)."""
        return {
            key: list(values)
            for key in ATTRIBUTE_KEYS
            if (values := self.store.values(f"metadata.{key}", access))
        }

    def entity_result(
        self, question: EntityQuestion, access: Access
    ) -> tuple[EntityResult, list[Asset]]:
        if question.said_data and question.target == "package":
            # "the data of sample X": Quilt packages where the caller has them, else files.
            packages = self.store.match({"kind": "package"}, access, limit=1)
            if packages.count == 0:
                question.target = "file"
        bindings: dict[str, dict[str, Any]] = {}
        visible: set[str] = set()
        for identifier in [*question.subject_ids, *question.excluded_ids]:
            clause, carried = resolve.subject_binding(
                self.store, identifier, question.target, access
            )
            bindings[identifier] = clause
            if carried:
                visible.add(identifier)
        resolve.mark_unbound(self.store, question, bindings, visible, access)
        query_filter = question.filters(bindings)
        matched = self.store.match(query_filter, access, limit=MAX_MEMBERS)
        members = sorted(matched.assets, key=lambda a: (str(a.metadata.get("date", "")), a.id))
        understood = not question.unknown_words and all(
            c.bound and not c.ambiguous for c in question.constraints
        )
        result = EntityResult(
            question_type=f"{question.question_type}_{question.target}s",
            subject=question.subject,
            entity=None if question.target == "package" else question.target,
            members=[answers.member(a, self.links(a)) for a in members],
            count=matched.count,
            complete=matched.count == len(members) and understood,
            filters=query_filter,
            question=resolve.understood(question),
        )
        return result, members

    def answer(
        self,
        query: str,
        access: Access,
        *,
        previous: Answer | None = None,
        reader: QuestionModel | None = None,
    ) -> Answer:
        query = query.strip()
        if not query:
            raise InvalidRequestError(
                "the question is empty; ask something, e.g. 'which runs used sample LIV-0042?'"
            )
        question = self.understand(query, access, previous, reader)
        if question is not None:
            result, members = self.entity_result(question, access)
            answer = answers.entity_answer(query, question, result, members, self.citation)
            carriers = [
                f"{c.text!r} is the identifier of {a.title} ({(a.entity or a.kind).value})."
                for c in question.constraints
                if not c.bound and c.field == "identifier"
                for a in self.store.match({"identifiers": c.values[0]}, access, limit=2).assets
            ]
            if carriers:
                answer = answer.model_copy(update={"text": "\n".join([answer.text, *carriers])})
            if not result.complete and not members:
                # Nothing bound through structure: say what search finds, marked as such.
                hits = self.context(query, access, k=5)
                fallback = answers.descriptive_answer(query, hits, self.citation)
                if hits:
                    text = f"{answer.text}\n\nWhat search found instead:\n{fallback.text}"
                    answer = answer.model_copy(
                        update={"text": text, "citations": fallback.citations}
                    )
            return answer
        hits = self.context(query, access, k=5)
        return answers.descriptive_answer(query, hits, self.citation)

    def context(self, query: str, access: Access, k: int = 8) -> list[Asset]:
        """The top assets for a question, for extractive answers and LLM prompts."""
        hits = self.rank(query, access, k=k)
        by_id = {a.id: a for a in self.store.get_many([h.id for h in hits], access)}
        return [by_id[h.id] for h in hits if h.id in by_id]

    def citation(self, asset: Asset) -> Citation:
        return citation_for(asset, self.settings.catalog_url, self.settings.download_roots)

    def links(self, asset: Asset) -> AssetLinks:
        return links_for(asset, self.settings.catalog_url, self.settings.download_roots)

    def download(self, asset_id: str, access: Access) -> tuple[Asset, Path]:
        """The asset and the real path of its bytes; NotFoundError, the same as for a missing
        asset, when it may not be seen or has no bytes this service may serve."""
        asset = self.get_asset(asset_id, access)
        path = servable_path(asset, self.settings.download_roots)
        if path is None:
            raise NotFoundError(f"no downloadable file for asset {asset_id!r}")
        return asset, path

    def manifest(self, asset_id: str, access: Access) -> tuple[Asset, Path]:
        """The manifest of the package revision an asset cites (a package or one of its
        entries), from a local registry; NotFoundError like a missing asset otherwise."""
        asset = self.get_asset(asset_id, access)
        path = manifest_path(asset)
        if path is None:
            raise NotFoundError(f"no manifest for asset {asset_id!r} on this server")
        return asset, path

    def record(self, asset_id: str, access: Access) -> tuple[Asset, dict]:
        """An ELN record as the export holds it."""
        asset = self.get_asset(asset_id, access)
        record = eln_record(asset)
        if record is None:
            raise NotFoundError(f"no exported record for asset {asset_id!r}")
        return asset, record

    def verify(self, asset_id: str, path: Path, access: Access) -> tuple[Asset, str | None]:
        """(the cited entry, the hash type under which `path` matches it, or None)."""
        asset = self.get_asset(asset_id, access)
        if not asset.provenance.entry_hash:
            raise InvalidRequestError(
                f"asset {asset_id!r} cites no entry hash (only Quilt package entries do); "
                "give the id of a package entry"
            )
        return asset, file_matches_entry(path, asset.provenance.entry_hash)

    def get_asset(self, asset_id: str, access: Access) -> Asset:
        asset = self.store.get(asset_id, access)
        if asset is None:
            raise NotFoundError(f"no asset {asset_id!r} (or you may not see it)")
        return asset


def _question_from_result(result: EntityResult | None) -> EntityQuestion | None:
    if result is None:
        return None
    kind, _, target = result.question_type.partition("_")
    return EntityQuestion(question_type=kind, target=target.rstrip("s") or "package")
