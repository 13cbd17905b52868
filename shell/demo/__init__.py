"""The demo lab: small but real files in the formats labs keep, and the corpus built from them.

`shell.demo.files` writes one file per call, deterministically for a given `random.Random`.
"""
