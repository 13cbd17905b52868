"""RO-Crates: `rocrate+file:///path/to/crate-dir` (the folder holding `ro-crate-metadata.json`,
or that file itself).

Assets, with ids `rocrate:{crate dir}#{@id}`: every Dataset (the root is the crate's package),
every File, every `CreateAction` as a run (its `instrument`, its inputs `object` and outputs
`result`), and every sample (a Bioschemas `BioSample` or a `Sample`) an action uses. Links: a
File or Dataset is `part_of` the Datasets that list it in `hasPart`; an action `uses_sample`
its sample inputs, is `derived_from` its data inputs and `produced` its results; a result file
inherits the action's samples (`uses_sample`), inputs (`derived_from`) and instrument, so
"which files came from sample X" is an exact question.

Why not the `rocrate` package: it installs cleanly, but reading is all or nothing: `ROCrate()`
raises on one entity without `@type` (or without `@id`), and a crate with one bad entity would
index nothing. The document is flat JSON-LD, so `json` reads it, and each bad entity becomes a
SourceIssue while the rest is indexed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from indexer.access import GroupGrant, resolve_groups
from indexer.sources._content import normalize
from indexer.sources.base import SourceIssue, path_from_uri
from indexer.sources.eln import as_datetime, iso_date
from indexer.sources.ro_crate_graph import (
    CrateError,
    Graph,
    literal,
    load,
    metadata_file,
    name_of,
    refs,
    types,
)
from labsearch import identifiers as ids
from labsearch.errors import SourceError
from labsearch.schema import Asset, AssetKind, Entity, Link, LinkType, Provenance
from labsearch.settings import Settings

SCHEME = "rocrate+file"
_DATA_TYPES = {"File", "Dataset", "MediaObject"}  # File is schema.org's MediaObject
_SAMPLE_TYPES = {"BioSample", "Sample"}
_ACTION_TYPES = {"CreateAction"}


class RoCrateSource:
    """Assets for the datasets, files, runs and samples one RO-Crate describes."""

    def __init__(self, uri: str, settings: Settings) -> None:
        self.uri = uri
        self.settings = settings
        self.path = path_from_uri(uri, SCHEME)
        self.directory = self.path.parent if self.path.is_file() else self.path

    def asset_id(self, entity_id: str) -> str:
        return f"rocrate:{self.directory}#{entity_id}"

    def scan(self) -> Iterator[Asset | SourceIssue]:
        document = metadata_file(self.path)
        if document is None:
            raise SourceError(
                f"{self.uri}: no ro-crate-metadata.json in {self.path}; give the crate's "
                "directory as rocrate+file:///absolute/path"
            )
        try:
            graph = load(document)
        except (CrateError, OSError) as exc:
            reason = str(exc) if isinstance(exc, CrateError) else f"cannot read: {exc}"
            # The crate is there but unreadable this time: keep what was indexed from it.
            yield SourceIssue(self.uri, document.name, reason, keep=f"rocrate:{self.directory}")
            return
        for problem in graph.problems:
            keep = self.asset_id(problem.entity_id) if problem.entity_id else None
            yield SourceIssue(self.uri, problem.where, problem.reason, problem.key, keep=keep)
        access = resolve_groups(self.settings, self.uri, None, [str(self.directory)])
        yield from _Builder(self, graph, access).assets()


class _Builder:
    """Assets of one crate's graph."""

    def __init__(self, source: RoCrateSource, graph: Graph, access: GroupGrant) -> None:
        self.source = source
        self.graph = graph
        self.access = access
        typed = {i: types(e) for i, e in graph.entities.items()}
        self.data = {i for i, t in typed.items() if t & _DATA_TYPES and not i.startswith("#")} | {
            graph.root_id
        }
        self.samples = {i for i, t in typed.items() if t & _SAMPLE_TYPES}
        self.actions = {i for i, t in typed.items() if t & _ACTION_TYPES}
        self.parents: dict[str, list[str]] = {}
        for dataset in sorted(self.data):  # sorted: link order is part of the content hash
            for part in refs(graph.entities[dataset].get("hasPart")):
                if part in self.data and part != dataset:
                    self.parents.setdefault(part, []).append(dataset)
        # What each data entity inherits from the action that made it.
        self.made_by: dict[str, list[str]] = {}
        for action in sorted(self.actions):
            for result in refs(graph.entities[action].get("result")):
                self.made_by.setdefault(result, []).append(action)

    def assets(self) -> Iterator[Asset]:
        for entity_id in sorted(self.data):
            yield self._data_asset(entity_id)
        for entity_id in sorted(self.actions):
            yield self._action_asset(entity_id)
        for entity_id in sorted(self.samples):
            yield self._sample_asset(entity_id)

    def _asset(self, entity_id: str, **fields: Any) -> Asset:
        entity = self.graph.entities[entity_id]
        metadata = {k: v for k, v in fields.pop("metadata").items() if v not in (None, "", [])}
        day = metadata.get("date")
        return Asset(
            id=self.source.asset_id(entity_id),
            source=self.source.uri,
            metadata=metadata,
            **self.access.asset_fields(),
            created_at=as_datetime(date.fromisoformat(day)) if day else None,
            identifiers=ids.collect(
                fields.pop("identifiers", []),
                [literal(entity.get("identifier")) or ""],
                ids.from_text(" ".join(filter(None, [fields["title"], fields.get("text", "")]))),
            ),
            **fields,
        )

    def _inputs(self, action_id: str) -> tuple[list[str], list[str]]:
        """(sample inputs, data inputs) of an action."""
        inputs = refs(self.graph.entities[action_id].get("object"))
        return [i for i in inputs if i in self.samples], [i for i in inputs if i in self.data]

    def _samples_behind(self, entity_id: str, seen: set[str]) -> list[str]:
        """The samples a data entity was made from, through every action upstream of it (the
        counts made from the FASTQ files made from sample X are of sample X too)."""
        seen.add(entity_id)
        found: list[str] = []
        for action_id in self.made_by.get(entity_id, []):
            samples, data_inputs = self._inputs(action_id)
            found += samples
            for data_input in data_inputs:
                if data_input not in seen:
                    found += self._samples_behind(data_input, seen)
        return list(dict.fromkeys(found))

    def _sample_names(self, sample_ids: list[str]) -> list[str]:
        names = []
        for sample_id in sample_ids:
            entity = self.graph.entities[sample_id]
            names += [literal(entity.get("name")) or "", literal(entity.get("identifier")) or ""]
        return list(dict.fromkeys(n for n in names if n))

    def _data_asset(self, entity_id: str) -> Asset:
        entity = self.graph.entities[entity_id]
        is_root = entity_id == self.graph.root_id
        is_dataset = is_root or "Dataset" in types(entity)
        name = literal(entity.get("name")) or (
            self.source.directory.name if is_root else unquote(entity_id.rstrip("/"))
        )
        local = self._local_path(entity_id)
        metadata: dict[str, Any] = {
            "name": name,
            "description": literal(entity.get("description")),
            "encoding_format": name_of(self.graph, entity.get("encodingFormat")),
            "content_size": literal(entity.get("contentSize")),
            "license": name_of(self.graph, entity.get("license")),
            "keywords": literal(entity.get("keywords")),
            "authors": name_of(self.graph, entity.get("author") or entity.get("creator")),
            "url": entity_id if "://" in entity_id else literal(entity.get("contentUrl")),
            "date": iso_date(
                literal(entity.get("dateCreated"))
                or literal(entity.get("datePublished"))
                or literal(entity.get("dateModified"))
            ),
        }
        if local is not None:
            metadata.update(path=str(local), size=local.stat().st_size if local.is_file() else None)
        links = [
            Link(rel=LinkType.PART_OF, target=self.source.asset_id(parent))
            for parent in self.parents.get(entity_id, [] if is_root else [self.graph.root_id])
        ]
        sample_ids = self._samples_behind(entity_id, set())
        for action_id in self.made_by.get(entity_id, []):
            _, data_inputs = self._inputs(action_id)
            links += [
                Link(rel=LinkType.DERIVED_FROM, target=self.source.asset_id(i))
                for i in data_inputs
                if i != entity_id
            ]
            action = self.graph.entities[action_id]
            metadata["instrument"] = metadata.get("instrument") or name_of(
                self.graph, action.get("instrument")
            )
            metadata["date"] = metadata["date"] or _action_date(action)
        links += [
            Link(rel=LinkType.USES_SAMPLE, target=self.source.asset_id(s)) for s in sample_ids
        ]
        metadata["samples"] = self._sample_names(sample_ids)
        lines = [
            f"{k}: {metadata[k]}" for k in ("description", "keywords", "authors") if metadata.get(k)
        ]
        return self._asset(
            entity_id,
            kind=AssetKind.PACKAGE if is_dataset else AssetKind.FILE,
            entity=Entity.DATASET if is_dataset else Entity.FILE,
            title=name,
            text="\n".join([name, *lines]),
            metadata=metadata,
            identifiers=[] if is_root else [Path(unquote(entity_id.rstrip("/"))).name],
            links=list(dict.fromkeys(links)),
            provenance=Provenance(
                source=self.source.uri,
                path=str(local) if local else None,
                record_id=entity_id,
            ),
        )

    def _action_asset(self, entity_id: str) -> Asset:
        action = self.graph.entities[entity_id]
        samples, data_inputs = self._inputs(entity_id)
        inputs = refs(action.get("object"))
        results = refs(action.get("result"))
        instrument = name_of(self.graph, action.get("instrument"))
        run_id = literal(action.get("identifier")) or entity_id.lstrip("#")
        metadata: dict[str, Any] = {
            "name": literal(action.get("name")),
            "description": literal(action.get("description")),
            "run_id": run_id,
            "instrument": instrument,
            "agent": name_of(self.graph, action.get("agent")),
            "start_time": literal(action.get("startTime")),
            "end_time": literal(action.get("endTime")),
            "date": _action_date(action),
            "samples": self._sample_names(samples),
            "inputs": [name_of(self.graph, {"@id": i}) for i in inputs],
            "results": [name_of(self.graph, {"@id": i}) for i in results],
            "status": name_of(self.graph, action.get("actionStatus")),
        }
        title = metadata["name"] or f"Run {run_id}" + (f" on {instrument}" if instrument else "")
        lines = [
            f"{label}: {value if isinstance(value, str) else ', '.join(value)}"
            for label, value in (
                ("Description", metadata["description"]),
                ("Instrument", instrument),
                ("Agent", metadata["agent"]),
                ("Samples", metadata["samples"]),
                ("Inputs", metadata["inputs"]),
                ("Results", metadata["results"]),
            )
            if value
        ]
        asset_id = self.source.asset_id
        links = [Link(rel=LinkType.USES_SAMPLE, target=asset_id(s)) for s in samples]
        links += [Link(rel=LinkType.DERIVED_FROM, target=asset_id(i)) for i in data_inputs]
        links += [
            Link(rel=LinkType.PRODUCED, target=asset_id(r)) for r in results if r in self.data
        ]
        return self._asset(
            entity_id,
            kind=AssetKind.EXPERIMENT,
            entity=Entity.RUN,
            title=title,
            text="\n".join([title, *lines]),
            metadata=metadata,
            identifiers=[run_id, *metadata["samples"]],
            links=list(dict.fromkeys(links)),
            provenance=Provenance(source=self.source.uri, record_id=entity_id),
        )

    def _sample_asset(self, entity_id: str) -> Asset:
        entity = self.graph.entities[entity_id]
        name = literal(entity.get("name")) or entity_id.lstrip("#")
        properties = _properties(self.graph, entity)
        metadata: dict[str, Any] = {
            **properties,
            **normalize(properties),
            "samples": self._sample_names([entity_id]) or [name],
            "description": literal(entity.get("description")),
        }
        title = name if name.lower().startswith("sample") else f"Sample {name}"
        return self._asset(
            entity_id,
            kind=AssetKind.SAMPLE,
            entity=Entity.SAMPLE,
            title=title,
            text="\n".join([title, *(f"{k}: {v}" for k, v in properties.items())]),
            metadata=metadata,
            identifiers=[name, *([] if entity_id.startswith("#") else [entity_id])],
            provenance=Provenance(source=self.source.uri, record_id=entity_id),
        )

    def _local_path(self, entity_id: str) -> Path | None:
        """The file or folder a relative @id names inside the crate directory, if present."""
        if "://" in entity_id or entity_id.startswith("#"):
            return None
        directory = self.source.directory
        path = Path(os.path.normpath(directory / unquote(entity_id)))
        return path if path.is_relative_to(directory) and path.exists() else None


def _action_date(action: dict[str, Any]) -> str | None:
    return iso_date(literal(action.get("endTime")) or literal(action.get("startTime")))


def _properties(graph: Graph, entity: dict[str, Any]) -> dict[str, str]:
    """A sample's descriptive properties: its own literals and references by name, and its
    Bioschemas `additionalProperty` list (`{"name": "organism", "value": "Mus musculus"}`)."""
    found: dict[str, str] = {}
    for key, value in entity.items():
        if key.startswith("@") or key in (
            "name",
            "identifier",
            "description",
            "additionalProperty",
        ):
            continue
        if text := name_of(graph, value):
            found[key] = text
    listed = entity.get("additionalProperty") or []
    for item in listed if isinstance(listed, list) else [listed]:
        if isinstance(item, dict) and "@id" in item and len(item) == 1:
            item = graph.get(item["@id"]) or {}
        key = literal(item.get("name")) if isinstance(item, dict) else None
        value = name_of(graph, item.get("value")) if isinstance(item, dict) else None
        if key and value:
            found[key] = value
    return found
