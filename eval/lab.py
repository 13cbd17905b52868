"""`labsearch eval lab`: the committed question set, asked of the demo lab, scored against truth.

Keys (what "the same answer" means): every asset id is reduced to a key of truth.json, so scores do
not depend on where the demo lab was built:

    quilt:{registry}#{package}              -> package:{package}
    quilt:{registry}#{package}:{logical}    -> entry:{package}:{logical}
    eln:{export stem}:{record id}           -> eln:{record id}
    file://{demo root}/files/{path}         -> file:{path}
    {any of these}#chunk-{n}                -> the key of the file it is part of

In a question whose expected answer is runs (`run:{run id}` keys), a member whose metadata has
`run_id` counts as `run:{run_id}` (the run, whichever asset represents it). Entity questions
compare the set of member keys with the expected set (precision, recall, F1; count questions also
require `count` to match, and every answer must be `complete`). Descriptive questions
score the de-duplicated keys of the top 10 hits by nDCG@10 and recall@10 capped at the number of
relevant keys (`|relevant ∩ top10| / min(10, |relevant|)`). Permission questions count a leak for
every hit, member or citation the asking user may not see according to truth.json (or, for keys
the truth does not know, according to the groups stored on the asset).
"""

from __future__ import annotations

import re
import time
import tomllib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eval.jsonl import read_objects
from eval.metrics import mean, ndcg_at_k, set_scores
from labsearch.access import Access
from labsearch.errors import ConfigError, InvalidRequestError, ModelMismatchError
from labsearch.settings import Settings

QUESTIONS_PATH = Path(__file__).parent / "data" / "lab_questions.jsonl"
_CHUNK = re.compile(r"#chunk-\d+$")


@dataclass(frozen=True)
class KeyMap:
    """Turns asset ids of one built demo lab into truth keys."""

    registry_uri: str  # file:///.../registry
    files_uri: str  # file:///.../files

    def key(self, asset_id: str) -> str:
        asset_id = _CHUNK.sub("", asset_id)
        prefix = f"quilt:{self.registry_uri}#"
        if asset_id.startswith(prefix):
            package, sep, logical_key = asset_id[len(prefix) :].partition(":")
            return f"entry:{package}:{logical_key}" if sep else f"package:{package}"
        if asset_id.startswith("eln:"):
            return f"eln:{asset_id.split(':', 2)[-1]}"
        if asset_id.startswith(self.files_uri + "/"):
            return f"file:{asset_id[len(self.files_uri) + 1 :]}"
        return asset_id

    def member_key(self, asset_id: str, entity: str | None, metadata: dict[str, Any]) -> str:
        if entity == "run" and metadata.get("run_id"):
            return f"run:{metadata['run_id']}"
        return self.key(asset_id)


def owner_groups(key: str, truth: dict[str, Any]) -> list[str] | None:
    """The groups truth.json says own `key`, or None if the truth does not know it."""
    kind, _, rest = key.partition(":")
    if kind == "run" and rest in truth["runs"]:
        return [truth["runs"][rest]["group"]]
    if kind in ("package", "entry"):
        package = rest.split(":", 1)[0]
        if package in truth["packages"]:
            return [truth["packages"][package]["group"]]
    if kind == "eln":
        for table in ("experiments", "samples"):
            if rest in truth[table]:
                return [truth[table][rest]["group"]]
    if kind == "file" and rest in truth["files"]:
        return list(truth["files"][rest]["groups"])
    return None


