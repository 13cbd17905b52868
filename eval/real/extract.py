"""Rebuild the real-data directory (`--out`) from public repository snapshots.

The snapshots are bare git directories under a mirror root (default /work/.mirror, one
`<owner>+<name>/repo` per repository, as the `fetch` tool leaves them). Nothing here is committed
data: this script only copies whole files, or whole data rows of a table, out of a pinned commit.
Values are never edited; the only normalisation is the line ending (old Mac CR files become LF).

    python -m eval.real.extract --mirror DIR --out DIR

Each source: repository, commit, path inside it, destination under the output dir, and a row
selection (None = the whole file). SOURCES.md in the output dir records the same table.
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
from pathlib import Path

# Genera of the MMETSP run table (PRJNA248394) kept for bob: they hold every resequenced
# sample of the table (several runs per BioSample) and every Genome Analyzer IIx run.
MMETSP_GENERA = (
    "Akashiwo",
    "Alexandrium",
    "Amphidinium",
    "Anophryoides",
    "Aplanochytrium",
    "Bicosoecida",
    "Chaetoceros",
    "Ditylum",
    "Emiliania",
    "Florenciella",
    "Karenia",
    "Micromonas",
    "Oxyrrhis",
    "Perkinsus",
    "Prymnesium",
    "Thalassionema",
)

SOURCES: list[dict] = [
    # (a) NCBI SRA RunInfo tables
    {
        "repo": "orionzhou/rnaseq",
        "commit": "009a2554fcc5e0254cfda79ffa5c73736de4392a",
        "path": "SraRunInfo.csv",
        "dest": "sra/PRJNA358298_SraRunInfo.csv",
        "select": None,
    },
    {
        "repo": "GeertvanGeest/NCCR_SIB_lrRNAseq",
        "commit": "fd59ad6fd56d330b1be2f7f19b965f322b1681b1",
        "path": "SraRunInfo.csv",
        "dest": "sra/PRJEB34660_SraRunInfo.csv",
        "select": None,
    },
    {
        "repo": "dib-lab/dib-MMETSP",
        "commit": "2f567b96d58a5cd10652e315db6c665c6d9dd1f6",
        "path": "SraRunInfo.csv",
        "dest": "sra/PRJNA248394_MMETSP_subset_SraRunInfo.csv",
        "select": {
            "column": "ScientificName",
            "first_word_in": MMETSP_GENERA,
            "and": {"BioProject": "PRJNA248394"},
        },
    },
    {
        "repo": "lmigueel/DEG_Athaliana",
        "commit": "1522d452a2ba09d8c46daf99814bca3a89ed6a46",
        "path": "SraRunInfo.csv",
        "dest": "sra/PRJNA555093_SraRunInfo.csv",
        "select": None,
    },
]
_SDRF = [
    ("PXD003772", "PXD003772"),
    ("PXD004684", "PXD004684"),
    ("PXD019515", "PXD019515Hela"),
    ("PXD005969", "PXD005969"),
    ("PXD008934", "PXD008934"),
    ("PXD013868", "PXD013868"),
]
for _d, _f in _SDRF:  # (b) SDRF-Proteomics, whole files
    SOURCES.append(
        {
            "repo": "bigbio/proteomics-sample-metadata",
            "commit": "b83f689e4aee27e86cd4571307bddf2514d242cc",
            "path": f"examples/{_d}/{_f}.sdrf.tsv",
            "dest": f"sdrf/{_f}.sdrf.tsv",
            "select": None,
        }
    )
_ISA = {  # (c) ISA-Tab studies, whole files
    "BII-S-3": [
        "i_gilbert.txt",
        "s_BII-S-3.txt",
        "a_gilbert-assay-Gx.txt",
        "a_gilbert-assay-Tx.txt",
    ],
    "BII-S-4": ["i_Investigation.txt", "s_BII-S-4.txt", "a_genome_sequencing.txt"],
    "BII-S-6": [
        "i_Investigation.txt",
        "s_BII-S-6.txt",
        "a_griffin-assay-Mx.txt",
        "a_griffin-assay-Tx.txt",
    ],
    "BII-S-7": ["i_matteo.txt", "s_BII-S-7.txt", "a_matteo-assay-Gx.txt"],
}
for _study, _files in _ISA.items():
    for _f in _files:
        SOURCES.append(
            {
                "repo": "ISA-tools/ISAdatasets",
                "commit": "f20be4f83dc5f6f7ec419bfd634efba3177e4ae4",
                "path": f"tab/{_study}/{_f}",
                "dest": f"isatab/{_study}/{_f}",
                "select": None,
            }
        )


def git_dir(mirror: Path, repo: str) -> Path:
    base = mirror / repo.replace("/", "+") / "repo"
    return base / ".git" if (base / ".git").is_dir() else base


def show(mirror: Path, repo: str, commit: str, path: str) -> str:
    out = subprocess.run(
        ["git", f"--git-dir={git_dir(mirror, repo)}", "show", f"{commit}:{path}"],
        check=True,
        capture_output=True,
    )
    return out.stdout.decode("utf-8")


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def select_rows(text: str, sel: dict) -> str:
    """Keep the header and the whole lines whose parsed row matches `sel` (values untouched)."""
    lines = [ln for ln in normalise_newlines(text).split("\n") if ln.strip()]
    header = next(csv.reader([lines[0]]))
    kept = [lines[0]]
    for ln in lines[1:]:
        row = dict(zip(header, next(csv.reader(io.StringIO(ln))), strict=False))
        if row.get("Run") == "Run":  # repeated header lines in concatenated RunInfo files
            continue
        value = row.get(sel["column"], "")
        if value.split(" ")[0] not in sel["first_word_in"]:
            continue
        if any(row.get(k) != v for k, v in sel.get("and", {}).items()):
            continue
        kept.append(ln)
    return "\n".join(kept) + "\n"


def extract(mirror: Path, out: Path) -> list[tuple[dict, int]]:
    done = []
    for src in SOURCES:
        text = show(mirror, src["repo"], src["commit"], src["path"])
        if src["select"] is not None:
            text = select_rows(text, src["select"])
        else:
            text = normalise_newlines(text)
        dest = out / src["dest"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8")
        rows = max(0, sum(1 for ln in text.split("\n") if ln.strip()) - 1)
        done.append((src, rows))
    return done


def write_sources_md(out: Path, done: list[tuple[dict, int]]) -> None:
    lines = [
        "# Real lab metadata: sources",
        "",
        "Rebuilt by `python -m eval.real.extract` (labsearch repository,",
        "eval/real/extract.py) from public GitHub repositories. Not part of the labsearch",
        "repository; do not commit.",
        "",
        "| file | repository | commit | path | data rows | selection |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for src, rows in done:
        sel = "whole file"
        if src["select"]:
            s = src["select"]
            sel = (
                f"rows whose first word of {s['column']} is one of {len(s['first_word_in'])} "
                f"genera ({', '.join(s['first_word_in'])}) and "
                + ", ".join(f"{k} = {v}" for k, v in s.get("and", {}).items())
            )
        lines.append(
            f"| {src['dest']} | {src['repo']} | {src['commit']} | {src['path']} | {rows} | {sel} |"
        )
    lines += [
        "",
        "Line endings were normalised to LF (BII-S-7 and the MMETSP table use CR);",
        "no value was edited. Split between the evaluation users: see USERS in",
        "eval/real/truth.py.",
        "",
    ]
    (out / "SOURCES.md").write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    ap.add_argument(
        "--out", type=Path, required=True, help="where to write; then set LABSEARCH_REALDATA"
    )
    args = ap.parse_args(argv)
    done = extract(args.mirror, args.out)
    write_sources_md(args.out, done)
    for src, rows in done:
        print(f"{rows:5d}  {src['dest']}")


if __name__ == "__main__":
    main()
