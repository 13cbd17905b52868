"""`labsearch ui`: run the Streamlit app in a child process and return its exit code."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
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
        "--client.toolbarMode",
        "minimal",
    ]


def run_ui(port: int) -> int:
    """Serve the UI on `port` until it stops; Ctrl-C or SIGTERM stop Streamlit with it."""
    process = subprocess.Popen(command(port))
    previous = None
    if threading.current_thread() is threading.main_thread():
        # `labsearch demo` and tests stop us with SIGTERM: pass it on, or Streamlit is orphaned.
        previous = signal.signal(signal.SIGTERM, lambda signum, _: process.send_signal(signum))
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        return process.wait(timeout=10)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
