"""`labsearch demo`: build the demo lab, index it on the embedded store, serve API and UI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from labsearch.errors import LabsearchError
from labsearch.settings import Settings, get_settings
from shell.demo.lab import DemoLab, build_demo_lab

console = Console(stderr=True)


def demo_settings(directory: Path, config: Path) -> Settings:
    """Settings of the demo: its own home and config, also exported for child processes."""
    os.environ["LABSEARCH_CONFIG"] = str(config.resolve())
    os.environ["LABSEARCH_HOME"] = str((directory / "home").resolve())
    os.environ.setdefault("LABSEARCH_BACKEND", "embedded")
    get_settings.cache_clear()
    return get_settings()


POINTER = Path("labsearch.toml")
POINTER_MARK = "# written by `labsearch demo`"


def remember_demo(config: Path, home: Path) -> str:
    """Leave the demo usable by every other command run from this directory: a
    `./labsearch.toml` with the demo's settings and home (commands read it when neither
    LABSEARCH_CONFIG nor LABSEARCH_HOME say otherwise). A labsearch.toml the user wrote is
    never replaced. Returns what to tell the user."""
    if POINTER.exists() and not POINTER.read_text().startswith(POINTER_MARK):
        return (
            f"(./labsearch.toml is yours, so it was left alone: run them with "
            f"LABSEARCH_CONFIG={config.resolve()} LABSEARCH_HOME={home})"
        )
    body = config.read_text()
    POINTER.write_text(
        f"{POINTER_MARK}; delete it to stop using the demo from this directory\n"
        f"home = {json.dumps(str(home))}\n{body}"
    )
    return "(./labsearch.toml now points the commands run here at the demo; delete it to stop)"


def build_or_reuse(directory: Path, *, runs: int, seed: int) -> DemoLab:
    """The demo lab for (seed, runs), built once and reused on later runs."""
    root = directory / "lab"
    try:
        lab = DemoLab.load(root)
    except LabsearchError:
        lab = None
    if lab is not None and (lab.seed, lab.runs) == (seed, runs):
        return lab
    console.print(f"building the demo lab ({runs} sequencing runs) in {root} ...")
    return build_demo_lab(root, seed=seed, runs=runs)


def run_demo(directory: Path, *, runs: int, seed: int, serve: bool, port: int, ui_port: int) -> int:
    from indexer.jobs import run_index

    directory.mkdir(parents=True, exist_ok=True)
    lab = build_or_reuse(directory, runs=runs, seed=seed)
    settings = demo_settings(directory, lab.config)
    console.print("indexing the demo lab on the embedded store ...")
    reports = run_index(settings, list(lab.sources))
    for report in reports:
        console.print(f"  {report.source}: {report.summary()}", highlight=False)
    failed = any(not r.ok for r in reports)
    pointer = remember_demo(lab.config, settings.home)
    console.print(
        "\nTry:\n"
        f"  labsearch ask 'which runs used sample {lab.example_sample}?' --as-user alice\n"
        f"  labsearch search 'dexamethasone liver RNA-seq' --as-user bob\n"
        f"  labsearch serve   (API keys demo-alice, demo-bob)\n{pointer}",
        highlight=False,
    )
    if not serve:
        return 1 if failed else 0
    return serve_api_and_ui(settings, port=port, ui_port=ui_port)


def serve_api_and_ui(settings: Settings, *, port: int, ui_port: int) -> int:
    from chat_api.app import run

    # LABSEARCH_UI_DEMO shows a user picker (alice / bob) instead of the sign-in form.
    env = dict(os.environ, LABSEARCH_API_URL=f"http://127.0.0.1:{port}", LABSEARCH_UI_DEMO="1")
    ui = subprocess.Popen(
        [sys.executable, "-m", "shell.cli", "ui", "--port", str(ui_port)], env=env
    )
    console.print(
        f"\nAPI: http://127.0.0.1:{port}/docs   UI: http://127.0.0.1:{ui_port}\n"
        "Sign in with API key demo-alice (lab A) or demo-bob (lab B). Ctrl-C stops both.",
        highlight=False,
    )
    try:
        run(settings, host="127.0.0.1", port=port)
    finally:
        ui.terminate()
        ui.wait(timeout=10)
    return 0
