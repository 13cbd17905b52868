"""Exact answers to evaluation questions, computed from raw public lab-metadata tables.

Plain Python over the files that eval/real/extract.py writes (NCBI SRA RunInfo CSV, SDRF-Proteomics
TSV, ISA-Tab study directories). It imports nothing from the labsearch code: the truth must not
share a parser with the system it grades.

Data directory: the `data_dir` argument, else env LABSEARCH_REALDATA, else
$LABSEARCH_SHARED/datasets/realdata (LABSEARCH_SHARED defaults to ../shared).

Natural keys of answers:
  run:<Run accession>                SRA/ENA run (SRR…, ERR…)
  sample:<BioSample accession>       SRA/ENA sample of a run (SAMN…, SAMEA…); sample_aliases()
                                     gives the other names of the same row (SRS/ERS, SampleName)
  sample:<Source Name>               SDRF sample (`source name`, as written)
  sample:<Sample Name>               ISA-Tab sample (assay `Sample Name`, as written)
  file:<data file name>              SDRF `comment[data file]`; ISA-Tab every assay column whose
                                     header contains "Data File" (raw, array, FID, derived …)
Counts are len() of the answer set.

Spec types (dicts with "type"):
  runs_of_sample        {"sample": SampleName or SRS/ERS accession}
  runs_of_biosample     {"biosample": SAMN…/SAMEA…}
  runs_of_species       {"species": "Zea mays"} or {"genus": "Zea"}
  runs_of_instrument    {"instrument": Model as in the table, e.g. "Illumina HiSeq 2000"}
  runs_of_experiment_with_constraint  {"experiment": SRX…/ERX…, "constraints": {...}}
  samples_of_run        {"run": SRR…} (SRA) or {"file": name} (SDRF / ISA-Tab)
  files_of_sample_in_study  {"study": PXD… or ISA Study Identifier, "sample": name}
  count                 {"of": <any spec above>}
  negated_<base>        a base run type plus "exclude": {...} (e.g. negated_runs_of_sample)
  other_user_id         {"ask": <spec>, "owner": "<user holding the id>"}
Every run spec also takes optional "study" (BioProject / SRAStudy), "constraints" (all must
match) and "exclude" (a row matching all of it is dropped). Constraint keys: instrument, strategy,
layout, platform, species, genus, sample, biosample, experiment, run, study. Matching is exact on
the table value, ignoring case and surrounding/multiple blanks.
"""

from __future__ import annotations

import csv
import io
import os
import re
from functools import lru_cache
from pathlib import Path

# Which source files each user sees (disjoint, split by study/project). Paths are relative to
# the data directory: SRA RunInfo CSVs, SDRF files, ISA-Tab study directories.
USERS: dict[str, dict[str, list[str]]] = {
    "alice": {
        "sra": ["sra/PRJNA358298_SraRunInfo.csv", "sra/PRJEB34660_SraRunInfo.csv"],
        "sdrf": [
            "sdrf/PXD003772.sdrf.tsv",
            "sdrf/PXD004684.sdrf.tsv",
            "sdrf/PXD019515Hela.sdrf.tsv",
        ],
        "isatab": ["isatab/BII-S-3", "isatab/BII-S-4"],
    },
    "bob": {
        "sra": ["sra/PRJNA248394_MMETSP_subset_SraRunInfo.csv", "sra/PRJNA555093_SraRunInfo.csv"],
        "sdrf": ["sdrf/PXD005969.sdrf.tsv", "sdrf/PXD008934.sdrf.tsv", "sdrf/PXD013868.sdrf.tsv"],
        "isatab": ["isatab/BII-S-6", "isatab/BII-S-7"],
    },
}

SRA_FIELDS: dict[str, tuple[str, ...]] = {
    "run": ("Run",),
    "experiment": ("Experiment",),
    "sample": ("SampleName", "Sample"),
    "biosample": ("BioSample",),
    "species": ("ScientificName",),
    "instrument": ("Model",),
    "strategy": ("LibraryStrategy",),
    "layout": ("LibraryLayout",),
    "platform": ("Platform",),
    "study": ("BioProject", "SRAStudy"),
}
RUN_TYPES = {
    "runs_of_sample": "sample",
    "runs_of_biosample": "biosample",
    "runs_of_species": None,  # species or genus
    "runs_of_instrument": "instrument",
    "runs_of_experiment_with_constraint": "experiment",
}


