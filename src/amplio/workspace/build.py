"""Create a workspace from a dataset: load, clean, embed, project, cluster, store."""

from __future__ import annotations

import io
import os
import shutil
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from amplio.config import Settings, load_settings
from amplio.data.ingest import CleanRows, clean_rows
from amplio.data.loaders import read_table
from amplio.data.vectors import Vectors, line_up
from amplio.embedding.base import Encoder
from amplio.embedding.batching import embed_texts
from amplio.embedding.registry import create_encoder
from amplio.engines.naming import EncoderSpec, parse_encoder
from amplio.errors import AmplioError, InputError, WorkspaceError, WorkspaceWriteError
from amplio.progress import Progress, silent
from amplio.projection.clusters import cluster_embeddings
from amplio.projection.umap_projection import fit_projection
from amplio.workspace.schema import DB_FILE
from amplio.workspace.store import CLUSTER_CENTROIDS, PROJECTION, Store, now
from amplio.workspace.workspace import Workspace, encoder_unavailable

WORKSPACE_SUFFIX = ".amplio"


class EncoderUnavailableWarning(UserWarning):
    """Vectors were given for an encoder this machine cannot load: the workspace opens, but new
    text (candidates, edits, added rows) will need that encoder."""


@dataclass
class Timings:
    """Seconds spent in each stage of the last build (read by the ingest benchmark).

    ``stages`` is wall time; ``cpu`` is this process's CPU time (all threads), which other
    programs on a busy machine do not inflate.
    """

    stages: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)


def default_workspace_path(source: str | Path) -> Path:
    """``<input stem>.amplio`` in the working directory."""
    return Path.cwd() / (Path(source).stem + WORKSPACE_SUFFIX)


def is_workspace(path: Path) -> bool:
    return (path / DB_FILE).is_file()


def open_dataset(
    source: str | Path | pd.DataFrame,
    *,
    text_col: str | None = None,
    label_col: str | None = None,
    workspace: str | Path | None = None,
    model: str | None = None,
    encoder: Encoder | None = None,
    settings: Settings | None = None,
    seed: int = 0,
    progress: Progress = silent,
    timings: Timings | None = None,
    vectors: str | Path | np.ndarray | None = None,
    vectors_encoder: str | None = None,
    id_col: str | None = None,
) -> Workspace:
    """Open ``source`` as a workspace, creating it if needed.

    ``source`` is a data file, a ``datasets`` folder, a DataFrame, or an existing workspace
    folder. When the workspace already exists, only rows whose text it does not hold yet are
    added (embedded and placed with the fitted map); nothing else is recomputed.

    ``vectors`` brings vectors made elsewhere, so the rows are not embedded here: a column of
    ``source`` holding a list of numbers per row, a ``.npy`` file (one row per input row), a
    Parquet file lined up by ``id_col`` (``amplio embed`` writes one), or an array.
    ``vectors_encoder`` names the encoder that made them (``[KIND:]MODEL``; a file from
    ``amplio embed`` names it itself); new text is embedded by it later. When it cannot be loaded
    here the workspace still opens, with an ``EncoderUnavailableWarning``.

    Raises:
        InputError: bad file, format, column or content (nothing is written).
        WorkspaceError / WorkspaceLockedError: the target workspace cannot be used.
    """
    if isinstance(source, (str, Path)) and is_workspace(Path(source)):
        if vectors is not None:
            raise InputError(f"{source} is a workspace; vectors go with the data file they were made "
                             "from (give it, and the workspace as the workspace folder)", field="vectors")
        return Workspace.load(source, encoder=encoder)
    if workspace is None:
        if isinstance(source, pd.DataFrame):
            raise InputError("give workspace= (a folder) when opening a DataFrame")
        workspace = default_workspace_path(source)
    folder = Path(workspace).expanduser().resolve()
    timings = timings if timings is not None else Timings()
    clock = _Clock(timings)
    with clock("load"):
        frame = source if isinstance(source, pd.DataFrame) else read_table(source)
        rows = clean_rows(frame, text_col, label_col)
        given = None if vectors is None else line_up(frame, rows.frame, vectors, id_col=id_col)
    if given is None and (vectors_encoder or id_col):
        raise InputError("an encoder name or an id column goes with vectors made elsewhere; give "
                         "the vectors too", field="vectors")
    if is_workspace(folder):
        spec = None if given is None else _vectors_spec(given, vectors_encoder, model,
                                                        settings or load_settings(), required=False)
        return _sync(folder, rows, text_col, encoder, progress, clock, given, spec)
    if folder.exists() and any(folder.iterdir()):
        raise WorkspaceError(f"{folder} exists and is not an Amplio workspace; choose another workspace folder",
                             field="workspace")
    settings = settings or load_settings()
    source_name = "<DataFrame>" if isinstance(source, pd.DataFrame) else str(Path(source).resolve())
    if given is not None:
        spec = _vectors_spec(given, vectors_encoder, model, settings, required=True)
        assert spec is not None
        named = _named_encoder(encoder, spec, given)
        return _build(folder, rows, named, spec.kind, spec.model, source_name, seed,
                      settings.batch_size, progress, clock, given)
    kind = settings.encoder
    encoder = encoder or create_encoder(kind, model or settings.encoder_model)
    return _build(folder, rows, encoder, kind, model or settings.encoder_model, source_name,
                  seed, settings.batch_size, progress, clock)


