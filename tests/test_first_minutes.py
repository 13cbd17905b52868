"""The first ten minutes: what `make demo` installs, and a demo the other commands can use."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import requests
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parent.parent


def install_set(distribution: str) -> set[str]:
    """Every distribution `pip install <distribution>` pulls in (no extras), from the installed
    packages' metadata."""
    seen: set[str] = set()
    todo = [distribution]
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        seen.add(name)
        try:
            requirements = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # a platform-specific dependency not installed here
        for line in requirements:
            requirement = Requirement(line)
            if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
                continue  # only with an extra (or on another platform)
            todo.append(requirement.name)
    return seen


def test_the_demo_installs_no_llama_cpp():
    """`make demo` installs the package without extras; llama-cpp-python (a 4-minute compile)
    comes only with the local-llm extra, which `make test` installs."""
    pulled = install_set("labsearch")
    assert "torch" in pulled and "streamlit" in pulled  # the closure is really computed
    assert "llama-cpp-python" not in pulled
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^demo:.*\$\(DEMO_READY\)", makefile, re.M), "demo needs only the demo set"


def test_after_demo_no_serve_a_plain_serve_accepts_the_demo_keys(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABSEARCH_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", QUILT_DISABLE_USAGE_METRICS="true")
    cli = [sys.executable, "-m", "shell.cli"]
    built = subprocess.run(
        [*cli, "demo", "--dir", "demo", "--runs", "12", "--no-serve"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert built.returncode == 0, built.stderr
    assert "labsearch.toml now points" in built.stderr
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port)], cwd=tmp_path, env=env, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.3)
        answer = requests.post(
            f"{url}/search",
            json={"query": "RNA-seq"},
            headers={"X-API-Key": "demo-alice"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["hits"], "alice sees her lab's demo data"
    finally:
        server.terminate()
        server.wait(timeout=30)