def norm(value: str | None) -> str:
    return re.sub(r"\s+", " ", (value or "").strip()).casefold()


def data_dir(path: str | os.PathLike | None = None) -> Path:
    if path or os.environ.get("LABSEARCH_REALDATA"):
        return Path(path or os.environ["LABSEARCH_REALDATA"])
    return Path(os.environ.get("LABSEARCH_SHARED", "../shared")) / "datasets" / "realdata"


def _read_text(path: Path) -> str:
    text = path.read_text(encoding="utf-8-sig")
    return text.replace("\r\n", "\n").replace("\r", "\n")


# ---------------------------------------------------------------- loaders


@lru_cache(maxsize=64)
def load_sra(path: Path) -> tuple[dict[str, str], ...]:
    rows = []
    for row in csv.DictReader(io.StringIO(_read_text(path))):
        run = (row.get("Run") or "").strip()
        if not run or run == "Run":  # blank lines, repeated headers
            continue
        rows.append({k: (v or "") for k, v in row.items() if k is not None})
    return tuple(rows)


def _col(header: list[str], *names: str) -> int | None:
    low = [h.strip().casefold() for h in header]
    for name in names:
        if name in low:
            return low.index(name)
    return None


@lru_cache(maxsize=64)
def load_sdrf(path: Path) -> tuple[str, tuple[tuple[str, str], ...]]:
    """(study accession, ((source name, data file), ...)) of an SDRF file."""
    table = list(csv.reader(io.StringIO(_read_text(path)), delimiter="\t"))
    header, body = table[0], [r for r in table[1:] if any(c.strip() for c in r)]
    si, fi = _col(header, "source name"), _col(header, "comment[data file]")
    study = path.name.split(".")[0]
    m = re.match(r"(PXD\d+|PAD\d+|MTBLS\d+)", study)
    study = m.group(1) if m else study
    pairs = tuple(
        (r[si].strip(), r[fi].strip())
        for r in body
        if si is not None and fi is not None and len(r) > max(si, fi)
    )
    return study, pairs


@lru_cache(maxsize=64)
def load_isa(study_dir: Path) -> tuple[str, tuple[tuple[str, str], ...]]:
    """(Study Identifier, ((Sample Name, data file), ...)) over the study's assay tables."""
    study = study_dir.name
    for inv in sorted(study_dir.glob("i_*.txt")):
        for line in _read_text(inv).split("\n"):
            cells = next(csv.reader([line], delimiter="\t"), [])
            if cells and cells[0].strip() == "Study Identifier" and len(cells) > 1:
                study = cells[1].strip() or study
                break
    pairs = []
    for assay in sorted(study_dir.glob("a_*.txt")):
        table = list(csv.reader(io.StringIO(_read_text(assay)), delimiter="\t"))
        header = table[0]
        si = _col(header, "sample name")
        fcols = [i for i, h in enumerate(header) if "data file" in h.casefold()]
        for r in table[1:]:
            if si is None or len(r) <= si or not r[si].strip():
                continue
            for i in fcols:
                if i < len(r) and r[i].strip():
                    pairs.append((r[si].strip(), r[i].strip()))
    return study, tuple(pairs)


def user_sources(user: str, kind: str, root: Path) -> list[Path]:
    if user not in USERS:
        raise KeyError(f"unknown user {user!r}")
    return [root / p for p in USERS[user].get(kind, [])]


def sra_rows(user: str, root: Path) -> list[dict[str, str]]:
    return [row for p in user_sources(user, "sra", root) for row in load_sra(p)]


def file_links(user: str, root: Path) -> list[tuple[str, str, str]]:
    """(study, sample, file) links of a user's SDRF and ISA-Tab data."""
    out = []
    for p in user_sources(user, "sdrf", root):
        study, pairs = load_sdrf(p)
        out += [(study, s, f) for s, f in pairs]
    for p in user_sources(user, "isatab", root):
        study, pairs = load_isa(p)
        out += [(study, s, f) for s, f in pairs]
    return out


# ---------------------------------------------------------------- matching


