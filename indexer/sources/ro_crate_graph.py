"""Reading an RO-Crate's metadata document: the flat JSON-LD `@graph` of entities that refer to
each other by `@id`, the root dataset it describes, and the entities that could not be read.

A JSON-LD property value is a literal (`"Orbitrap"`, `42`), a `{"@value": ...}` object, a
reference `{"@id": "#sample-1"}`, or a list of those; `refs`, `literal` and `name_of` read all
of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

METADATA_NAMES = ("ro-crate-metadata.json", "ro-crate-metadata.jsonld")  # 1.1+, 1.0


@dataclass(frozen=True)
class Problem:
    where: str
    reason: str
    key: str | None = None
    entity_id: str | None = None  # an entity that exists but could not be read


@dataclass
class Graph:
    entities: dict[str, dict[str, Any]]
    root_id: str
    problems: list[Problem] = field(default_factory=list)

    def get(self, entity_id: str) -> dict[str, Any] | None:
        return self.entities.get(entity_id)


class CrateError(Exception):
    """The metadata document cannot be read at all."""


def metadata_file(path: Path) -> Path | None:
    """The metadata document of a crate directory (or the document itself)."""
    if path.is_file():
        return path
    return next((path / n for n in METADATA_NAMES if (path / n).is_file()), None)


def load(path: Path) -> Graph:
    try:
        document = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise CrateError(f"not UTF-8 (byte {exc.start}); JSON-LD files are UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise CrateError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    graph = document.get("@graph") if isinstance(document, dict) else None
    if not isinstance(graph, list):
        raise CrateError("no @graph list: an RO-Crate metadata document is a flat @graph")
    entities: dict[str, dict[str, Any]] = {}
    problems: list[Problem] = []
    for index, entity in enumerate(graph):
        where = f"{path.name} @graph[{index}]"
        entity_id = entity.get("@id") if isinstance(entity, dict) else None
        if not isinstance(entity_id, str) or not entity_id:
            problems.append(Problem(where, "an entity without an @id cannot be referred to", "@id"))
            continue
        if entity_id in entities:
            problems.append(
                Problem(where, f"{entity_id!r} is described twice; the first is kept", "@id")
            )
            continue
        if "@type" not in entity:
            problems.append(
                Problem(f"{path.name} {entity_id}", "no @type: not indexed", "@type", entity_id)
            )
        entities[entity_id] = entity
    return Graph(entities, _root_id(entities), problems)


def _root_id(entities: dict[str, dict[str, Any]]) -> str:
    """What the metadata descriptor is `about`; detached crates name the descriptor by URL."""
    descriptor = next(
        (
            entity
            for entity_id, entity in entities.items()
            if entity_id.rsplit("/", 1)[-1] in METADATA_NAMES
        ),
        None,
    )
    about = refs(descriptor.get("about")) if descriptor else []
    if about and about[0] in entities:
        return about[0]
    if "./" in entities:
        return "./"
    raise CrateError("no root dataset: the metadata descriptor names none (about: {@id: ./})")


def types(entity: dict[str, Any]) -> set[str]:
    """An entity's types by local name: `bioschemas:BioSample` and
    `https://bioschemas.org/BioSample` are `BioSample`."""
    value = entity.get("@type", [])
    return {
        str(t).rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        for t in (value if isinstance(value, list) else [value])
    }


def refs(value: Any) -> list[str]:
    """The @ids a property refers to."""
    items = value if isinstance(value, list) else [value]
    return [i["@id"] for i in items if isinstance(i, dict) and isinstance(i.get("@id"), str)]


def literal(value: Any) -> str | None:
    """A property's literal value(s) as text (lists joined with ", ")."""
    items = value if isinstance(value, list) else [value]
    texts = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("@value")
        if isinstance(item, str | int | float) and not isinstance(item, bool):
            text = str(item).strip()
            if text:
                texts.append(text)
    return ", ".join(texts) or None


def name_of(graph: Graph, value: Any) -> str | None:
    """What a property names, readable: literals as they are, references by the name of the
    entity they refer to (else by their @id)."""
    names = []
    items = value if isinstance(value, list) else [value]
    for item in items:
        ids = refs(item)
        if ids:
            entity = graph.get(ids[0]) or {}
            names.append(literal(entity.get("name")) or ids[0])
        elif text := literal(item):
            names.append(text)
    return ", ".join(names) or None
