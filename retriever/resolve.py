"""Binding a question's constraints to assets through structure: identifier-valued keys and typed
links, in both directions. A constraint that binds nothing the caller can see makes the answer
incomplete, never "0 (complete)"; an identifier nobody visible carries reads like a missing one.
"""

from __future__ import annotations

from typing import Any

from labsearch.access import Access
from labsearch.models import UnderstoodConstraint, UnderstoodQuestion
from labsearch.schema import Asset
from labsearch.stores.protocol import AssetStore
from retriever.questions import EntityQuestion, attribute_clause, subject_clause

MAX_SUBJECT_RECORDS = 2000


def own_names(asset: Asset) -> set[str]:
    """The names an asset is the record *of*: the last part of its id, its run id, file name,
    source name, and for a sample every name of that sample."""
    tail = asset.id
    for separator in ("#", ":", "="):
        tail = tail.rsplit(separator, 1)[-1]
    names = {tail}
    metadata = asset.metadata or {}
    entity = asset.entity.value if asset.entity else None
    for key, kind in (("run_id", "run"), ("file_name", None), ("source_name", None)):
        value = metadata.get(key)
        if isinstance(value, str) and (kind is None or kind == entity):
            names.add(value)
    if entity == "sample":
        samples = metadata.get("samples")
        names.update(s for s in (samples if isinstance(samples, list) else [samples]) if s)
    return names


def subject_binding(
    store: AssetStore, identifier: str, target: str, access: Access
) -> tuple[dict[str, Any], bool]:
    """(the filter clause of the assets of `identifier`, whether any asset the caller may see
    carries it). The assets of the id: it is in one of their identifier-valued keys, or they
    link to its record (a run -> uses_sample -> the sample), or its record links to them (the
    run's record -> uses_sample -> the sample asked for)."""
    carriers = store.match({"identifiers": identifier}, access, limit=MAX_SUBJECT_RECORDS)
    records = [
        a
        for a in carriers.assets
        if identifier in own_names(a) and (a.entity is None or a.entity.value != target)
    ]
    clause = subject_clause(identifier, [r.id for r in records])
    reached = walk(store, records, target, access, down=True)
    reached += walk(store, records, target, access, down=False)
    if reached:
        clause["or"].append({"id": {"in": sorted(set(reached))}})
    return clause, carriers.count > 0


# A link a --rel--> b makes a the child of b for these relations (a run uses a sample, an entry
# is part of a package, processed data derives from raw) and b the child of a for the others
# (a run produced a file, an experiment record describes a package).
CHILD_TO_PARENT = ("uses_sample", "part_of", "derived_from")
PARENT_TO_CHILD = ("produced", "describes")
MAX_HOPS = 3
MAX_FRONTIER = 2000


def _is_target(asset: Asset, target: str) -> bool:
    if target == "package":
        return asset.kind.value == "package"
    return asset.entity is not None and asset.entity.value == target


def _passes_on(asset: Asset, rel: str) -> bool:
    """Whether what lies beyond `asset` is still of the subject: containment (a study's assays'
    files) is transitive, and so is a run (its files come from every sample it used); an
    experiment record that used many samples is not (its other runs used other samples)."""
    return rel == "part_of" or (asset.entity is not None and asset.entity.value == "run")


def walk(
    store: AssetStore, start: list[Asset], target: str, access: Access, *, down: bool
) -> list[str]:
    """Ids of the nearest assets of `target` below `start` (its children, their children...:
    sample -> run -> file, study -> assay -> file) or above it (file -> run -> sample), within
    MAX_HOPS, in one direction only and only through runs and containers, so a sample's
    siblings never come in through a shared run or experiment."""
    seen = {a.id for a in start}
    frontier = list(start)
    # Children point at their parents with CHILD_TO_PARENT links; parents at their children
    # with PARENT_TO_CHILD ones. Going down, follow the first kind inward, the second outward.
    inward, outward = CHILD_TO_PARENT, PARENT_TO_CHILD
    if not down:
        inward, outward = outward, inward
    for _ in range(MAX_HOPS):
        if not frontier:
            return []
        ids = {a.id for a in frontier}
        reached: dict[str, tuple[Asset, str]] = {}
        pointing = store.match(
            {"or": [{f"links.{rel}": {"in": sorted(ids)}} for rel in inward]},
            access,
            limit=MAX_FRONTIER,
        ).assets
        for asset in pointing:
            rel = next(
                k.rel.value for k in asset.links if k.target in ids and k.rel.value in inward
            )
            reached.setdefault(asset.id, (asset, rel))
        rels = {k.target: k.rel.value for a in frontier for k in a.links if k.rel.value in outward}
        for asset in store.get_many(sorted(rels), access):
            reached.setdefault(asset.id, (asset, rels[asset.id]))
        following = [(a, rel) for a, rel in reached.values() if a.id not in seen]
        seen.update(a.id for a, _ in following)
        found = [a.id for a, _ in following if _is_target(a, target)]
        if found:
            return found
        frontier = [a for a, rel in following if _passes_on(a, rel)][:MAX_FRONTIER]
    return []


def mark_unbound(
    store: AssetStore,
    question: EntityQuestion,
    bindings: dict[str, dict[str, Any]],
    visible: set[str],
    access: Access,
) -> None:
    """Set `bound = False` on each constraint the caller can see that reaches no asset of the
    target entity through structure. `visible`: the identifiers some visible asset carries."""
    target = question.target_clause()
    for constraint in question.constraints:
        if constraint.field == "identifier":
            identifier = constraint.values[0]
            if identifier not in visible:
                continue  # nothing visible carries it: "none you can see", like a missing id
            clause = bindings.get(identifier) or subject_clause(identifier)
        elif constraint.operator in ("gt", "gte", "lt", "lte"):
            # A comparison binds when the target carries the key; no value passing is an answer.
            keys = constraint.field.split(" | ")
            clause = {"or": [{key: {"exists": True}} for key in keys]}
        elif constraint.role == "attribute" and constraint.field.startswith("metadata."):
            clause = attribute_clause(constraint)
        elif constraint.role == "level":
            clause = {"data_level": constraint.values[0]}
        elif constraint.role == "date":
            start, end = constraint.values
            clause = {"metadata.date": {k: v for k, v in (("gte", start), ("lt", end)) if v}}
        else:
            continue
        if store.match({"and": [target, clause]}, access, limit=1).count == 0:
            constraint.bound = False


def understood(question: EntityQuestion) -> UnderstoodQuestion:
    return UnderstoodQuestion(
        target=question.target,
        question_type=question.question_type,
        constraints=[
            UnderstoodConstraint(
                role=c.role,
                field=c.field,
                operator=c.operator,
                values=list(c.values),
                text=c.text,
                negated=c.negated,
                family=c.family,
                ambiguous=c.ambiguous,
                bound=c.bound,
            )
            for c in question.constraints
        ],
        unknown_words=list(question.unknown_words),
    )
