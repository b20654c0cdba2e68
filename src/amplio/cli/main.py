"""The ``amplio`` command: a thin layer over the Python API.

Every command parses its options, calls one library function and prints the result; errors a
user can cause print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from amplio.errors import AmplioError

F = TypeVar("F", bound=Callable[..., Any])
EXIT_BAD_INPUT = 2


def domain_errors(func: F) -> F:
    """Turn ``AmplioError`` into a one-line message and exit status 2.

    When the error names the input that was wrong (``field``) and this command has an option or
    argument for it, the line ends with where to fix it ("(option --reference-text-column)").
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AmplioError as exc:
            click.echo(f"amplio: error: {exc}{_where(exc.field)}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except Exception as exc:
            # A disk that fills or a file damaged past what opening checks fails inside DuckDB,
            # anywhere in a command; that is the user's environment, not a bug to trace.
            from amplio.workspace.store import storage_error

            failure = storage_error(exc)
            if failure is None:
                raise
            click.echo(f"amplio: error: {failure}", err=True)
            sys.exit(EXIT_BAD_INPUT)

    return wrapper  # type: ignore[return-value]


def _where(field: str | None) -> str:
    """Where this command takes ``field``: its option's flag or its argument's name."""
    context = click.get_current_context(silent=True)
    if field is None or context is None:
        return ""
    for param in context.command.params:
        if param.name == field:
            if isinstance(param, click.Option):
                return f" (option {max(param.opts, key=len)})"
            return f" (argument {param.human_readable_name})"
    return ""


def emit(data: Any, as_json: bool, human: Callable[[Any], str]) -> None:
    """Print ``data`` as JSON (for scripts) or through ``human`` (for people)."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str) if as_json else human(data))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="amplio")
def cli() -> None:
    """Amplio: see a text dataset as a map, find where it is thin, and fill the gaps."""


@cli.command("open")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--text-col", help="Column holding the texts (default: the string column with the longest median length).")
@click.option("--label-col", help="Column of labels for colouring, or 'auto' to pick a low-cardinality one.")
@click.option("--workspace", "workspace", type=click.Path(path_type=Path),
              help="Workspace folder (default: <input stem>.amplio in the working directory).")
@click.option("--model", help="Encoder: a sentence-transformers name or local path (default all-MiniLM-L6-v2, offline).")
@click.option("--seed", default=0, show_default=True, help="Seed for the map and clusters.")
@click.option("--vectors", "vectors", metavar="COLUMN|FILE",
              help="Vectors made elsewhere, so the rows are not embedded here: a column of SOURCE "
                   "holding a list of numbers per row, a .npy file (one row per input row, in "
                   "order) or a Parquet file of id + vector (what `amplio embed` writes).")
@click.option("--encoder", "vectors_encoder", metavar="[KIND:]MODEL",
              help="The encoder that made --vectors (e.g. all-MiniLM-L6-v2); new text (candidates, "
                   "edits, added rows) is embedded by it. A file from `amplio embed` names it itself.")
@click.option("--id-col", "id_col",
              help="Column lining a Parquet --vectors file up with SOURCE's rows (default: the file's "
                   "own id column; `row` means SOURCE's row numbers, from 0).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@domain_errors
def open_command(source: Path, text_col: str | None, label_col: str | None, workspace: Path | None,
                 model: str | None, seed: int, vectors: str | None, vectors_encoder: str | None,
                 id_col: str | None, as_json: bool) -> None:
    """Open SOURCE (CSV, TSV, JSON, JSONL, Parquet, TXT or a datasets folder) as a workspace.

    Embeds every row (or takes --vectors made elsewhere), fits the 2-D map and clusters, and
    stores it all in a DuckDB workspace. Re-opening adds only rows the workspace does not hold yet.
    """
    import warnings

    import amplio
    from amplio.progress import TqdmProgress
    from amplio.workspace.build import EncoderUnavailableWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EncoderUnavailableWarning)
        ws = amplio.open(source, text_col=text_col, label_col=label_col, workspace=workspace,
                         model=model, seed=seed, progress=TqdmProgress(), vectors=vectors,
                         vectors_encoder=vectors_encoder, id_col=id_col)
    with ws:
        if vectors is not None:
            click.echo(f"amplio: note: vectors from {ws.meta.get('vectors_source') or vectors}, made by "
                       f"{ws.meta['encoder']!r}; no given row was embedded", err=True)
        for warning in caught:
            if issubclass(warning.category, EncoderUnavailableWarning):
                click.echo(f"amplio: note: {warning.message}", err=True)
            else:
                warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
        emit(ws.info(), as_json, format_info)


@cli.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="The Parquet file to write (id, text_hash, vector; the encoder in its metadata).")
@click.option("--text-col", help="Column holding the texts (default: detected, as by `open`).")
@click.option("--id-col", "id_col",
              help="Column of unique row ids to write beside each vector (default: `row`, SOURCE's "
                   "row numbers from 0).")
@click.option("--encoder", "encoder", metavar="[KIND:]MODEL",
              help="Encoder to embed with (default: the configured one, all-MiniLM-L6-v2).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: this process. ray: a Ray Data map_batches job, one encoder per actor.")
@click.option("--address", "address",
              help="Ray cluster to run on (ray://HEAD:10001, or `auto` on a cluster node); default: "
                   "start a local Ray instance for the job.")
@click.option("--concurrency", type=int, help="Encoder actors for --engine ray (default: one per CPU of the cluster).")
@click.option("--batch-size", "batch_size", type=int, help="Texts per encoder batch (default 64).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@domain_errors
def embed(source: Path, output: Path, text_col: str | None, id_col: str | None, encoder: str | None,
          engine: str, address: str | None, concurrency: int | None, batch_size: int | None,
          as_json: bool) -> None:
    """Embed SOURCE's texts once and write id + vector to a Parquet file, for
    `amplio open SOURCE --vectors FILE` (here or on another machine).

    Each distinct text is embedded once; every row with text gets a vector.
    """
    from amplio.engines.embed import embed_file
    from amplio.progress import TqdmProgress

    result = embed_file(source, output, text_col=text_col, id_col=id_col, encoder=encoder,
                        engine=engine, address=address, concurrency=concurrency,  # type: ignore[arg-type]
                        batch_size=batch_size, progress=TqdmProgress())
    emit(result.to_dict(), as_json, lambda r: (
        f"wrote {r['path']}: {r['rows']:,} rows ({r['texts']:,} distinct texts), {r['dim']}-d, "
        f"encoder {r['encoder']}, engine {r['engine']}, {r['seconds']['total']:.1f} s "
        f"({r['rows_per_s']:,.0f} rows/s)"))


@cli.command()
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON (keys: rows, original, augmented, accepted, labels, ...).")
@domain_errors
def info(workspace: Path, as_json: bool) -> None:
    """Summarise WORKSPACE: rows by origin and status, columns, encoder, labels."""
    import amplio

    with amplio.load(workspace, read_only=True) as ws:
        emit(ws.info(), as_json, format_info)


@cli.command()
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option("--format", "fmt", default="csv", show_default=True,
              help="csv, jsonl, parquet, hf (a datasets folder), pyrit, promptfoo or garak.")
@click.option("--status", default="accepted", show_default=True,
              type=click.Choice(["accepted", "all", "candidate", "rejected"]),
              help="Which rows: accepted (originals and accepted new rows) or all.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="File (or folder for hf) to write.")
@domain_errors
def export(workspace: Path, fmt: str, status: str, output: Path) -> None:
    """Export WORKSPACE's rows with their provenance."""
    import amplio

    with amplio.load(workspace, read_only=True) as ws:
        path = ws.export(output, fmt, status=status)
        click.echo(f"wrote {path}")


def format_info(info: dict[str, Any]) -> str:
    lines = [
        f"workspace   {info['path']}",
        f"rows        {info['rows']} ({info['original']} original, {info['augmented']} augmented, "
        f"{info['manual']} manual)",
        f"status      {info['accepted']} accepted, {info['candidates']} candidates, {info['rejected']} rejected",
        f"text column {info['text_column']}" + (f"   label column {info['label_column']}" if info['label_column'] else ""),
        f"encoder     {info['encoder']} ({info['dim']}-d)",
        f"skipped     {info['skipped_empty']} empty texts, {info['duplicates_folded']} duplicates folded",
        f"clusters    {info['clusters']}",
    ]
    if info.get("concepts"):
        c = info["concepts"]
        lines.append(f"concepts    {c['n_features']} features, {c['fve']:.1%} variance explained, "
                     f"{c['dead_share']:.1%} dead")
    if info["labels"]:
        top = list(info["labels"].items())[:10]
        more = len(info["labels"]) - len(top)
        lines.append("labels      " + ", ".join(f"{k} ({v})" for k, v in top) + (f", +{more} more" if more > 0 else ""))
    return "\n".join(lines)


def main() -> None:
    """Console-script entry point."""
    from amplio.cli import commands  # noqa: F401  (registers the remaining commands)

    cli(prog_name="amplio")


if __name__ == "__main__":
    main()
