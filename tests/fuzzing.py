"""What the fuzz suites share: Hypothesis settings and the counts they write for
docs/reliability.md (artifacts/reliability/fuzz.json, or under LABSEARCH_PROOF_DIR)."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("LABSEARCH_FUZZ_EXAMPLES", "100"))
REPORT = (
    Path(
        os.environ.get("LABSEARCH_PROOF_DIR", Path(__file__).resolve().parent.parent / "artifacts")
    )
    / "reliability"
    / "fuzz.json"
)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,  # the same examples every run: a failure here is reproducible
    suppress_health_check=list(HealthCheck),
)


def write_entries(entries: dict[str, dict[str, Any]]) -> None:
    """Merge entries into the report, keeping other suites' entries."""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    try:
        saved = json.loads(REPORT.read_text())
    except (OSError, ValueError):
        saved = {}
    saved.update(entries)
    REPORT.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n")


def write_counts(counts: dict[str, Counter[str]], zeros: dict[str, Any]) -> None:
    """Write one suite's counts. `zeros` names the failure counts that are reported as 0 when
    none were counted."""
    write_entries(
        {
            name: {**zeros, **counted, "examples_setting": EXAMPLES}
            for name, counted in counts.items()
        }
    )