def load_questions(path: Path = QUESTIONS_PATH) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(header, questions) of a question file written by eval/make_lab_questions.py."""
    if not path.is_file():
        raise InvalidRequestError(
            f"question set {path} not found; generate it with `python -m eval.make_lab_questions`"
        )
    header: dict[str, Any] = {}
    questions = []
    for number, record in read_objects(path):
        if record.get("kind") == "meta":
            header = record
            continue
        missing = [k for k in ("id", "kind", "question", "user") if k not in record]
        if missing or record["kind"] not in ("entity", "descriptive", "permission"):
            raise InvalidRequestError(
                f"{path}:{number}: a question needs id, kind (entity|descriptive|permission), "
                f"question and user; missing {missing or 'a valid kind'}"
            )
        answer_key = {"entity": "expected", "descriptive": "relevant"}.get(record["kind"])
        if answer_key and answer_key not in record:
            # e.g. a thumbs-down exported by `labsearch eval export-feedback`, not yet reviewed
            raise InvalidRequestError(
                f"{path}:{number}: {record['kind']} question {record['id']!r} has no "
                f"{answer_key!r}; add the right answer before scoring it"
            )
        questions.append(record)
    return header, questions


@dataclass
class QuestionResult:
    id: str
    kind: str
    template: str
    question: str
    user: str
    seconds: float
    scores: dict[str, float] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)


class LabEvaluator:
    """Asks each question through the SearchService as the question's user and scores it."""

    def __init__(self, service: Any, settings: Settings, truth: dict[str, Any], keys: KeyMap):
        self.service = service
        self.settings = settings
        self.truth = truth
        self.keys = keys

    def access(self, user: str) -> Access:
        groups = self.settings.groups_of(user)
        if not groups:
            raise InvalidRequestError(
                f"question user {user!r} has no groups in the demo lab's labsearch.toml"
            )
        return Access.for_groups(groups, user=user)

    def run(self, questions: Iterable[dict[str, Any]]) -> list[QuestionResult]:
        results = []
        for question in questions:
            started = time.perf_counter()
            scorer = getattr(self, f"_{question['kind']}")
            scores, detail = scorer(question, self.access(question["user"]))
            results.append(
                QuestionResult(
                    id=question["id"],
                    kind=question["kind"],
                    template=question.get("template", ""),
                    question=question["question"],
                    user=question["user"],
                    seconds=round(time.perf_counter() - started, 4),
                    scores=scores,
                    detail=detail,
                )
            )
        return results

    def _entity(self, question: dict[str, Any], access: Access) -> tuple[dict, dict]:
        answer = self.service.answer(question["question"], access)
        if answer.result is None:
            score = set_scores([], question["expected"])
            detail = {"why": "not understood as a list/count question (descriptive answer given)"}
            return _set_dict(score, count_ok=False), detail | _set_detail(score)
        # Questions about runs are scored by run id; the others by asset key.
        by_run = any(key.startswith("run:") for key in question["expected"])
        members = {
            self.keys.member_key(m.id, m.entity and m.entity.value, m.metadata)
            if by_run
            else self.keys.key(m.id)
            for m in answer.result.members
        }
        score = set_scores(members, question["expected"])
        count_ok = "count" not in question or answer.result.count == question["count"]
        detail = {
            "count": answer.result.count,
            "complete": answer.result.complete,
            "filters": answer.result.filters,
        } | _set_detail(score)
        if "count" in question:
            detail["expected_count"] = question["count"]
        return _set_dict(score, count_ok=count_ok and answer.result.complete), detail

    def _descriptive(self, question: dict[str, Any], access: Access) -> tuple[dict, dict]:
        hits = self.service.rank(question["question"], access, k=10)
        ranked = list(dict.fromkeys(self.keys.key(h.id) for h in hits))
        relevant = question["relevant"]
        found = len(set(ranked[:10]) & {k for k, g in relevant.items() if g > 0})
        recall = found / min(10, sum(1 for g in relevant.values() if g > 0))
        scores = {"recall@10": recall, "ndcg@10": ndcg_at_k(ranked, relevant, 10)}
        return scores, {"top": ranked[:10]}

    def _permission(self, question: dict[str, Any], access: Access) -> tuple[dict, dict]:
        hits = self.service.rank(question["question"], access, k=10)
        answer = self.service.answer(question["question"], access)
        returned = [h.id for h in hits] + [c.asset_id for c in answer.citations]
        if answer.result is not None:
            returned += [m.id for m in answer.result.members]
        leaked = sorted({i for i in returned if not self._may_see(i, access)})
        detail = {"returned": len(set(returned)), "leaked": leaked[:20]}
        if answer.result is not None:
            detail["count"] = answer.result.count
        return {"leaks": float(len(leaked))}, detail

    def _may_see(self, asset_id: str, access: Access) -> bool:
        groups = owner_groups(self.keys.key(asset_id), self.truth)
        if groups is None:
            asset = self.service.store.get(asset_id, Access.as_operator())
            groups = asset.groups if asset else []
        return access.can_see(groups)


def _set_dict(score: Any, count_ok: bool) -> dict[str, float]:
    return {
        "precision": score.precision,
        "recall": score.recall,
        "f1": score.f1,
        "count_ok": float(count_ok),
    }


def _set_detail(score: Any) -> dict[str, Any]:
    return {"missing": list(score.missing[:20]), "extra": list(score.extra[:20])}