def field_matches(row: dict[str, str], key: str, value: str) -> bool:
    if key == "genus":
        words = norm(row.get("ScientificName")).split(" ")
        return bool(words) and words[0] == norm(value)
    cols = SRA_FIELDS.get(key)
    if cols is None:
        raise KeyError(f"unknown constraint {key!r}")
    return any(norm(row.get(c)) == norm(value) for c in cols)


def row_matches(row: dict[str, str], spec: dict) -> bool:
    subject = {k: spec[k] for k in (*SRA_FIELDS, "genus") if k in spec}
    if not all(field_matches(row, k, v) for k, v in subject.items()):
        return False
    if not all(field_matches(row, k, v) for k, v in spec.get("constraints", {}).items()):
        return False
    exclude = spec.get("exclude") or {}
    return not (exclude and all(field_matches(row, k, v) for k, v in exclude.items()))


def _check_run_spec(base: str, spec: dict) -> None:
    need = RUN_TYPES[base]
    if base == "runs_of_species":
        if not ("species" in spec or "genus" in spec):
            raise ValueError("runs_of_species needs species or genus")
    elif need not in spec:
        raise ValueError(f"{base} needs {need!r}")
    if base == "runs_of_experiment_with_constraint" and not spec.get("constraints"):
        raise ValueError("runs_of_experiment_with_constraint needs constraints")


# ---------------------------------------------------------------- answers


def answer(spec: dict, user: str, root: str | os.PathLike | None = None) -> set[str]:
    """The exact answer set of `spec` as seen by `user` (natural keys)."""
    base_dir = data_dir(root)
    kind = spec["type"]
    if kind == "count":
        return answer(spec["of"], user, base_dir)
    if kind == "other_user_id":
        return answer(spec["ask"], user, base_dir)
    if kind.startswith("negated_"):
        base = kind[len("negated_") :]
        if base not in RUN_TYPES or not spec.get("exclude"):
            raise ValueError(f"{kind} needs a run base type and a non-empty exclude")
        return answer({**spec, "type": base}, user, base_dir)
    if kind in RUN_TYPES:
        _check_run_spec(kind, spec)
        return {f"run:{r['Run'].strip()}" for r in sra_rows(user, base_dir) if row_matches(r, spec)}
    if kind == "samples_of_run":
        if "run" in spec:
            return {
                f"sample:{r['BioSample'].strip()}"
                for r in sra_rows(user, base_dir)
                if norm(r["Run"]) == norm(spec["run"])
            }
        study = spec.get("study")
        return {
            f"sample:{s}"
            for st, s, f in file_links(user, base_dir)
            if norm(f) == norm(spec["file"]) and (study is None or norm(st) == norm(study))
        }
    if kind == "files_of_sample_in_study":
        return {
            f"file:{f}"
            for st, s, f in file_links(user, base_dir)
            if norm(st) == norm(spec["study"]) and norm(s) == norm(spec["sample"])
        }
    raise ValueError(f"unknown spec type {kind!r}")


def count(spec: dict, user: str, root: str | os.PathLike | None = None) -> int:
    return len(answer(spec, user, root))


def owners(spec: dict, root: str | os.PathLike | None = None) -> dict[str, set[str]]:
    """Non-empty answers of `spec` per user (which users' data hold the asked-about ids)."""
    inner = spec["ask"] if spec["type"] == "other_user_id" else spec
    out = {}
    for user in USERS:
        got = answer(inner, user, root)
        if got:
            out[user] = got
    return out


def sample_aliases(user: str, key: str, root: str | os.PathLike | None = None) -> list[str]:
    """Other natural keys naming the same SRA sample row (SRS/ERS accession, SampleName)."""
    acc = key.split(":", 1)[1]
    names: set[str] = set()
    for r in sra_rows(user, data_dir(root)):
        if norm(r["BioSample"]) == norm(acc):
            names.update(v.strip() for v in (r["Sample"], r["SampleName"]) if v.strip())
    return sorted(f"sample:{n}" for n in names if n != acc)


def main(argv: list[str] | None = None) -> None:
    import argparse
    import json

    ap = argparse.ArgumentParser(description="answer one spec from the raw tables")
    ap.add_argument("spec", help="JSON spec")
    ap.add_argument("--user", default="alice")
    ap.add_argument("--data", default=None)
    a = ap.parse_args(argv)
    print(json.dumps(sorted(answer(json.loads(a.spec), a.user, a.data))))


if __name__ == "__main__":
    main()
