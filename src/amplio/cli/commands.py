"""Review, concept, augmentation and serving commands, registered on the ``amplio`` group."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import click

from amplio.cli.main import cli, domain_errors, emit
from amplio.errors import InputError

WS = click.argument("workspace", type=click.Path(path_type=Path))
JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _load(workspace: Path, *, read_only: bool = False) -> Any:
    import amplio

    return amplio.load(workspace, read_only=read_only)


@cli.command()
@WS
@click.option("--row", "row_id", type=int, help="Show this row's top concepts and related concepts.")
@click.option("--search", "query", help="Find concepts by label or meaning.")
@click.option("--concept", "concept_id", type=int, help="Show one concept with its top rows.")
@click.option("--retrain", is_flag=True, help="Train the concept model again.")
@click.option("--seed", default=0, show_default=True)
@JSON
@domain_errors
def concepts(workspace: Path, row_id: int | None, query: str | None, concept_id: int | None,
             retrain: bool, seed: int, as_json: bool) -> None:
    """Train (once) and explore the workspace's sparse-autoencoder concepts."""
    from amplio.progress import TqdmProgress
    from amplio.workspace.concepts import ensure_concepts

    with _load(workspace) as ws:
        if retrain:
            ws.train_concepts(seed=seed, progress=TqdmProgress())
        model = ensure_concepts(ws, progress=TqdmProgress())
        if row_id is not None:
            data: Any = ws.concepts_for_row(row_id)
            emit(data, as_json, lambda d: "\n".join(
                f"{c['id']:>5}  {c['activation']:.3f}  {c['label']}   related: "
                + "; ".join(r["label"] for r in c["related"]) for c in d["concepts"]))
        elif query:
            emit(ws.search_concepts(query), as_json,
                 lambda d: "\n".join(f"{c['id']:>5}  {c['frequency']:.3f}  {c['label']}" for c in d))
        elif concept_id is not None:
            emit(ws.concept(concept_id), as_json, lambda c: f"{c['id']} {c['label']}\n" + "\n".join(
                f"  [{r['id']}] {r['text']}" for r in c["top_rows"]))
        else:
            emit(ws.info()["concepts"] or dict(model.stats), as_json,
                 lambda s: "  ".join(f"{k}={v}" for k, v in s.items()))


def _parse_concepts(values: tuple[str, ...]) -> dict[int, float]:
    weights: dict[int, float] = {}
    for value in values:
        try:
            cid, weight = value.split(":")
            weights[int(cid)] = float(weight)
        except ValueError:
            raise InputError(f"a concept is ID:WEIGHT (e.g. 12:0.8), not {value!r}", field="weights") from None
    return weights


@cli.command()
@WS
@click.option("--method", type=click.Choice(["concepts", "interpolate", "llm"]), required=True)
@click.option("--row", "row_ids", type=int, multiple=True, help="The row to start from (repeat for llm).")
@click.option("--to", "to_row", type=int, help="interpolate: the row to move towards.")
@click.option("--to-point", nargs=2, type=float, help="interpolate: a map point X Y to move towards.")
@click.option("--concept", "weights", multiple=True, help="concepts: ID:WEIGHT, weight in [-1, 1] (repeatable).")
@click.option("--instruction", help="llm: what to change.")
@click.option("--gap", "gap_id", help="Fill this gap (see `amplio gaps`); rows and targets come from it.")
@click.option("-n", "n", default=3, show_default=True, help="How many candidates (1-10).")
@click.option("--seed", default=0, show_default=True)
@JSON
@domain_errors
def augment(workspace: Path, method: str, row_ids: tuple[int, ...], to_row: int | None,
            to_point: tuple[float, float] | None, weights: tuple[str, ...],
            instruction: str | None, gap_id: str | None, n: int, seed: int, as_json: bool) -> None:
    """Make candidate rows with one of the three methods; they are stored for review.

    Up to N come back: texts that fail a quality gate are held back, and listed with their
    reasons after the candidates.
    """
    from amplio.augment.request import AugmentRequest, Method
    from amplio.progress import TqdmProgress

    progress = TqdmProgress()
    with _load(workspace) as ws:
        if gap_id is not None:
            made = ws.fill_gap(gap_id, method=method, n=n, seed=seed, instruction=instruction,
                               progress=progress)
        elif not row_ids:
            raise InputError("give a row to start from (or a gap to fill)", field="row_ids")
        else:
            request = AugmentRequest(method=cast(Method, method), row_id=row_ids[0],
                                     weights=_parse_concepts(weights), to_row=to_row,
                                     to_point=to_point or None, row_ids=row_ids[1:],
                                     instruction=instruction or "", n=n, seed=seed)
            made = ws.augment(request, progress=progress)
    keys = ("id", "text", "method", "parents", "fidelity", "novelty", "duplicate_of", "flags", "x", "y")
    result = made.to_dict()
    result["candidates"] = [{k: c[k] for k in keys} | {"params": c["params"]} for c in made]
    emit(result, as_json, _format_augmentation)


