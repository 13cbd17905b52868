"""`labsearch ui`: run the Streamlit app in a child process and return its exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")


def command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]


def run_ui(port: int) -> int:
    """Serve the UI on `port` until it stops (Ctrl-C stops it cleanly)."""
    process = subprocess.Popen(command(port))
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        return process.wait(timeout=10)
