"""JSON Lines files of the eval (BEIR corpora and queries, the lab question set)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from labsearch.errors import InvalidRequestError


def read_objects(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; a bad line names the file and line."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as error:
                raise InvalidRequestError(f"{path}:{number}: not valid JSON ({error})") from error
            if not isinstance(record, dict):
                raise InvalidRequestError(f"{path}:{number}: expected a JSON object")
            yield number, record