def _format_augmentation(result: dict[str, Any]) -> str:
    lines = []
    for c in result["candidates"]:
        fid = "  -  " if c["fidelity"] is None else f"{c['fidelity']:.3f}"
        dup = f"  duplicate of {c['duplicate_of']}" if c["duplicate_of"] is not None else ""
        flags = f"  [{', '.join(c['flags'])}]" if c["flags"] else ""
        lines.append(f"[{c['id']}] fidelity {fid}  novelty {c['novelty']:.3f}{dup}{flags}\n    {_safe_line(c['text'], 2000)}")
    if not lines:
        lines.append("no candidates")
    if result["note"]:
        lines.append(f"note: {result['note']}")
    if result["held_back"]:
        lines.append(f"held back ({len(result['held_back'])}):")
        lines += [f"  - {', '.join(h['reasons'])}: {_safe_line(h['text'], 100)}" for h in result["held_back"]]
    for s in result["suggestions"]:
        lines.append(f"try row {s['id']} ({s['why']})")
    return "\n".join(lines)


def _status_command(name: str, status: str, doc: str) -> None:
    @cli.command(name, help=doc)
    @WS
    @click.argument("ids", type=int, nargs=-1, required=True)
    @domain_errors
    def command(workspace: Path, ids: tuple[int, ...]) -> None:
        with _load(workspace) as ws:
            ws.set_status(list(ids), status)
        click.echo(f"{name}ed {len(ids)} row(s)")


_status_command("accept", "accepted", "Accept candidate rows IDS.")
_status_command("reject", "rejected", "Reject rows IDS (they stay in the workspace, marked rejected).")


@cli.command()
@WS
@click.argument("row_id", type=int)
@click.argument("text")
@domain_errors
def edit(workspace: Path, row_id: int, text: str) -> None:
    """Replace row ROW_ID's text (re-embedded and re-placed on the map)."""
    with _load(workspace) as ws:
        row = ws.edit_row(row_id, text)
    click.echo(f"edited row {row['id']} (now at {row['x']:.2f}, {row['y']:.2f})")


@cli.command()
@WS
@click.argument("text")
@click.option("--label", help="Label of the new row.")
@click.option("--candidate", is_flag=True, help="Add as a candidate instead of accepted.")
@domain_errors
def add(workspace: Path, text: str, label: str | None, candidate: bool) -> None:
    """Add a row written by hand."""
    with _load(workspace) as ws:
        (row_id,) = ws.add_rows([text], origin="manual", method="manual", label=label,
                                status="candidate" if candidate else "accepted")
    click.echo(f"added row {row_id}")


@cli.command()
@WS
@domain_errors
def undo(workspace: Path) -> None:
    """Undo the last add, accept/reject or edit."""
    with _load(workspace) as ws:
        done = ws.undo()
    click.echo("nothing to undo" if done is None else f"undid {done['action']}")


@cli.command()
@WS
@click.option("--limit", default=50, show_default=True)
@JSON
@domain_errors
def history(workspace: Path, limit: int, as_json: bool) -> None:
    """List the actions taken in the workspace, newest first."""
    with _load(workspace, read_only=True) as ws:
        emit(ws.history(limit=limit), as_json, lambda items: "\n".join(
            f"{a['seq']:>5} {a['at'][:19]} {a['action']}{' (undone)' if a['undone'] else ''} "
            + json.dumps({k: v for k, v in a.items() if k not in ('seq', 'at', 'action', 'undone')})[:100]
            for a in items))