def _vectors_spec(given: Vectors, name: str | None, model: str | None, settings: Settings, *,
                  required: bool) -> EncoderSpec | None:
    """Which encoder made ``given``: the one named, or the one its file names (they must agree)."""
    if name and model and name != model:
        raise InputError(f"the encoder is named twice, {name!r} and {model!r}; name the one that made "
                         "the vectors once", field="vectors_encoder")
    name = name or model
    meta = given.meta
    from_file = (EncoderSpec(meta["encoder_kind"], meta["encoder_model"])
                 if meta.get("encoder_kind") and meta.get("encoder_model") else None)
    if name and given.encoder:
        spec = parse_encoder(name, settings.encoder)
        if name not in (given.encoder, meta.get("encoder_model")) and spec != from_file:
            raise InputError(f"{given.source} says its vectors were made by encoder {given.encoder!r}, "
                             f"not {name!r}; leave the encoder out, or give the vectors {name!r} made",
                             field="vectors_encoder")
        return from_file or spec
    if name:
        return parse_encoder(name, settings.encoder)
    if from_file is not None:
        return from_file
    if given.encoder:
        return parse_encoder(given.encoder, settings.encoder)
    if not required:
        return None
    raise InputError(f"say which encoder made the vectors in {given.source} (e.g. "
                     f"{settings.encoder_model}); new text is embedded by it later",
                     field="vectors_encoder")


class _Named:
    """What a workspace records of an encoder this machine cannot load: its name and dimension."""

    def __init__(self, name: str, dim: int) -> None:
        self.name, self.dim = name, dim


def _named_encoder(encoder: Encoder | None, spec: EncoderSpec, given: Vectors) -> Encoder | _Named:
    """The encoder that made ``given``, loaded to check its dimension; when it cannot be loaded
    here, its name alone, with a warning that new text will need it."""
    if encoder is None:
        try:
            encoder = create_encoder(spec.kind, spec.model)
        except AmplioError as exc:
            name = given.encoder or (spec.model if spec.kind == "sentence-transformers" else spec.label)
            warnings.warn(EncoderUnavailableWarning(encoder_unavailable(name, str(exc), given.source)),
                          stacklevel=3)
            return _Named(name, given.dim)
    if given.encoder and encoder.name != given.encoder:
        raise InputError(f"{given.source} says its vectors were made by encoder {given.encoder!r}, "
                         f"but {spec.label!r} loads as {encoder.name!r}; name the encoder that made "
                         "them", field="vectors_encoder")
    if encoder.dim != given.dim:
        raise InputError(f"the vectors in {given.source} have {given.dim} dimensions but encoder "
                         f"{encoder.name!r} gives {encoder.dim}; name the encoder that made them",
                         field="vectors_encoder")
    return encoder


def _build(folder: Path, rows: CleanRows, encoder: Encoder | _Named, kind: str, model: str, source: str,
           seed: int, batch_size: int, progress: Progress, clock: _Clock,
           given: Vectors | None = None) -> Workspace:
    texts = rows.frame["text"].tolist()
    with clock("embed"):
        if given is not None:  # made elsewhere, checked and lined up with the rows already
            vectors = given.array
        else:
            assert isinstance(encoder, Encoder)
            vectors = embed_texts(encoder, texts, batch_size=batch_size, progress=progress)
    with clock("project"):
        map_settings = load_settings()  # map_sample_above / map_sample_size (config or environment)
        projection, xy = fit_projection(vectors, seed=seed, progress=progress,
                                        sample_above=map_settings.map_sample_above,
                                        sample_size=map_settings.map_sample_size)
    with clock("cluster"):
        clustering = cluster_embeddings(vectors, texts, seed=seed)
    # Build beside the target and rename at the end: a failure or a kill leaves no half-made
    # workspace under the name the user asked for.
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        with clock("store"):
            store = Store(tmp, create=True)
            try:
                with store.transaction():
                    _write_meta(store, rows, encoder, kind, model, source, seed, projection.fitted_rows)
                    if given is not None:
                        store.set_meta("vectors_source", given.source)
                    store.put_embeddings(encoder.name, rows.frame["text_hash"].tolist(), vectors)
                    store.insert_rows(_original_rows(rows.frame, xy, clustering.assignments))
                    store.put_clusters([(cid, clustering.keywords.get(cid, []), size)
                                        for cid, size in clustering.sizes.items()])
                    store.put_artifact(PROJECTION, projection.to_bytes())
                    store.put_artifact(CLUSTER_CENTROIDS, _npy(clustering.centroids))
                store.checkpoint()
            finally:
                store.close()
            folder.parent.mkdir(parents=True, exist_ok=True)
            if folder.exists():
                folder.rmdir()  # an empty folder the user made for us
            tmp.rename(folder)
    except WorkspaceWriteError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        # The store names the folder it wrote, the hidden one beside the target; the user
        # knows only the target.
        raise WorkspaceWriteError(str(exc).replace(str(tmp), str(folder))) from exc
    except OSError as exc:  # a folder that cannot be made or renamed: read-only, or full
        shutil.rmtree(tmp, ignore_errors=True)
        raise WorkspaceWriteError(f"cannot create workspace {folder}: {exc.strerror or exc}",
                                  field="workspace") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Workspace.load(folder, encoder=encoder if isinstance(encoder, Encoder) else None,
                          projection=projection)


