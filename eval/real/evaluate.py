"""The real-data question set, asked of an index built from public lab metadata, scored by truth.

The data (NCBI SRA RunInfo tables, SDRF-Proteomics files, ISA-Tab studies; see eval/real/truth.py)
is indexed with the ordinary sources (`table+file://`, `sdrf+file://`, `isatab+file://`), each
source visible to one of two users (`truth.USERS`). Each question is asked as its user through the
SearchService, exactly as `labsearch ask --as-user` would.

Scoring, per question (entity questions only; expected sets come from truth.py):
- a member scores against an expected natural key (`run:SRR1`, `sample:SAMN1`, `file:a.raw`) when
  its entity is the key's kind and one of its names (identifiers, run id, file name, title) is the
  key's value or one of the key's aliases; a member that matches no key is an extra;
- exact-set precision, recall and F1; counts must match for count questions;
- **false complete**: the answer says `complete: true` and its set (or count) is wrong;
- **complete rate**: the share of questions answered with `complete: true`;
- **leaks**: members or citations the asking user may not see (by the groups stored on the asset).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eval.jsonl import read_objects
from eval.metrics import mean, set_scores
from eval.real import truth
from labsearch.access import Access
from labsearch.errors import ConfigError, InvalidRequestError
from labsearch.settings import AccessRule, Settings, UserConfig

QUESTIONS_PATH = Path(__file__).parent.parent / "data" / "real_questions.jsonl"
SOURCE_SCHEMES = {"sra": "table+file", "sdrf": "sdrf+file", "isatab": "isatab+file"}
_KIND_ENTITY = {"run": "run", "sample": "sample", "file": "file"}


def real_data_dir() -> Path:
    """`LABSEARCH_REALDATA`, else `datasets/realdata` under `LABSEARCH_SHARED` (../shared)."""
    configured = os.environ.get("LABSEARCH_REALDATA")
    if configured:
        return Path(configured)
    return Path(os.environ.get("LABSEARCH_SHARED", "../shared")) / "datasets" / "realdata"


def source_uris(root: Path) -> dict[str, tuple[str, str]]:
    """Source URI -> (user who may see it, source kind), for every file of truth.USERS."""
    uris = {}
    for user, kinds in truth.USERS.items():
        for kind, paths in kinds.items():
            for relative in paths:
                uris[f"{SOURCE_SCHEMES[kind]}://{(root / relative).resolve()}"] = (user, kind)
    return uris


def real_settings(base: Settings, root: Path, home: Path) -> Settings:
    """The base settings (backend, model, cache) with one group per user over its sources."""
    rules = [
        AccessRule(prefix=uri, groups=[f"lab-{user}"])
        for uri, (user, _) in source_uris(root).items()
    ]
    users = {user: UserConfig(groups=[f"lab-{user}"]) for user in truth.USERS}
    return base.with_overrides(
        home=home, users=users, access_rules=rules, opensearch_index="labsearch-eval-real"
    )


REQUIRED = ("id", "question", "user", "expected", "source", "type")


def load_questions(path: Path = QUESTIONS_PATH) -> list[dict[str, Any]]:
    questions = []
    for number, record in read_objects(path):
        if record.get("kind") == "meta":
            continue
        missing = [
            k for k in ("id", "question", "user", "expected", "source", "type") if k not in record
        ]
        if missing:
            raise InvalidRequestError(f"{path}:{number}: question lacks {missing}")
        questions.append(record)
    return questions


def _norm(value: Any) -> str:
    return " ".join(str(value).split()).casefold()


def member_names(asset: Any) -> set[str]:
    """Every name a member answers to: identifiers, run id, file name, title, id's last part."""
    metadata = asset.metadata or {}
    names = set(asset.identifiers or [])
    for key in ("run_id", "file_name", "sample_name", "source_name"):
        value = metadata.get(key)
        if isinstance(value, str):
            names.add(value)
    names.add(asset.title)
    tail = asset.id.rsplit("#", 1)[-1].rsplit(":", 1)[-1]
    names.add(tail.split("=", 1)[-1])
    names.add(Path(tail).name)
    return {_norm(n) for n in names if n}


@dataclass
class RealResult:
    id: str
    source: str
    type: str
    phrasing: str
    question: str
    user: str
    seconds: float
    scores: dict[str, float] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)


