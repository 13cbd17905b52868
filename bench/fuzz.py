"""The fuzz suites at full size: every source parser, the filter grammar and search text on both
stores, and every API operation (schemathesis, signed in), with more examples than `make test`
runs.

    .venv/bin/python bench/fuzz.py                       # 500 per parser/store, 100 per operation
    .venv/bin/python bench/fuzz.py --examples 2000 --api-examples 200

It runs the same committed tests (tests/test_fuzz_parsers.py, tests/test_fuzz_filters.py,
tests/test_api_schemathesis.py) with LABSEARCH_FUZZ_EXAMPLES and LABSEARCH_FUZZ_API_EXAMPLES set,
so a failure is a pytest failure with Hypothesis' minimal example. The OpenSearch half needs the
node of `scripts/opensearch-node start`. Counts: artifacts/reliability/fuzz.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "artifacts" / "reliability" / "fuzz.json"
SUITES = [
    "tests/test_fuzz_parsers.py",
    "tests/test_fuzz_filters.py",
    "tests/test_api_schemathesis.py",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=500, help="Per parser and per store.")
    parser.add_argument("--api-examples", type=int, default=100, help="Per API operation.")
    args = parser.parse_args()
    env = dict(
        os.environ,
        LABSEARCH_FUZZ_EXAMPLES=str(args.examples),
        LABSEARCH_FUZZ_API_EXAMPLES=str(args.api_examples),
        HF_HUB_OFFLINE="1",
        PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    REPORT.unlink(missing_ok=True)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SUITES],
        cwd=REPO,
        env=env,
    )
    print(f"\n{time.monotonic() - started:.0f} s, pytest exit code {result.returncode}")
    if REPORT.exists():
        for name, counts in sorted(json.loads(REPORT.read_text()).items()):
            print(f"{name:40} {counts}")
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
