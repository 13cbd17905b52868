"""The API on the demo lab with a scripted, slow language model, for the browser test of
provisional text: `python tests/scripted_api.py PORT` (settings from LABSEARCH_CONFIG/HOME).

The model answers the RNA extraction question with one sentence the protocol supports and one
it does not (the invented method of issue 24), streamed a word every 0.2 s so a browser sees the
unchecked text as provisional before the check settles it.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from typing import Any

import uvicorn
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk

from chat_api.app import create_app
from chat_api.llm import LLM
from chat_api.llm.scripted import ScriptedChatModel
from labsearch.settings import get_settings
from retriever.service import SearchService

SUPPORTED = "Total RNA extraction from tissue uses the RNeasy Mini protocol"
INVENTED = "It combines reverse transcription and polymerase synthesis"
WORD_SECONDS = 0.2


def reply(messages: list[BaseMessage]) -> str:
    ids = re.findall(r"^id: (.+)$", str(messages[-1].content), flags=re.M)
    protocol = next((i for i in ids if "SOP-001" in i), ids[0] if ids else "none")
    return f"{SUPPORTED} [{protocol}]. {INVENTED} [{protocol}]."


class SlowScriptedChatModel(ScriptedChatModel):
    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        for chunk in super()._stream(*args, **kwargs):
            time.sleep(WORD_SECONDS)
            yield chunk


def main() -> None:
    settings = get_settings()
    service = SearchService.from_settings(settings)
    llm = LLM(SlowScriptedChatModel(script=reply), name="scripted")
    app = create_app(settings, service, llm=llm)
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")


if __name__ == "__main__":
    main()