def summarize(results: list[QuestionResult]) -> dict[str, Any]:
    """Aggregate tables: entity by template, descriptive by template, permission leaks."""
    summary: dict[str, Any] = {"entity": {}, "descriptive": {}, "permission": {}}
    for kind, metrics in (
        ("entity", ("precision", "recall", "f1", "count_ok")),
        ("descriptive", ("recall@10", "ndcg@10")),
    ):
        chosen = [r for r in results if r.kind == kind]
        groups: dict[str, list[QuestionResult]] = {}
        for r in chosen:
            groups.setdefault(r.template.split("/")[0], []).append(r)
        groups["all"] = chosen
        summary[kind] = {
            name: {"n": len(rs)} | {m: round(mean(r.scores[m] for r in rs), 4) for m in metrics}
            for name, rs in groups.items()
            if rs
        }
    permission = [r for r in results if r.kind == "permission"]
    summary["permission"] = {
        "n": len(permission),
        "leaks": int(sum(r.scores["leaks"] for r in permission)),
    }
    summary["failures"] = [
        {"id": r.id, "question": r.question, "user": r.user, **r.scores, **r.detail}
        for r in results
        if (r.kind == "entity" and (r.scores["f1"] < 1 or not r.scores["count_ok"]))
        or (r.kind == "permission" and r.scores["leaks"] > 0)
    ]
    return summary


def results_json(results: list[QuestionResult]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]


def demo_settings(base: Settings, config: Path, home: Path) -> Settings:
    """The base settings (backend, model, cache) with the demo's users and access rules."""
    demo = tomllib.loads(config.read_text(encoding="utf-8"))
    parsed = Settings(**demo)  # validates users / access_rules into their models
    return base.with_overrides(
        home=home,
        users=parsed.users,
        access_rules=parsed.access_rules,
        catalog_url=parsed.catalog_url,
        opensearch_index="labsearch-eval-lab",
    )


def index_own(settings: Settings, sources: list[str]) -> list[Any]:
    """Index an evaluation's own sources into its own home; a cached index from another
    labsearch version or model is ours too, so it is rebuilt (embeddings come from the cache,
    so this costs little)."""
    from indexer.jobs import run_index

    try:
        return run_index(settings, sources)
    except (ConfigError, ModelMismatchError):
        return run_index(settings, sources, rebuild=True)


@dataclass
class LabRun:
    summary: dict[str, Any]
    results: list[QuestionResult]
    timings: dict[str, float]
    lab: dict[str, Any]


def evaluate_lab(
    base: Settings,
    directory: Path,
    *,
    questions: list[dict[str, Any]] | None = None,
    seed: int | None = None,
    runs: int | None = None,
) -> LabRun:
    """Build (or reuse) the demo lab and its index under `directory`, then ask every question.

    Without seed and runs, the committed question set is asked of the demo lab it was generated
    from; with them (e.g. a small lab in tests) and no `questions`, the questions are generated
    from that lab's truth by eval/make_lab_questions.py.
    """
    from retriever.service import SearchService
    from shell.demo.run import build_or_reuse
    from shell.demo.truth import load_truth

    if seed is None and runs is None:
        header, questions = load_questions()
        seed, runs = header.get("demo_seed"), header.get("demo_runs")
    if seed is None or runs is None:
        raise InvalidRequestError(
            "evaluate_lab needs the demo lab's seed and runs (both, or the committed set's header)"
        )
    timings: dict[str, float] = {}
    started = time.perf_counter()
    directory.mkdir(parents=True, exist_ok=True)
    lab = build_or_reuse(directory, runs=runs, seed=seed)
    timings["build_s"] = round(time.perf_counter() - started, 2)
    settings = demo_settings(base, lab.config, directory / "home")
    started = time.perf_counter()
    reports = index_own(settings, list(lab.sources))
    timings["index_s"] = round(time.perf_counter() - started, 2)
    failed = [f"{r.source}: {r.errors[:3]}" for r in reports if not r.ok]
    if failed:
        raise InvalidRequestError(f"indexing the demo lab failed: {failed}")
    truth = load_truth(lab.truth)
    if questions is None:
        from eval.make_lab_questions import make_questions

        questions = make_questions(truth)
    keys = KeyMap(lab.registry.as_uri(), lab.files_dir.as_uri())
    service = SearchService.from_settings(settings)
    try:
        started = time.perf_counter()
        results = LabEvaluator(service, settings, truth, keys).run(questions)
        timings["questions_s"] = round(time.perf_counter() - started, 2)
    finally:
        service.close()
    info = {"seed": seed, "runs": runs, "root": str(lab.root), "counts": truth["counts"]}
    return LabRun(summarize(results), results, timings, info)