class RealEvaluator:
    """Asks each question as its user and scores the members against truth's natural keys."""

    def __init__(self, service: Any, settings: Settings, reader: Any = None):
        self.service = service
        self.settings = settings
        self.reader = reader  # a language model reading the questions (question_parser=llm)
        self._assets: dict[str, Any] = {}

    def _asset(self, asset_id: str) -> Any:
        if asset_id not in self._assets:
            self._assets[asset_id] = self.service.store.get(asset_id, Access.as_operator())
        return self._assets[asset_id]

    def key_of(self, member: Any, question: dict[str, Any]) -> str:
        """The expected key this member stands for, else `extra:{id}`."""
        asset = self._asset(member.id)
        if asset is None:
            return f"extra:{member.id}"
        names = member_names(asset)
        aliases = question.get("aliases", {})
        keys = list(question["expected"]) + list(question.get("other_user_expected", []))
        for key in keys:
            kind, _, value = key.partition(":")
            entity = asset.entity.value if asset.entity else None
            if entity != _KIND_ENTITY.get(kind):
                continue
            wanted = {_norm(value)} | {_norm(a.partition(":")[2]) for a in aliases.get(key, [])}
            if wanted & names:
                return key
        return f"extra:{member.id}"

    def run(self, questions: Iterable[dict[str, Any]]) -> list[RealResult]:
        return [self._ask(q) for q in questions]

    def _ask(self, question: dict[str, Any]) -> RealResult:
        access = Access.for_groups(self.settings.groups_of(question["user"]), user=question["user"])
        started = time.perf_counter()
        answer = self.service.answer(question["question"], access, reader=self.reader)
        seconds = round(time.perf_counter() - started, 4)
        expected = question["expected"]
        returned = [c.asset_id for c in answer.citations]
        detail: dict[str, Any] = {}
        if answer.result is None:
            score = set_scores([], expected)
            complete, count_ok = False, False
            detail["why"] = "not understood as a list/count question (descriptive answer given)"
        else:
            members = {self.key_of(m, question) for m in answer.result.members}
            returned += [m.id for m in answer.result.members]
            score = set_scores(members, expected)
            complete = answer.result.complete
            count_ok = "count" not in question or answer.result.count == question["count"]
            detail |= {"count": answer.result.count, "filters": answer.result.filters}
        exact = score.f1 == 1.0 and count_ok
        leaked = sorted({i for i in set(returned) if not self._may_see(i, access)})
        detail |= {
            "complete": complete,
            "missing": list(score.missing[:20]),
            "extra": list(score.extra[:20]),
            "leaked": leaked[:20],
        }
        scores = {
            "precision": score.precision,
            "recall": score.recall,
            "f1": score.f1,
            "count_ok": float(count_ok),
            "complete": float(complete),
            "false_complete": float(complete and not exact),
            "leaks": float(len(leaked)),
        }
        return RealResult(
            id=question["id"],
            source=question["source"],
            type=question["type"],
            phrasing=question.get("phrasing", ""),
            question=question["question"],
            user=question["user"],
            seconds=seconds,
            scores=scores,
            detail=detail,
        )

    def _may_see(self, asset_id: str, access: Access) -> bool:
        asset = self._asset(asset_id)
        return access.can_see(asset.groups if asset else [])


METRICS = ("precision", "recall", "f1", "count_ok", "complete", "false_complete")


def _aggregate(results: list[RealResult]) -> dict[str, Any]:
    row: dict[str, Any] = {"n": len(results)}
    row |= {m: round(mean(r.scores[m] for r in results), 4) for m in METRICS}
    row["false_complete"] = int(sum(r.scores["false_complete"] for r in results))
    row["leaks"] = int(sum(r.scores["leaks"] for r in results))
    return row


def summarize(results: list[RealResult]) -> dict[str, Any]:
    """Per source, per question type and overall; the failures with what was missing/extra."""
    summary: dict[str, Any] = {"by_source": {}, "by_type": {}}
    for axis, attribute in (("by_source", "source"), ("by_type", "type")):
        groups: dict[str, list[RealResult]] = {}
        for r in results:
            groups.setdefault(getattr(r, attribute), []).append(r)
        summary[axis] = {name: _aggregate(rs) for name, rs in sorted(groups.items())}
    summary["all"] = _aggregate(results) if results else {"n": 0}
    summary["failures"] = [
        {"id": r.id, "question": r.question, "user": r.user, **r.scores, **r.detail}
        for r in results
        if r.scores["f1"] < 1 or not r.scores["count_ok"] or r.scores["leaks"]
    ]
    return summary


@dataclass
class RealRun:
    summary: dict[str, Any]
    results: list[RealResult]
    timings: dict[str, float]
    data: dict[str, Any]


def evaluate_real(
    base: Settings,
    directory: Path,
    *,
    data: Path | None = None,
    questions: list[dict[str, Any]] | None = None,
    reader: Any = None,
) -> RealRun:
    """Index the real data under `directory` (reused on later runs) and ask every question."""
    from eval.lab import index_own
    from retriever.service import SearchService

    root = (data or real_data_dir()).resolve()
    if not root.is_dir():
        raise ConfigError(
            f"real lab metadata not found at {root}: set LABSEARCH_REALDATA to the directory "
            "that eval/real/extract.py writes (or put it under $LABSEARCH_SHARED/datasets/realdata)"
        )
    questions = load_questions() if questions is None else questions
    uris = source_uris(root)
    missing = [uri for uri in uris if not Path(uri.split("://", 1)[1]).exists()]
    if missing:
        raise ConfigError(f"real data incomplete in {root}: missing {missing[:3]}")
    settings = real_settings(base, root, directory / "home")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    reports = index_own(settings, list(uris))
    timings["index_s"] = round(time.perf_counter() - started, 2)
    failed = [f"{r.source}: {r.errors[:3]}" for r in reports if not r.ok]
    service = SearchService.from_settings(settings)
    try:
        started = time.perf_counter()
        results = RealEvaluator(service, settings, reader).run(questions)
        timings["questions_s"] = round(time.perf_counter() - started, 2)
    finally:
        service.close()
    info = {
        "root": str(root),
        "sources": {uri: {"user": u, "kind": k} for uri, (u, k) in uris.items()},
        "index_errors": failed,
    }
    return RealRun(summarize(results), results, timings, info)


def results_json(results: list[RealResult]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]