def _sync(folder: Path, rows: CleanRows, text_col: str | None, encoder: Encoder | None,
          progress: Progress, clock: _Clock, given: Vectors | None = None,
          spec: EncoderSpec | None = None) -> Workspace:
    workspace = Workspace.load(folder, encoder=encoder)
    try:
        if given is not None:
            _check_sync_vectors(workspace, given, spec)
        stored = workspace.meta.get("text_column")
        if text_col and stored and text_col != stored:
            raise InputError(
                f"workspace {folder} was built from column {stored!r}, not {text_col!r}; "
                "use another workspace folder to build a new one",
                field="workspace",
            )
        known = workspace.store.all_hashes()
        new = rows.frame[~rows.frame["text_hash"].isin(known)]
        with clock("add"):
            for label, group in new.groupby("label", dropna=False, sort=False):
                workspace.add_rows(group["text"].tolist(), origin="original", status="accepted",
                                   label=None if pd.isna(label) else str(label), progress=progress,
                                   embeddings=None if given is None else given.array[group.index.to_numpy()])
    except BaseException:
        workspace.close()
        raise
    return workspace


def _check_sync_vectors(workspace: Workspace, given: Vectors, spec: EncoderSpec | None) -> None:
    """Vectors for rows added to an existing workspace must come from the workspace's encoder."""
    meta = workspace.meta
    if spec is not None and (spec.kind, spec.model) != (meta["encoder_kind"], meta["encoder_model"]) \
            and given.encoder != meta["encoder"]:
        raise InputError(f"workspace {workspace.path} holds vectors of encoder {meta['encoder']!r}, "
                         f"not {spec.label!r}; give vectors that encoder made, or use another "
                         "workspace folder", field="vectors_encoder")
    if given.dim != meta["dim"]:
        raise InputError(f"the vectors in {given.source} have {given.dim} dimensions but workspace "
                         f"{workspace.path} holds {meta['dim']}-dimensional ones (encoder "
                         f"{meta['encoder']!r}); give vectors that encoder made", field="vectors")


def _write_meta(store: Store, rows: CleanRows, encoder: Encoder | _Named, kind: str, model: str, source: str,
                seed: int, fitted_rows: int) -> None:
    from amplio import __version__

    values = {
        "text_column": rows.text_column, "label_column": rows.label_column,
        "encoder": encoder.name, "encoder_kind": kind, "encoder_model": model, "dim": encoder.dim,
        "source": source, "seed": seed, "skipped_empty": rows.skipped_empty,
        "folded_duplicates": rows.folded_duplicates, "projection_fitted_rows": fitted_rows,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"), "amplio_version": __version__,
    }
    for key, value in values.items():
        store.set_meta(key, value)


def _original_rows(frame: pd.DataFrame, xy: np.ndarray, clusters: np.ndarray) -> pd.DataFrame:
    stamp = now()
    n = len(frame)
    return pd.DataFrame({
        "id": np.arange(n, dtype=np.int64), "text": frame["text"].values,
        "text_hash": frame["text_hash"].values, "label": frame["label"].values,
        "origin": "original", "method": None, "parents": [[] for _ in range(n)],
        "params": "{}", "models": "{}", "status": "accepted", "created_at": stamp,
        "updated_at": stamp, "x": xy[:, 0], "y": xy[:, 1], "cluster": clusters.astype(np.int32),
        "source_index": frame["source_index"].astype("int64").values,
        "dup_count": frame["dup_count"].astype("int32").values, "reviewed_by": None,
    })


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


class _Clock:
    def __init__(self, timings: Timings) -> None:
        self.timings = timings

    def __call__(self, stage: str) -> _Stage:
        return _Stage(self.timings, stage)


class _Stage:
    def __init__(self, timings: Timings, stage: str) -> None:
        self.timings, self.stage = timings, stage

    def __enter__(self) -> None:
        import time

        self.start = time.perf_counter()
        self.cpu_start = time.process_time()

    def __exit__(self, *exc: object) -> None:
        import time

        elapsed = time.perf_counter() - self.start
        cpu = time.process_time() - self.cpu_start
        self.timings.stages[self.stage] = self.timings.stages.get(self.stage, 0.0) + elapsed
        self.timings.cpu[self.stage] = self.timings.cpu.get(self.stage, 0.0) + cpu