@cli.command()
@click.argument("source", required=False, type=click.Path(path_type=Path))
@click.option("--text-col", help="Text column when SOURCE is a data file.")
@click.option("--label-col", help="Label column when SOURCE is a data file.")
@click.option("--workspace", type=click.Path(path_type=Path), help="Workspace folder for a data file.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; anything but localhost requires the printed token.")
@click.option("--port", default=8000, show_default=True, help="Port (0 picks a free one).")
@click.option("--no-browser", is_flag=True, help="Do not open a browser window.")
@click.option("--reference", type=click.Path(path_type=Path),
              help="A file of other prompts (CSV/TSV/JSON/JSONL/Parquet), or `bundled` for the bundled "
                   "public red-teaming sets: the Gaps view can then list the regions it covers and the "
                   "rows do not. Embedded (once, cached) before serving.")
@click.option("--reference-text-column", help="Text column of --reference (default: detected).")
@click.option("--token", "use_token", is_flag=True,
              help="Require a token on localhost too (the printed URL carries it). A non-local "
                   "--host always requires one.")
@click.option("--allow-host", "allow_hosts", multiple=True,
              help="Another name the browser may reach the server by (repeatable); requests naming "
                   "any other host are refused, so a web page cannot rebind its name to this server.")
@domain_errors
def serve(source: Path | None, text_col: str | None, label_col: str | None, workspace: Path | None,
          host: str, port: int, no_browser: bool, reference: Path | None,
          reference_text_column: str | None, use_token: bool, allow_hosts: tuple[str, ...]) -> None:
    """Open SOURCE (data file or workspace; default: the demo) in the browser UI.

    The server answers only requests that name it (127.0.0.1, localhost or [::1] with its port,
    or an --allow-host name) and refuses changes posted from another site's page.
    """
    if reference_text_column and reference is None:
        raise InputError("--reference-text-column needs --reference")
    _serve(source, text_col, label_col, workspace, host, port, no_browser, reference,
           reference_text_column, use_token=use_token, allow_hosts=allow_hosts)


@cli.command()
@click.option("--workspace", type=click.Path(path_type=Path), default=Path("amplio-demo.amplio"),
              show_default=True, help="Where to keep the demo workspace.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--no-browser", is_flag=True, help="Do not open a browser window.")
@click.option("--no-reference", is_flag=True,
              help="Skip the bundled reference set (AART, Do-Not-Answer, AdvBench), whose regions "
                   "the demo rows do not cover are listed in the Gaps view; saves embedding it "
                   "(about 20 s on 2 cores, once per workspace).")
@domain_errors
def demo(workspace: Path, host: str, port: int, no_browser: bool, no_reference: bool) -> None:
    """Open the bundled demo dataset (600 AART prompts) in the browser UI, with the bundled
    public red-teaming sets as the reference for gaps."""
    from amplio.data.reference import BUNDLED

    _serve(None, None, None, workspace, host, port, no_browser,
           None if no_reference else Path(BUNDLED))


def _serve(source: Path | None, text_col: str | None, label_col: str | None, workspace: Path | None,
           host: str, port: int, no_browser: bool, reference: Path | None = None,
           reference_text_column: str | None = None, *, use_token: bool = False,
           allow_hosts: tuple[str, ...] = ()) -> None:
    import secrets

    import amplio
    from amplio.progress import TqdmProgress
    from amplio.server import run

    if source is None:
        from amplio.data.demo import demo_dataset_path

        source, text_col, label_col = demo_dataset_path(), "prompt", "crime"
    with amplio.open(source, text_col=text_col, label_col=label_col, workspace=workspace,
                     progress=TqdmProgress()) as ws:
        path = ws.path
        if reference is not None:
            from amplio.workspace.references import load_reference

            # A bad file fails here, with the CLI's message, not later in the browser; and the
            # embedding (the slow part) happens once, with a progress bar, before serving.
            loaded = load_reference(ws, reference, text_column=reference_text_column,
                                    progress=TqdmProgress())
            reference = Path(loaded.path).resolve()
    run(path, host=host, port=port, open_browser=not no_browser, reference=reference,
        reference_text_column=reference_text_column,
        token=secrets.token_urlsafe(24) if use_token else None, allow_hosts=allow_hosts)


@cli.command()
@WS
@click.option("--top", default=10, show_default=True, help="How many gaps.")
@click.option("--seed", default=0, show_default=True)
@click.option("--reference", "reference", type=click.Path(path_type=Path),
              help="A file of other prompts (CSV/TSV/JSON/JSONL/Parquet), or `bundled` for the bundled "
                   "public red-teaming sets (AART, Do-Not-Answer, AdvBench): list the regions it covers "
                   "and WORKSPACE does not. Embedded once, then cached in the workspace.")
