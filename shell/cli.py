"""The `labsearch` command line.

Without `--as-user` the CLI acts as the local operator and sees everything; with it, exactly what
that user may see. `--json` prints the same response models the API returns.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from labsearch.access import Access
from labsearch.errors import ConfigError, LabsearchError
from labsearch.settings import Settings, get_settings

# The API's models and the filter grammar are imported by the commands that use them: an
# unchanged `labsearch index` re-run finishes in 0.5 s, and they were 30 ms of it.
if TYPE_CHECKING:
    from labsearch.models import Answer, SearchResponse

app = typer.Typer(
    name="labsearch",
    help="Conversational semantic search for lab data: index sources, search, ask, serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

AsUser = Annotated[
    str | None,
    typer.Option(
        "--as-user", help="Act as this user (see `users` in settings) instead of operator."
    ),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON (the API's response model).")]


def _fail(error: Exception, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
    raise typer.Exit(code)


def _settings() -> Settings:
    """The settings, or a clear error and exit 2 when one is wrong (e.g. an empty secret)."""
    try:
        return get_settings()
    except LabsearchError as error:
        _fail(error)
        raise  # unreachable: _fail exits


def _access(settings: Settings, user: str | None) -> Access:
    if user is None:
        return Access.as_operator()
    if user not in settings.users:
        known = ", ".join(sorted(settings.users)) or "none configured"
        raise ConfigError(f"unknown user {user!r} (known users: {known}); add it under [users]")
    return Access.for_groups(settings.groups_of(user), user=user)


def _service(settings: Settings):
    from retriever.service import SearchService

    return SearchService.from_settings(settings)


@app.command()
def index(
    sources: Annotated[
        list[str], typer.Argument(help="Source URIs; see `labsearch sources --kinds`.")
    ] = None,  # noqa: E501
    all_revisions: Annotated[
        bool, typer.Option("--all-revisions", help="Quilt: index every package revision.")
    ] = False,
    rebuild: Annotated[
        bool,
        typer.Option("--rebuild", help="Drop the index and rebuild it (e.g. for a new model)."),
    ] = False,
) -> None:
    """Index sources (incrementally: unchanged assets are skipped, vanished ones deleted)."""
    from indexer.jobs import run_index

    settings = _settings()
    try:
        reports = run_index(settings, sources or [], all_revisions=all_revisions, rebuild=rebuild)
    except LabsearchError as error:
        _fail(error)
    failed = False
    for report in reports:
        colour = "green" if report.ok else "red"
        out.print(f"[{colour}]{escape(report.source)}[/]: {report.summary()}", highlight=False)
        for line in report.errors[:50]:
            out.print(f"  [red]-[/] {escape(line)}", highlight=False)
        if len(report.errors) > 50:
            out.print(f"  ... {len(report.errors) - 50} more (see `labsearch sources`)")
        failed = failed or not report.ok
    raise typer.Exit(1 if failed else 0)


@app.command("sources")
def list_sources(
    kinds: Annotated[bool, typer.Option("--kinds", help="List the kinds of source URI.")] = False,
    as_json: JsonOut = False,
) -> None:
    """Indexed sources: last sync, counts and errors."""
    from indexer.sources import SCHEMES
    from indexer.state import SyncState

    if kinds:
        for scheme, help_text in SCHEMES.items():
            out.print(f"[bold]{scheme}[/]  {help_text}", highlight=False)
        return
    state = SyncState(_settings().state_path)
    reports = state.all()
    state.close()
    if as_json:
        print(json.dumps([vars(r) for r in reports], indent=2))
        return
    table = Table("source", "last sync", "added", "updated", "unchanged", "deleted", "failed")
    for r in reports:
        table.add_row(
            r.source,
            r.finished_at or "-",
            *map(str, (r.added, r.updated, r.unchanged, r.deleted, r.failed)),
        )
    out.print(table)
    for r in reports:
        for line in r.errors[:10]:
            out.print(f"[red]{escape(line)}[/]", highlight=False)


@app.command()
def remove(
    source: Annotated[str, typer.Argument(help="Source URI to remove from the index.")],
) -> None:
    """Delete every asset a source produced and forget the source."""
    from indexer.jobs import remove_source

    try:
        removed = remove_source(_settings(), source)
    except LabsearchError as error:
        _fail(error)
    out.print(f"removed {removed} assets of {source}", markup=False)


access_app = typer.Typer(
    help="Access rules: apply changed rules to the stored assets.", no_args_is_help=True
)
app.add_typer(access_app, name="access")


@access_app.command("apply")
def access_apply() -> None:
    """Apply the configured access rules to every stored asset, without reading sources or
    embedding (`labsearch index` also does this first whenever the rules changed)."""
    from indexer.jobs import apply_rules

    try:
        report = apply_rules(_settings())
    except LabsearchError as error:
        _fail(error)
    if report is not None:
        summary = f"access rules applied: {report.summary()}"
        out.print(summary, markup=False, highlight=False, soft_wrap=True)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Free text; identifiers in it match exactly.")],
    filter_: Annotated[
        list[str],
        typer.Option("--filter", "-f", help="key=value, key>=value, key=a,b, key? (repeatable)"),
    ] = None,
    facet: Annotated[list[str], typer.Option("--facet", help="Field to count values of.")] = None,
    size: Annotated[int, typer.Option("--size", "-k", min=1, max=100)] = 10,
    mode: Annotated[str, typer.Option(help="hybrid | bm25 | dense")] = "hybrid",
    as_user: AsUser = None,
    as_json: JsonOut = False,
) -> None:
    """Ranked search over the assets you may see."""
    from labsearch import filters as filter_grammar
    from labsearch.models import SearchRequestModel

    settings = _settings()
    try:
        request = SearchRequestModel(
            query=query,
            filters=filter_grammar.from_cli(filter_ or []),
            facets=facet or [],
            size=size,
            mode=mode,
        )
        service = _service(settings)
        response = service.search(request, _access(settings, as_user))
    except LabsearchError as error:
        _fail(error)
    if as_json:
        print(response.model_dump_json(indent=2))
        return
    print_search(response)


def print_search(response: SearchResponse) -> None:
    if not response.hits:
        out.print("no results")
    for rank, hit in enumerate(response.hits, start=1):
        badge = " [green]exact[/]" if hit.exact else ""
        level = f" {hit.data_level.value}" if hit.data_level else ""
        out.print(
            f"{rank:>2}. [bold]{escape(hit.title)}[/]{badge}  "
            f"({hit.kind.value}{level}, {hit.score:.4f})",
            highlight=False,
        )
        lines = [f"id: {hit.id}", hit.links.s3_uri, hit.links.catalog_url, hit.links.eln_url]
        lines += [hit.links.file_url, *(f"… {h}" for h in hit.highlights[:1])]
        for line in filter(None, lines):
            out.print(f"    {line}", markup=False, highlight=False)
    for field, counts in response.facets.items():
        values = ", ".join(f"{v} ({n})" for v, n in counts.items())
        out.print(f"{field}: {values}", markup=False, highlight=False)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="e.g. 'which runs used sample LIV-0042?'")],
    as_user: AsUser = None,
    as_json: JsonOut = False,
) -> None:
    """Answer a question from the index, with citations. Extractive (no LLM) unless
    LABSEARCH_LLM names a model, as for the API: then every sentence is checked against the
    assets it cites."""
    settings = _settings()
    try:
        answer = _answer(settings, question, _access(settings, as_user))
    except LabsearchError as error:
        _fail(error)
    if as_json:
        print(answer.model_dump_json(indent=2))
        return
    print_answer(answer)


def _answer(settings: Settings, question: str, access: Access) -> Answer:
    """The answer the API would give: the same answerer, with the configured model if any."""
    service = _service(settings)
    if settings.llm == "extractive":
        return service.answer(question, access)
    from chat_api.answering import Answerer, Outcome, Turn
    from chat_api.llm import build_llm

    return Answerer(service, settings, build_llm(settings)).answer(
        question, access, Turn(), Outcome()
    )


def print_answer(answer: Answer) -> None:
    out.print(answer.text, markup=False, highlight=False)
    if answer.result is not None:
        status = "complete" if answer.result.complete else "incomplete"
        out.print(f"\n[bold]{answer.result.count}[/] members ({status} result)")
    grounding = answer.grounding
    if grounding is not None and grounding.removed:
        out.print(
            f"\n({len(grounding.removed)} of {grounding.sentences} generated sentences removed: "
            "their cited assets do not support them)",
            markup=False,
            highlight=False,
        )
    if answer.citations:
        out.print("\n[bold]Sources[/]")
    for number, c in enumerate(answer.citations, start=1):
        package = f"{c.package}@{c.top_hash[:12]}" if c.package and c.top_hash else c.package
        out.print(f"[{number}] {c.title} ({c.asset_id})", markup=False, highlight=False)
        for link in (package, c.logical_key, c.s3_uri or c.file_url, c.catalog_url, c.eln_url):
            if link:
                out.print(f"    {link}", markup=False, highlight=False)


@app.command()
def verify(
    asset_id: Annotated[str, typer.Argument(help="Id of a cited Quilt package entry.")],
    file: Annotated[Path, typer.Argument(help="The downloaded file to check.", exists=True)],
    as_user: AsUser = None,
) -> None:
    """Check a downloaded file against the entry hash of the cited package revision."""
    settings = _settings()
    try:
        asset, hash_type = _service(settings).verify(asset_id, file, _access(settings, as_user))
    except LabsearchError as error:
        _fail(error)
    prov = asset.provenance
    cited = f"{prov.package}@{(prov.top_hash or '')[:12]}:{prov.logical_key}"
    if hash_type is None:
        err.print(
            f"[bold red]MISMATCH[/] {escape(str(file))} is not {escape(cited)}", highlight=False
        )
        raise typer.Exit(1)
    out.print(f"OK {file} matches {cited} ({hash_type})", markup=False, highlight=False)


Queues = Annotated[
    list[str] | None,
    typer.Option(
        "--queue",
        help="SQS queue URL with the sources' S3 event notifications (repeatable; "
        "default: LABSEARCH_WATCH_QUEUES).",
    ),
]


def _watch_options(settings: Settings, queues: list[str] | None, catch_up: bool):
    from indexer.watch.loop import WatchOptions

    return WatchOptions(
        queues=list(queues or settings.watch_queues),
        catch_up=catch_up,
        poll_seconds=settings.watch_poll_seconds,
    )


def _log_to_stderr() -> None:
    import logging

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )


@app.command()
def watch(
    sources: Annotated[
        list[str] | None,
        typer.Argument(help="Source URIs to keep current (default: every indexed source)."),
    ] = None,
    queues: Queues = None,
    catch_up: Annotated[
        bool,
        typer.Option(help="Sync every watched source at start (what changed while stopped)."),
    ] = True,
) -> None:
    """Keep the index current: S3 events from SQS, file-system changes, eLabFTW polls."""
    import signal
    import threading

    from indexer.jobs import run_watch

    settings = _settings()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    _log_to_stderr()
    try:
        run_watch(settings, sources or [], _watch_options(settings, queues, catch_up), stop)
    except LabsearchError as error:
        _fail(error)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the HTTP API.")] = 8000,
    watch: Annotated[
        bool, typer.Option("--watch", help="Also keep the indexed sources current (see watch).")
    ] = False,
    queues: Queues = None,
) -> None:
    """Run the HTTP API (chat, search, assets)."""
    import threading

    from chat_api.app import run

    settings = _settings()
    from indexer.jobs import apply_changed_rules
    from indexer.regroup import rules_changed

    if rules_changed(settings):  # who sees what follows the configuration the server reads
        apply_changed_rules(settings)
    if watch:
        from indexer.jobs import run_watch

        stop = threading.Event()  # the watcher is a daemon thread: it ends with the server
        options = _watch_options(settings, queues, catch_up=True)

        def watch_beside_the_server() -> None:
            try:
                run_watch(settings, [], options, stop)
            except LabsearchError as error:  # the API goes on serving what is indexed
                err.print(f"[bold red]watch stopped:[/] {escape(str(error))}", highlight=False)

        _log_to_stderr()
        threading.Thread(
            target=watch_beside_the_server, name="labsearch-watch", daemon=True
        ).start()
    run(settings, host=host, port=port)


@app.command()
def mcp(
    as_user: Annotated[
        str | None,
        typer.Option("--as-user", help="Serve as this user (see `users`): sees what it may."),
    ] = None,
    operator: Annotated[
        bool, typer.Option("--operator", help="Serve as the local operator: sees everything.")
    ] = False,
    api_url: Annotated[
        str | None,
        typer.Option(help="The API's URL, to make download and preview links absolute."),
    ] = None,
) -> None:
    """Serve MCP over stdio for an AI assistant, as one user (`--as-user`) or `--operator`.

    Over HTTP the API serves MCP at /mcp with its own sign-in; see `serve`."""
    if (as_user is None) == (not operator):
        _fail(
            ConfigError(
                "say whom the MCP server acts for: --as-user NAME (sees what that user may) or "
                "--operator (sees everything); exactly one"
            )
        )
    from chat_api.mcp_server import run_stdio
    from chat_api.state import ApiState

    settings = get_settings()
    try:
        access = _access(settings, as_user)
    except LabsearchError as error:
        _fail(error)
    _log_to_stderr()  # stdout carries the protocol
    run_stdio(ApiState(settings), access, api_url)


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="Port of the Streamlit UI.")] = 8501,
) -> None:
    """Run the Streamlit chat UI against the API at LABSEARCH_API_URL."""
    from ui.launch import run_ui

    raise typer.Exit(run_ui(port=port))


@app.command()
def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where the demo lab and its index live.")
    ] = Path(".labsearch/demo"),
    runs: Annotated[int, typer.Option(help="Number of sequencing runs to generate.")] = 300,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same lab).")] = 7,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Stop after indexing.")] = False,
    port: Annotated[int, typer.Option(help="API port.")] = 8000,
    ui_port: Annotated[int, typer.Option(help="UI port.")] = 8501,
) -> None:
    """Build a realistic demo lab, index it, and serve the API and UI on it."""
    from shell.demo.run import run_demo

    try:
        code = run_demo(
            directory, runs=runs, seed=seed, serve=not no_serve, port=port, ui_port=ui_port
        )
    except LabsearchError as error:
        _fail(error)
    raise typer.Exit(code)


from eval.cli import app as eval_app  # noqa: E402 - sub-app mounted below the core commands

app.add_typer(eval_app, name="eval", help="Retrieval benchmarks and answer-quality metrics.")


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())


if __name__ == "__main__":  # `python -m shell.cli`, used by `labsearch demo` for the UI
    main()
