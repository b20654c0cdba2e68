"""Create a workspace from a dataset: load, clean, embed, project, cluster, store."""

from __future__ import annotations

import io
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from amplio.config import Settings, load_settings
from amplio.data.ingest import CleanRows, clean_rows
from amplio.data.loaders import read_table
from amplio.embedding.base import Encoder
from amplio.embedding.batching import embed_texts
from amplio.embedding.registry import create_encoder
from amplio.errors import InputError, WorkspaceError, WorkspaceWriteError
from amplio.progress import Progress, silent
from amplio.projection.clusters import cluster_embeddings
from amplio.projection.umap_projection import fit_projection
from amplio.workspace.schema import DB_FILE
from amplio.workspace.store import CLUSTER_CENTROIDS, PROJECTION, Store, now
from amplio.workspace.workspace import Workspace

WORKSPACE_SUFFIX = ".amplio"


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
) -> Workspace:
    """Open ``source`` as a workspace, creating it if needed.

    ``source`` is a data file, a ``datasets`` folder, a DataFrame, or an existing workspace
    folder. When the workspace already exists, only rows whose text it does not hold yet are
    added (embedded and placed with the fitted map); nothing else is recomputed.

    Raises:
        InputError: bad file, format, column or content (nothing is written).
        WorkspaceError / WorkspaceLockedError: the target workspace cannot be used.
    """
    if isinstance(source, (str, Path)) and is_workspace(Path(source)):
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
    if is_workspace(folder):
        return _sync(folder, rows, text_col, encoder, progress, clock)
    if folder.exists() and any(folder.iterdir()):
        raise WorkspaceError(f"{folder} exists and is not an Amplio workspace; choose another workspace folder",
                             field="workspace")
    settings = settings or load_settings()
    kind = settings.encoder
    encoder = encoder or create_encoder(kind, model or settings.encoder_model)
    source_name = "<DataFrame>" if isinstance(source, pd.DataFrame) else str(Path(source).resolve())
    return _build(folder, rows, encoder, kind, model or settings.encoder_model, source_name,
                  seed, settings.batch_size, progress, clock)


def _build(folder: Path, rows: CleanRows, encoder: Encoder, kind: str, model: str, source: str,
           seed: int, batch_size: int, progress: Progress, clock: _Clock) -> Workspace:
    texts = rows.frame["text"].tolist()
    with clock("embed"):
        vectors = embed_texts(encoder, texts, batch_size=batch_size, progress=progress)
    with clock("project"):
        projection, xy = fit_projection(vectors, seed=seed, progress=progress)
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
    return Workspace.load(folder, encoder=encoder, projection=projection)


def _sync(folder: Path, rows: CleanRows, text_col: str | None, encoder: Encoder | None,
          progress: Progress, clock: _Clock) -> Workspace:
    workspace = Workspace.load(folder, encoder=encoder)
    try:
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
                                   label=None if pd.isna(label) else str(label), progress=progress)
    except BaseException:
        workspace.close()
        raise
    return workspace


def _write_meta(store: Store, rows: CleanRows, encoder: Encoder, kind: str, model: str, source: str,
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
