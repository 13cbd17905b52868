"""Documentation kept true by tests: every setting is in the README, and so are the two commands."""

from __future__ import annotations

from pathlib import Path

from labsearch.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented():
    missing = [
        f"LABSEARCH_{name.upper()}"
        for name in Settings.model_fields
        if f"LABSEARCH_{name.upper()}" not in README
    ]
    assert not missing, f"README.md does not document: {', '.join(missing)}"


def test_readme_gives_the_two_commands_ci_runs():
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert "make demo" in README and "make test" in README
    assert "make test" in ci
