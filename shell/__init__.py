"""The application shell: the `labsearch` command line and the demo lab, on top of every layer.

Nothing below imports from here (import-linter checks it: see pyproject.toml).
"""
