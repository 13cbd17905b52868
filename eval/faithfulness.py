"""Faithfulness of generated answers: `labsearch eval faithfulness`.

Every question of eval/data/faithfulness_questions.jsonl (descriptive questions over the demo
lab and the real lab metadata, each labelled with the assets that answer it) is answered by each
language model backend through the API's answerer, grounding included, and scored:

- `supported_raw`: share of the sentences the model wrote that the sentence check found
  supported by the assets they cite (or re-cited to one that does): the model's own
  faithfulness as the check sees it;
- `supported_final`: the same share over the sentences of the final answers (after grounding,
  fallbacks excluded), and `uncited_final`, final sentences without a citation (must be 0);
- `fallback`: share of answers where no sentence survived and the extractive answer was given;
- `citation_precision` / `citation_recall`: cited assets against the labelled ones (a labelled
  asset is a part of the asset id: an ELN id, a file name, a study or an accession);
- for `scripted` (a model that writes true sentences and plants hallucinations next to them):
  `true_kept` and `planted_removed`, the check's precision and recall on known labels.

Backends: `scripted` (always available), `local` (the default SmolLM2 GGUF; slow on a CPU),
`bedrock` (only from recorded responses, which this repository does not have yet: reported as
skipped rather than guessed).
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage

from chat_api.answering import Answerer, Outcome, Turn
from chat_api.grounding import Grounder, claim_text, split_sentences
from chat_api.llm import LLM, build_llm
from chat_api.llm.scripted import ScriptedChatModel
from labsearch.access import Access
from labsearch.errors import ConfigError
from labsearch.models import Answer
from labsearch.settings import Settings

QUESTIONS_PATH = Path(__file__).parent / "data" / "faithfulness_questions.jsonl"
BACKENDS = ("scripted", "local", "bedrock")
_CITATION = re.compile(r"\[[^\[\]\n]{1,400}\]")

# The scripted model's planted hallucinations (kinds, in the order they are written).
PLANTED_KINDS = ("invented method", "wrong number", "invented identifier")


def load_questions(path: Path = QUESTIONS_PATH) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    header = lines[0]["header"] if lines and "header" in lines[0] else {}
    questions = [line for line in lines if "question" in line]
    return header, questions


# --- the scripted backend: true sentences and planted hallucinations ------------------------


def _blocks(messages: list[BaseMessage]) -> list[dict[str, str]]:
    """The context assets of an answer prompt (answer_messages' rendering): id, title, text."""
    body = str(messages[-1].content)
    blocks = []
    for chunk in body.split("\n\n"):
        fields = dict(re.findall(r"^(id|title|text): (.*)$", chunk, flags=re.M))
        if "id" in fields:
            blocks.append(fields)
    return blocks


def _first_sentence(text: str, words: int = 16) -> str:
    sentence = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    return " ".join(sentence.split()[:words]).rstrip(".,;:")


def planted_reply(messages: list[BaseMessage]) -> str:
    """Two true sentences (from the first two context assets, each citing its own), then one
    planted hallucination of each kind citing the first asset."""
    blocks = _blocks(messages)
    if not blocks:
        return "The sources do not answer this."
    first = blocks[0]
    true = [f"{_first_sentence(b.get('text') or b['title'])} [{b['id']}]." for b in blocks[:2]]
    numbers = re.findall(r"\b\d+\b", first.get("text", ""))
    wrong = f"{int(numbers[0]) + 7}" if numbers else "17"
    planted = [
        f"It relies on reverse transcription and polymerase synthesis [{first['id']}].",
        f"The record lists {wrong} replicates per condition [{first['id']}].",
        f"It also used sample ZZQ-9042 [{first['id']}].",
    ]
    return " ".join(true + planted)


def scripted_llm() -> LLM:
    return LLM(ScriptedChatModel(script=_script), name="scripted")


def _script(messages: list[BaseMessage]) -> str:
    return planted_reply(messages)


# --- scoring -------------------------------------------------------------------------------


@dataclass
class AnswerScore:
    id: str
    source: str
    question: str
    sentences: int
    kept: int
    attributed: int
    fallback: bool
    final_sentences: int
    final_supported: int
    final_uncited: int
    cited: list[str]
    precision: float
    recall: float
    seconds: float
    removed: list[dict[str, str]] = field(default_factory=list)
    text: str = ""


def citation_scores(cited: list[str], relevant: list[str]) -> tuple[float, float]:
    """Precision: cited assets matching a labelled part; recall: labelled parts cited."""
    if not cited:
        return 0.0, 0.0
    hits = [c for c in cited if any(part in c for part in relevant)]
    found = [part for part in relevant if any(part in c for c in cited)]
    return len(hits) / len(cited), len(found) / len(relevant) if relevant else 0.0


def recheck(answer: Answer, service: Any, access: Access, question: str) -> tuple[int, int, int]:
    """(sentences, supported, uncited) of a final generated answer, checked afresh against the
    assets each sentence cites (no re-attribution: the citation must already be right)."""
    if answer.grounding is None or answer.grounding.fallback:
        return 0, 0, 0
    cited_assets = {c.asset_id: service.get_asset(c.asset_id, access) for c in answer.citations}
    grounder = Grounder([], question, cited_assets.__contains__, cited_assets.get)
    sentences = split_sentences(answer.text)
    supported = sum(grounder.check(s).supported for s in sentences)
    uncited = sum(1 for s in sentences if not _CITATION.search(s) and claim_text(s))
    return len(sentences), supported, uncited


def score_answer(
    question: dict[str, Any], answer: Answer, seconds: float, service: Any, access: Access
) -> AnswerScore:
    grounding = answer.grounding
    cited = [c.asset_id for c in answer.citations]
    precision, recall = citation_scores(cited, question["relevant"])
    final, supported, uncited = recheck(answer, service, access, question["question"])
    return AnswerScore(
        id=question["id"],
        source=question["source"],
        question=question["question"],
        sentences=grounding.sentences if grounding else 0,
        kept=grounding.kept if grounding else 0,
        attributed=grounding.attributed if grounding else 0,
        fallback=bool(grounding and grounding.fallback),
        final_sentences=final,
        final_supported=supported,
        final_uncited=uncited,
        cited=cited,
        precision=precision,
        recall=recall,
        seconds=round(seconds, 2),
        removed=[r.model_dump() for r in grounding.removed] if grounding else [],
        text=answer.text,
    )


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def summarize(scores: list[AnswerScore], backend: str) -> dict[str, Any]:
    sentences = sum(s.sentences for s in scores)
    final = sum(s.final_sentences for s in scores)
    summary: dict[str, Any] = {
        "answers": len(scores),
        "sentences": sentences,
        "supported_raw": _share(sum(s.kept for s in scores), sentences),
        "attributed": sum(s.attributed for s in scores),
        "supported_final": _share(sum(s.final_supported for s in scores), final),
        "final_sentences": final,
        "uncited_final": sum(s.final_uncited for s in scores),
        "fallback": _share(sum(s.fallback for s in scores), len(scores)),
        "citation_precision": round(statistics.mean(s.precision for s in scores), 4)
        if scores
        else None,
        "citation_recall": round(statistics.mean(s.recall for s in scores), 4) if scores else None,
        "seconds_per_answer": round(statistics.mean(s.seconds for s in scores), 2)
        if scores
        else None,
    }
    if backend == "scripted":
        # Two true sentences then one of each planted kind: the removed ones say which.
        planted = sum(1 for s in scores for r in s.removed if _is_planted(r["text"]))
        written_planted = len(PLANTED_KINDS) * sum(1 for s in scores if s.sentences)
        true_written = sum(max(0, s.sentences - len(PLANTED_KINDS)) for s in scores)
        true_removed = sum(1 for s in scores for r in s.removed if not _is_planted(r["text"]))
        summary["planted_removed"] = _share(planted, written_planted)
        summary["true_kept"] = _share(true_written - true_removed, true_written)
    return summary


def _is_planted(sentence: str) -> bool:
    return any(
        marker in sentence
        for marker in (
            "reverse transcription and polymerase",
            "replicates per condition",
            "ZZQ-9042",
        )
    )


# --- running -------------------------------------------------------------------------------


@dataclass
class FaithfulnessRun:
    summary: dict[str, dict[str, Any]]
    answers: dict[str, list[AnswerScore]]
    skipped: dict[str, str]
    timings: dict[str, float]


def backend_llm(name: str, settings: Settings) -> LLM:
    if name == "scripted":
        return scripted_llm()
    if name == "local":
        llm = build_llm(settings.with_overrides(llm="local"))
        assert llm is not None
        return llm
    raise ConfigError(f"no recorded responses for backend {name!r}")


def ask_all(
    services: dict[str, tuple[Any, Settings]],
    questions: Iterable[dict[str, Any]],
    llm: LLM,
    progress: Callable[[str], None] = lambda message: None,
) -> list[AnswerScore]:
    access = Access.as_operator()
    scores = []
    for question in questions:
        service, settings = services[question["source"]]
        answerer = Answerer(service, settings, llm)
        started = time.perf_counter()
        answer = answerer.answer(question["question"], access, Turn(), Outcome())
        seconds = time.perf_counter() - started
        scores.append(score_answer(question, answer, seconds, service, access))
        # One JSON line per answer: a long run (the local model) can be read while it runs.
        progress(json.dumps({"backend": llm.name, **scores[-1].__dict__}, ensure_ascii=False))
    return scores


def open_services(
    base: Settings, directory: Path, sources: set[str], real_data: Path | None
) -> tuple[dict[str, tuple[Any, Settings]], dict[str, float]]:
    """The demo lab's and the real data's SearchService (indexes built or reused)."""
    from eval.lab import demo_settings, index_own
    from eval.real.evaluate import real_data_dir, real_settings, source_uris
    from retriever.service import SearchService
    from shell.demo.run import build_or_reuse

    header, _ = load_questions()
    services: dict[str, tuple[Any, Settings]] = {}
    timings: dict[str, float] = {}
    if "demo" in sources:
        started = time.perf_counter()
        lab = build_or_reuse(directory / "demo", runs=header["demo_runs"], seed=header["demo_seed"])
        settings = demo_settings(base, lab.config, directory / "demo" / "home")
        index_own(settings, list(lab.sources))
        services["demo"] = (SearchService.from_settings(settings), settings)
        timings["demo_index_s"] = round(time.perf_counter() - started, 2)
    if "real" in sources:
        root = (real_data or real_data_dir()).resolve()
        if not root.is_dir():
            raise ConfigError(f"real lab metadata not found at {root}: set LABSEARCH_REALDATA")
        started = time.perf_counter()
        settings = real_settings(base, root, directory / "real" / "home")
        index_own(settings, list(source_uris(root)))
        services["real"] = (SearchService.from_settings(settings), settings)
        timings["real_index_s"] = round(time.perf_counter() - started, 2)
    return services, timings


def evaluate_faithfulness(
    base: Settings,
    directory: Path,
    backends: Iterable[str],
    *,
    sources: set[str] | None = None,
    real_data: Path | None = None,
    limit: int | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> FaithfulnessRun:
    _, questions = load_questions()
    sources = sources or {"demo", "real"}
    questions = [q for q in questions if q["source"] in sources][:limit]
    services, timings = open_services(base, directory, sources, real_data)
    summary, answers, skipped = {}, {}, {}
    try:
        for name in backends:
            try:
                llm = backend_llm(name, base)
            except ConfigError as error:
                skipped[name] = str(error)
                continue
            started = time.perf_counter()
            scores = ask_all(services, questions, llm, progress)
            timings[f"{name}_s"] = round(time.perf_counter() - started, 2)
            answers[name] = scores
            summary[name] = summarize(scores, name)
    finally:
        for service, _ in services.values():
            service.close()
    return FaithfulnessRun(summary, answers, skipped, timings)


def results_json(run: FaithfulnessRun) -> dict[str, Any]:
    return {
        "summary": run.summary,
        "skipped": run.skipped,
        "timings": run.timings,
        "answers": {
            name: [score.__dict__ for score in scores] for name, scores in run.answers.items()
        },
    }
