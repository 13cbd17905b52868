"""Hypothesis fuzzing of every source's parser: real seed inputs (the ones the source tests use)
mutated line by line, cell by cell and value by value, and scanned. A scan may refuse the whole
input with a labsearch error, or report bad records as issues; anything else is a crash.

Examples per parser: LABSEARCH_FUZZ_EXAMPLES (default 100; `bench/fuzz.py` runs more). The
counts go to artifacts/reliability/fuzz.json for docs/reliability.md.
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from elabftw_server import API_KEY, FIXTURES, FakeElab, make_handler
from fuzzing import FUZZ, write_counts
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from test_source_eln import GOOD as ELN_RECORDS
from test_source_isatab import write_small_isatab
from test_source_rocrate import crate_graph, write_crate
from test_source_sdrf import PXD000561_HEADER, pxd_row, write_tsv
from test_source_table import SRA_HEADER, sra_row

from indexer.sources.base import Checked, SourceIssue
from indexer.sources.elabftw import ElabFTWSource
from indexer.sources.eln import ElnExportSource
from indexer.sources.isatab import IsaTabSource
from indexer.sources.quilt import QuiltSource
from indexer.sources.ro_crate import RoCrateSource
from indexer.sources.sdrf import SdrfSource
from indexer.sources.table import TableSource
from labsearch.errors import LabsearchError
from labsearch.schema import Asset
from labsearch.settings import Settings

COUNTS: dict[str, Counter[str]] = {}

# Text a cell or a value may become: the characters parsers trip on, numbers past 64 bits,
# dates that are not, and plain noise.
NASTY = st.sampled_from(
    [
        "",
        " ",
        "\t",
        '"',
        '""',
        "'",
        "\\",
        "\x00",
        "\ufeff",
        "\r",
        "\u2028",
        "NaN",
        "-inf",
        "1e309",
        str(2**64),
        "-0",
        "0000-00-00",
        "2024-02-30",
        "9999-12-31T25:61:61Z",
        "[",
        "{}",
        "null",
        "#",
        "%00",
        "../../etc/passwd",
        "s3://",
        "quilt+s3://",
        "é" * 300,
        "x" * 5000,
    ]
)
CELL = st.one_of(NASTY, st.text(max_size=40), st.integers().map(str), st.floats().map(str))
JSON_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    CELL,
)
JSON_VALUE = st.recursive(
    JSON_SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def mutated_lines(draw: Any, text: str, sep: str) -> str:
    """`text` with lines deleted, duplicated, swapped, cut, or cells replaced."""
    lines = text.split("\n")
    for _ in range(draw(st.integers(1, 6))):
        if not lines:
            lines = [""]
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["cell", "cell", "cell", "delete", "dup", "swap", "cut", "add"]))
        if op == "cell":
            cells = lines[i].split(sep)
            cells[draw(st.integers(0, len(cells) - 1))] = draw(CELL)
            lines[i] = sep.join(cells)
        elif op == "delete":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "cut":
            lines[i] = lines[i][: draw(st.integers(0, max(0, len(lines[i]))))]
        else:
            lines.insert(i, sep.join(draw(st.lists(CELL, max_size=6))))
    return "\n".join(lines)


@st.composite
def mutated_json(draw: Any, value: Any) -> Any:
    """`value` with some of its values replaced by random JSON, or keys dropped."""
    value = copy.deepcopy(value)
    for _ in range(draw(st.integers(1, 5))):
        path: list[Any] = []
        node = value
        while isinstance(node, dict | list) and node and draw(st.booleans()):
            key = draw(
                st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node)))
            )
            path.append(key)
            node = node[key]
        if not path:
            if isinstance(value, dict | list):
                continue
            return draw(JSON_VALUE)
        parent = value
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON_VALUE)
    return value


def scan(name: str, source_of: Callable[[], Any]) -> None:
    """Scan to the end; a labsearch error refuses the input, anything else fails the test."""
    counts = COUNTS.setdefault(name, Counter())
    counts["examples"] += 1
    try:
        items = list(source_of().scan())
    except LabsearchError:
        counts["refused"] += 1
        return
    except Exception:
        counts["crashes"] += 1
        raise
    for item in items:
        assert isinstance(item, Asset | SourceIssue | Checked), item
    counts["assets"] += sum(isinstance(i, Asset) for i in items)
    counts["issues"] += sum(isinstance(i, SourceIssue) for i in items)


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    write_counts(COUNTS, {"crashes": 0})


@pytest.fixture
def workdir() -> Iterator[Callable[[], Path]]:
    """A fresh directory per example (Hypothesis runs many examples in one test call)."""
    made: list[str] = []

    def fresh() -> Path:
        made.append(tempfile.mkdtemp(prefix="labsearch-fuzz-"))
        return Path(made[-1])

    yield fresh
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


def clean(root: Path) -> Settings:
    return Settings(
        home=root / "home", cache_dir=root / "cache", access_rules=[], public_sources=[]
    )


ELN_TEXT = "\n".join(json.dumps(record) for record in ELN_RECORDS)


@FUZZ
@given(data=st.data())
def test_eln_jsonl(workdir, data):
    root = workdir()
    if data.draw(st.booleans()):
        records = data.draw(mutated_json(ELN_RECORDS))
        text = "\n".join(json.dumps(r) for r in records)
    else:
        text = data.draw(mutated_lines(ELN_TEXT, '", "'))
    export = root / "export.jsonl"
    export.write_text(text, encoding="utf-8", errors="surrogatepass")
    scan("eln", lambda: ElnExportSource(f"eln+file://{export}", clean(root)))


SRA_CSV = "\n".join(
    [
        ",".join(SRA_HEADER),
        *(
            ",".join(
                sra_row(n, "SRS1880853", "SAMN06163390", "GSM2443292").get(h, "")
                for h in SRA_HEADER
            )
            for n in (71, 72)
        ),
    ]
)


@FUZZ
@given(text=mutated_lines(SRA_CSV, ","), sep=st.sampled_from([",", "\t"]))
def test_tables(workdir, text, sep):
    root = workdir()
    path = root / ("runs.csv" if sep == "," else "runs.tsv")
    path.write_text(text.replace(",", sep), encoding="utf-8", errors="surrogatepass")
    scan("table", lambda: TableSource(f"table+file://{path}", clean(root)))


SDRF_TSV = "\n".join(
    [
        "\t".join(PXD000561_HEADER),
        "\t".join(pxd_row("Sample 1", "Adrenal gland", 1)),
        "\t".join(pxd_row("Sample 2", "Liver", 3)),
    ]
)


@FUZZ
@given(text=mutated_lines(SDRF_TSV, "\t"))
def test_sdrf(workdir, text):
    root = workdir()
    path = write_tsv(root / "PXD000561.sdrf.tsv", [], [])
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    scan("sdrf", lambda: SdrfSource(f"sdrf+file://{path}", clean(root)))


@FUZZ
@given(data=st.data())
def test_ro_crate(workdir, data):
    root = workdir() / "crate"
    write_crate(root, data.draw(mutated_json(crate_graph())))
    if data.draw(st.integers(0, 4)) == 0:  # now and then, the document's text itself
        document = root / "ro-crate-metadata.json"
        text = data.draw(mutated_lines(document.read_text(), ":"))
        document.write_text(text, encoding="utf-8", errors="surrogatepass")
    scan("rocrate", lambda: RoCrateSource(f"rocrate+file://{root}", clean(root.parent)))


@pytest.fixture(scope="module")
def isatab_seed(tmp_path_factory) -> Path:
    return write_small_isatab(tmp_path_factory.mktemp("isatab-seed") / "study")


@FUZZ
@given(data=st.data())
def test_isatab(workdir, isatab_seed, data):
    root = workdir() / "study"
    shutil.copytree(isatab_seed, root)
    files = sorted(p.name for p in root.iterdir() if p.suffix == ".txt")
    for name in data.draw(st.lists(st.sampled_from(files), min_size=1, max_size=3, unique=True)):
        path = root / name
        text = data.draw(mutated_lines(path.read_text(encoding="utf-8"), "\t"))
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    scan("isatab", lambda: IsaTabSource(f"isatab+file://{root}", clean(root.parent)))


@pytest.fixture(scope="module")
def quilt_seed(tmp_path_factory) -> tuple[Path, str]:
    """A local registry with one package of two entries; returns (registry, top hash)."""
    import quilt3

    root = tmp_path_factory.mktemp("quilt-seed")
    (root / "files").mkdir()
    (root / "files" / "reads.fastq").write_text("@r1\nACGT\n+\nIIII\n")
    (root / "files" / "samples.csv").write_text("sample_id,tissue\nLIV-0042,liver\n")
    package = quilt3.Package()
    package.set("fastq/reads.fastq", str(root / "files" / "reads.fastq"), meta={"sample": "L-1"})
    package.set("samplesheet.csv", str(root / "files" / "samples.csv"))
    package.set_meta({"run_id": "RUN-1", "samples": ["LIV-0042"], "groups": ["lab-a"]})
    registry = root / "registry"
    top_hash = package.build("lab-a/run-1", registry=registry.as_uri(), message="seed")
    return registry, top_hash


@FUZZ
@given(data=st.data())
def test_quilt_manifests(workdir, quilt_seed, data):
    seed, top_hash = quilt_seed
    root = workdir()
    registry = root / "registry"
    shutil.copytree(seed, registry)
    manifest = registry / ".quilt" / "packages" / top_hash
    lines = manifest.read_text(encoding="utf-8").splitlines()
    if data.draw(st.booleans()):
        records = [json.loads(line) for line in lines]
        text = "\n".join(json.dumps(r) for r in data.draw(mutated_json(records)))
    else:
        text = data.draw(mutated_lines("\n".join(lines), ", "))
    manifest.write_text(text, encoding="utf-8", errors="surrogatepass")
    scan("quilt", lambda: QuiltSource(f"quilt+{registry.as_uri()}", clean(root)))


@pytest.fixture(scope="module")
def elab_server() -> Iterator[tuple[str, FakeElab]]:
    seeds = {
        name: json.loads((FIXTURES / f"{name}.json").read_text())
        for name in ("experiments", "items")
    }
    state = FakeElab(copy.deepcopy(seeds))
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    state.seeds = seeds  # type: ignore[attr-defined]
    yield f"elabftw+http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@FUZZ
@given(data=st.data())
def test_elabftw_responses(workdir, elab_server, data):
    uri, state = elab_server
    root = workdir()
    for name, entities in state.seeds.items():  # type: ignore[attr-defined]
        mutated = data.draw(mutated_json(entities))
        # The server pages and filters lists of objects; anything else is served as is.
        state.entities[name] = mutated if isinstance(mutated, list) else entities
    config = clean(root).model_copy(update={"elabftw_api_key": SecretStr(API_KEY)})
    scan("elabftw", lambda: ElabFTWSource(uri, config, page_size=2))