@click.option("--reference-text-column", "reference_text_column",
              help="The reference's text column (default: auto-detected).")
@JSON
@domain_errors
def gaps(workspace: Path, top: int, seed: int, reference: Path | None,
         reference_text_column: str | None, as_json: bool) -> None:
    """Rank the empty spaces in WORKSPACE (keys: id, score, x, y, size, description, rim_rows, labels;
    with --reference also examples, reference_rows, reference). Fill one with `augment --gap ID`;
    the gap is remembered, so the reference need not be given again."""
    from amplio.progress import TqdmProgress

    if reference_text_column and reference is None:
        raise InputError("--reference-text-column needs --reference")
    with _load(workspace) as ws:
        found = ws.gaps(top=top, seed=seed, reference=reference,
                        reference_text_column=reference_text_column, progress=TqdmProgress())
    emit(found, as_json, _format_gaps)


def _format_gaps(items: list[dict[str, Any]]) -> str:
    lines = []
    source = items[0].get("reference") if items else None
    if source:
        # The reference's name is a file name (untrusted like any text) or the bundled set's.
        lines.append(f"not covered, vs {_safe_line(source.get('name') or source['path'])} "
                     f"({source['rows']} reference prompts); size = reference rows")
    for g in items:
        lines.append(f"{g['id']:>6}  score {g['score']:.2f}  size {g['size']}  at ({g['x']:.1f}, {g['y']:.1f})  "
                     f"{_words(g['description'])}  rim {g['rim_rows'][:6]}")
        for example in g.get("examples", [])[:2]:
            lines.append(f"        e.g. {_safe_line(example)}")
    return "\n".join(lines) or "no gaps found"


def _safe_line(text: str, width: int = 120) -> str:
    # Dataset text is untrusted: one line, control characters (terminal escapes) made visible.
    flat = " ".join(str(text).split())
    flat = "".join(c if c.isprintable() else repr(c)[1:-1] for c in flat)
    return flat if len(flat) <= width else flat[:width - 1] + "…"


@cli.command()
@WS
@click.option("--concepts", "columns", default=20, show_default=True,
              help="Concepts kept in the label x concept matrix.")
@click.option("--top", default=5, show_default=True, help="Suggested concepts per label.")
@JSON
@domain_errors
def coverage(workspace: Path, columns: int, top: int, as_json: bool) -> None:
    """Per label, concepts common elsewhere but rare in it (suggested targets), and the label x
    concept matrix (keys: labels, label_rows, concepts, rates, suggestions). Trains concepts on
    first use."""
    with _load(workspace) as ws:
        data = ws.coverage(concepts=columns, top=top)

    def human(d: dict[str, Any]) -> str:
        lines = []
        for label, count in zip(d["labels"], d["label_rows"], strict=True):
            picks = d["suggestions"].get(label, [])
            lines.append(f"{label} ({count} rows)")
            lines += [f"  #{c['concept']:<5} {c['label'][:40]:40} in label {c['rate_in_label']:.0%}"
                      f"  elsewhere {c['rate_elsewhere']:.0%}" for c in picks] or ["  (no suggestion)"]
        return "\n".join(lines) or "no labels: open the dataset with --label-col to compare labels"

    emit(data, as_json, human)


@cli.command()
@WS
@JSON
@domain_errors
def report(workspace: Path, as_json: bool) -> None:
    """Diversity of the original rows (before) and of the accepted set (after), overall and per label."""
    with _load(workspace) as ws:
        data = ws.report()

    def human(d: dict[str, Any]) -> str:
        lines = [f"{'':24}{'before':>10}{'after':>10}"]
        for key in ("rows", "vendi", "mean_nn_distance", "occupied_area_share"):
            b, a = d["before"]["all"].get(key), d["after"]["all"].get(key)
            lines.append(f"{key:24}{_num(b):>10}{_num(a):>10}")
        lines.append(f"gaps: {d['gaps']['count']} (total score {d['gaps']['total_score']})")
        return "\n".join(lines)

    emit(data, as_json, human)


def _words(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)


def _num(value: Any) -> str:
    return "-" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value))
