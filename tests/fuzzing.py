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


def write_counts(counts: dict[str, Counter[str]], zeros: dict[str, Any]) -> None:
    """Merge one suite's counts into the report (other suites' entries are kept). `zeros`
    names the failure counts that are reported as 0 when none were counted."""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    try:
        saved = json.loads(REPORT.read_text())
    except (OSError, ValueError):
        saved = {}
    for name, counted in counts.items():
        saved[name] = {**zeros, **counted, "examples_setting": EXAMPLES}
    REPORT.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n")
