"""The UI tests' world: a small demo lab, indexed once per test session, and real servers on it.

`labsearch demo --runs 20 --no-serve` runs in a child process so its environment variables
(LABSEARCH_CONFIG/HOME) never leak into this one; the API (`labsearch serve`) and the UI
(`labsearch ui`) are child processes on free ports, stopped by their own pid.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
RUNS = 20
SEED = 7


@dataclass(frozen=True)
class Demo:
    directory: Path
    truth: dict[str, Any]

    @property
    def config(self) -> Path:
        return self.directory / "lab" / "labsearch.toml"

    @property
    def home(self) -> Path:
        return self.directory / "home"

    @property
    def example_sample(self) -> str:
        return self.truth["well_known"]["example_sample"]

    def runs_of(self, sample: str) -> list[str]:
        return sorted(self.truth["samples"][sample]["runs"])


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABSEARCH_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", QUILT_DISABLE_USAGE_METRICS="true")
    if "LABSEARCH_SHARED" in os.environ:
        env["LABSEARCH_SHARED"] = os.environ["LABSEARCH_SHARED"]
    env.update(extra)
    return env


def build_demo(base: Path) -> Demo:
    """The indexed demo lab under `base` (the session's temp root), built by the first caller."""
    # LABSEARCH_TEST_DEMO_DIR keeps the built lab between sessions (handy when iterating).
    directory = Path(os.environ.get("LABSEARCH_TEST_DEMO_DIR") or base / "ui-demo")
    done = directory / "indexed.ok"
    if not done.is_file():
        command = [sys.executable, "-m", "shell.cli", "demo", "--dir", str(directory)]
        command += ["--runs", str(RUNS), "--seed", str(SEED), "--no-serve"]
        directory.mkdir(parents=True, exist_ok=True)  # the demo leaves ./labsearch.toml here
        result = subprocess.run(
            command, cwd=directory, env=_clean_env(), capture_output=True, text=True, timeout=900
        )
        if result.returncode != 0:
            raise RuntimeError(f"building the demo failed:\n{result.stdout}\n{result.stderr}")
        done.write_text("ok\n")
    truth = json.loads((directory / "lab" / "truth.json").read_text())
    return Demo(directory, truth)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_port_url() -> str:
    """A URL where nothing listens: a port just bound and released."""
    return f"http://127.0.0.1:{free_port()}"


def _wait(url: str, process: subprocess.Popen, log: Path, timeout: float, ready: int) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            response = httpx.get(url, timeout=5)
        except httpx.TransportError:
            time.sleep(0.5)
            continue
        if response.status_code == ready:
            return
        detail = _load_failure(response)
        if ready == 200 and detail:
            raise RuntimeError(f"{url}: the API cannot load its index: {detail}")
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready after {timeout}s:\n{log.read_text()[-3000:]}")


def _load_failure(response: httpx.Response) -> str | None:
    """/v1/readyz's reason when loading failed for good (not just "loading" yet)."""
    try:
        body = response.json()
    except ValueError:
        return None
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if detail and detail != "loading" else None


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextmanager
def serve(
    command: list[str], env: dict[str, str], probe: str, log: Path, ready: int = 200
) -> Iterator[subprocess.Popen]:
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait(probe, process, log, timeout=600, ready=ready)
        yield process
    finally:
        _stop(process)


@contextmanager
def api_server(
    demo: Demo,
    logs: Path,
    home: Path | None = None,
    ready: int = 200,
    scripted: bool = False,
    **env: str,
) -> Iterator[str]:
    """`labsearch serve` on the demo config and a free port; yields its URL once /v1/readyz
    answers `ready` (200, or 503 for a server whose search backend is meant to be down).
    `scripted`: the API with tests/scripted_api.py's slow scripted language model instead."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings_env = {"LABSEARCH_CONFIG": str(demo.config), "LABSEARCH_HOME": str(home or demo.home)}
    command = [sys.executable, "-m", "shell.cli", "serve", "--port", str(port)]
    if scripted:
        command = [sys.executable, str(REPO / "tests" / "scripted_api.py"), str(port)]
        paths = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
        env = {**env, "PYTHONPATH": os.pathsep.join(paths)}
    environment = _clean_env(**settings_env, **env)
    with serve(command, environment, f"{url}/v1/readyz", logs / f"api-{port}.log", ready):
        yield url


@contextmanager
def ui_server(api_url: str, logs: Path, demo_mode: bool = True) -> Iterator[str]:
    """`labsearch ui` on a free port against `api_url`; yields the UI's URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = _clean_env(LABSEARCH_API_URL=api_url, LABSEARCH_UI_DEMO="1" if demo_mode else "0")
    command = [sys.executable, "-m", "shell.cli", "ui", "--port", str(port)]
    with serve(command, env, f"{url}/_stcore/health", logs / f"ui-{port}.log"):
        yield url
