"""scripts/opensearch-node: the choices it makes before it assembles anything."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "opensearch-node"


def _start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "LABSEARCH_OPENSEARCH_DIR": str(tmp_path / "node"),
        "OPENSEARCH_PORT": "9299",  # nothing listens there
        **env,
    }
    return subprocess.run(
        [str(SCRIPT), "start"], env=environment, capture_output=True, text=True, timeout=60
    )


def test_an_unknown_version_is_refused_naming_the_ones_that_work(tmp_path: Path) -> None:
    completed = _start(tmp_path, OPENSEARCH_VERSION="9.9.9")
    assert completed.returncode == 1
    assert "OPENSEARCH_VERSION=9.9.9: use 3.5.0 or 2.19.1" in completed.stderr
    assert not (tmp_path / "node" / "opensearch-9.9.9").exists(), "nothing was assembled"


def test_a_jdk_that_cannot_run_the_version_is_refused_with_what_to_set(tmp_path: Path) -> None:
    not_a_jdk = tmp_path / "jdk"
    (not_a_jdk / "bin").mkdir(parents=True)
    java = not_a_jdk / "bin" / "java"
    # A JDK 17 as far as the script can tell; OpenSearch 3.x needs 21 or newer.
    java.write_text("#!/bin/sh\necho '    java.specification.version = 17' >&2\n")
    java.chmod(0o755)
    completed = _start(
        tmp_path,
        OPENSEARCH_VERSION="3.5.0",
        JAVA_HOME=str(not_a_jdk),
        PATH=f"{not_a_jdk / 'bin'}:/usr/bin:/bin",
        OPENSEARCH_JDK_DIRS=str(tmp_path / "no-jdks"),
    )
    assert completed.returncode == 1
    assert "OpenSearch 3.5.0 needs a JDK 21 to 25; set OPENSEARCH_JAVA_HOME" in completed.stderr
