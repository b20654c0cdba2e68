"""``Workspace``: one dataset, its embeddings, map and every augmentation, in one folder."""

from __future__ import annotations

import getpass
import io
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from amplio.data.ingest import MAX_TEXT_CHARS, text_hash
from amplio.data.records import plain
from amplio.embedding.base import Encoder, nearest
from amplio.embedding.batching import embed_texts
from amplio.embedding.registry import create_encoder
from amplio.errors import (
    AmplioError,
    InputError,
    MissingDependencyError,
    NotFoundError,
    WorkspaceError,
)
from amplio.progress import Progress, silent
from amplio.projection.umap_projection import Projection
from amplio.workspace.augmenter import Augmenter
from amplio.workspace.schema import ORIGINS, STATUSES
from amplio.workspace.store import CLUSTER_CENTROIDS, PROJECTION, Store, now

if TYPE_CHECKING:
    from amplio.augment.request import AugmentRequest
    from amplio.augment.result import Augmentation
    from amplio.llm.base import LLM

Origin = Literal["original", "augmented", "manual"]
Status = Literal["candidate", "accepted", "rejected"]
# Meta keys every workspace method may index without a default.
_REQUIRED_META = ("encoder", "encoder_kind", "encoder_model", "dim")


def encoder_unavailable(name: str, reason: str, vectors_source: str) -> str:
    """One line: new text needs encoder ``name`` (which made the vectors in
    ``vectors_source``), and it cannot be loaded here because of ``reason``."""
    why = " ".join(reason.split())
    why = why if len(why) <= 240 else why[:239] + "…"
    return (f"new text (candidates, edits, added rows) is embedded by {name!r}, the encoder that made "
            f"the vectors from {vectors_source}, and it cannot be loaded here ({why}); install it or "
            "make it reachable here, or open the data without vectors to embed it all with an "
            "encoder you have")


class Workspace:
    """An open workspace. Use ``amplio.open`` to create one from data, ``Workspace.load`` to
    reopen one; close it (or use ``with``) to release the write lock."""

    def __init__(self, store: Store, *, encoder: Encoder | None = None,
                 projection: Projection | None = None) -> None:
        self._store = store
        self.path = store.folder
        self.meta: dict[str, Any] = store.all_meta()
        missing = [k for k in _REQUIRED_META if k not in self.meta]
        if missing or not isinstance(self.meta.get("dim"), int):
            store.close()
            # Refused here, not at the first embedding or export that needs the key.
            raise WorkspaceError(f"{self.path} is not an Amplio workspace (or is damaged): its meta "
                                 f"table has no {(missing or ['dim'])[0]}")
        self._encoder = encoder
        self._projection = projection
        self._centroids: NDArray[np.float32] | None = None
        self._augmenter: Augmenter | None = None
        #: Wraps long computation that touches no storage (training concepts, decoding,
        #: generating). A server that serialises calls with a lock sets it to a context that
        #: lets go of the lock meanwhile, so reads answer while a job decodes.
        self.unlocked: Callable[[], AbstractContextManager[object]] = nullcontext
        # Held while concepts train (outside ``unlocked``), so a second caller waits for that
        # model instead of training its own.
        self.training_concepts = threading.Lock()

    @classmethod
    def load(cls, path: str | Path, *, read_only: bool = False, encoder: Encoder | None = None,
             projection: Projection | None = None) -> Workspace:
        """Open the workspace folder ``path`` (``projection``: the fitted one, when the caller
        has it in memory already, e.g. right after building).

        Raises:
            WorkspaceError: not a workspace, newer schema, or damaged.
            WorkspaceLockedError: another process has it open for writing.
        """
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise NotFoundError(f"no workspace at {folder}")
        return cls(Store(folder, read_only=read_only), encoder=encoder, projection=projection)

    def close(self) -> None:
        """Release the database (and its lock)."""
        self._store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- models -------------------------------------------------------------------------------
    @property
    def encoder(self) -> Encoder:
        """The encoder this workspace was embedded with (loaded on first use)."""
        if self._encoder is None:
            try:
                self._encoder = create_encoder(self.meta["encoder_kind"], self.meta["encoder_model"])
            except AmplioError as exc:
                if "vectors_source" not in self.meta:
                    raise
                # The rows came with vectors made elsewhere; say so, not only what failed.
                raise MissingDependencyError(encoder_unavailable(
                    self.meta["encoder"], str(exc), self.meta["vectors_source"])) from None
        if self._encoder.name != self.meta["encoder"]:
            raise WorkspaceError(
                f"encoder {self._encoder.name!r} differs from the workspace's {self.meta['encoder']!r}"
            )
        return self._encoder

    @property
    def projection(self) -> Projection:
        """The fitted map projection (loaded on first use; never refitted)."""
        if self._projection is None:
            data = self._store.get_artifact(PROJECTION)
            if data is None:
                raise WorkspaceError(f"workspace {self.path} has no fitted projection")
            self._projection = Projection.from_bytes(data)
        return self._projection

    def place(self, embeddings: NDArray[np.float32]) -> NDArray[np.float32]:
        """Map positions for embeddings, with the fitted projection (no refit)."""
        return self.projection.transform(embeddings)

    def nearest_cluster(self, embeddings: NDArray[np.float32]) -> NDArray[np.int32]:
        """The cluster whose centroid is closest to each embedding."""
        if self._centroids is None:
            data = self._store.get_artifact(CLUSTER_CENTROIDS)
            self._centroids = (np.load(io.BytesIO(data)).astype(np.float32) if data
                               else np.zeros((0, embeddings.shape[1]), dtype=np.float32))
        centroids = self._centroids
        if len(centroids) == 0 or len(embeddings) == 0:
            return np.zeros(len(embeddings), dtype=np.int32)
        return np.argmax(embeddings @ centroids.T, axis=1).astype(np.int32)

    # -- reading ------------------------------------------------------------------------------
    def rows(self, *, status: str | None = None, ids: Sequence[int] | None = None,
             origin: str | None = None) -> pd.DataFrame:
        """Rows as a DataFrame (columns as in ``schema.ROW_COLUMNS``), ordered by id.

        ``parents`` holds lists of ids; ``params`` and ``models`` hold dicts.
        """
        if status is not None and status not in STATUSES:
            raise InputError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        frame = self._store.rows(status=status, origin=origin, ids=ids)
        frame["parents"] = frame["parents"].map(lambda p: [int(i) for i in p] if p is not None else [])
        frame["params"] = frame["params"].map(json.loads)
        frame["models"] = frame["models"].map(json.loads)
        return frame

    def row(self, row_id: int) -> dict[str, Any]:
        """One row as a dict. Raises ``NotFoundError`` if there is none with that id."""
        frame = self.rows(ids=[row_id])
        if frame.empty:
            raise NotFoundError(f"no row with id {row_id}")
        return {k: plain(v) for k, v in frame.iloc[0].to_dict().items()}

    def embeddings(self, ids: Sequence[int]) -> NDArray[np.float32]:
        """Embeddings of the rows ``ids``, in that order."""
        if len(ids) == 0:
            return np.zeros((0, self.meta["dim"]), dtype=np.float32)
        by_id = self._store.hashes(ids)
        missing = [i for i in ids if int(i) not in by_id]
        if missing:
            raise NotFoundError(f"no row with id {missing[0]}")
        return self._store.get_embeddings(self.meta["encoder"], [by_id[int(i)] for i in ids], self.meta["dim"])

    def all_embeddings(self) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Every row's id and embedding, ordered by id."""
        ids, hashes = self._store.ids_and_hashes()
        return ids, self._store.get_embeddings(self.meta["encoder"], hashes, self.meta["dim"])

    def clusters(self) -> list[dict[str, Any]]:
        """Clusters with their keyword labels, sizes (at the time of the fit) and centres on the
        map (the median position of their original rows; ``None`` when they have none)."""
        centres = self._store.cluster_centres()
        return [{"id": c, "keywords": k, "label": ", ".join(k), "size": s,
                 "x": centres.get(c, (None, None))[0], "y": centres.get(c, (None, None))[1]}
                for c, k, s in self._store.clusters()]

    def points(self) -> pd.DataFrame:
        """What the map draws of every row (id, x, y, cluster, label, method, origin, status,
        text_length), ordered by id."""
        return self._store.points()

    def search(self, query: str, *, mode: Literal["substring", "semantic"] = "substring",
               k: int = 50) -> list[dict[str, Any]]:
        """Rows whose text contains ``query`` (case-insensitive, by id), or with
        ``mode="semantic"`` the ``k`` nearest to it in meaning (``score``: cosine), as dicts of
        id, text, label, x, y, status and score."""
        if not query.strip():
            raise InputError("give some text to search for")
        if mode == "substring":
            found = self._store.search_text(query, k)
            scores: dict[int, float | None] = {int(i): None for i in found["id"]}
        elif mode == "semantic":
            ids, embeddings = self.all_embeddings()
            top = nearest(embeddings, self.encoder.encode([query])[0], k)
            scores = {int(ids[i]): round(float(s), 4) for i, s in top}
            found = self._store.rows(ids=list(scores), columns=("id", "text", "label", "x", "y", "status"))
            found = found.set_index("id").loc[list(scores)].reset_index()
        else:
            raise InputError(f"mode must be substring or semantic, not {mode!r}")
        return [{**{k: plain(v) for k, v in r.items()}, "score": scores[int(r["id"])]}
                for r in found.to_dict("records")]

    def info(self) -> dict[str, Any]:
        """A summary: counts by origin and status, columns, encoder, labels and clusters."""
        found = self._store.counts()
        counts, status = found["origin"], found["status"]
        total = sum(counts.values())
        return {
            "path": str(self.path),
            "rows": int(total),
            "original": int(counts.get("original", 0)),
            "augmented": int(counts.get("augmented", 0)),
            "manual": int(counts.get("manual", 0)),
            "accepted": int(status.get("accepted", 0)),
            "candidates": int(status.get("candidate", 0)),
            "rejected": int(status.get("rejected", 0)),
            "methods": found["method"],
            "text_column": self.meta.get("text_column"),
            "label_column": self.meta.get("label_column"),
            "encoder": self.meta.get("encoder"),
            "dim": self.meta.get("dim"),
            "labels": found["label"],
            "clusters": len(self.clusters()),
            "source": self.meta.get("source"),
            "skipped_empty": self.meta.get("skipped_empty", 0),
            "duplicates_folded": self.meta.get("folded_duplicates", 0),
            "projection_fitted_rows": self.meta.get("projection_fitted_rows"),
            "schema_version": self.meta.get("schema_version"),
            "concepts": self._store.get_meta("concepts"),
        }

    # -- writing ------------------------------------------------------------------------------
    def add_rows(
        self,
        texts: Sequence[str],
        *,
        origin: Origin = "augmented",
        method: str | None = None,
        parents: Sequence[int] | None = None,
        params: dict[str, Any] | Sequence[dict[str, Any]] | None = None,
        models: dict[str, Any] | None = None,
        status: Status = "candidate",
        label: str | None = None,
        embeddings: NDArray[np.float32] | None = None,
        progress: Progress = silent,
    ) -> list[int]:
        """Embed, place and store new rows in one transaction; return their ids.

        Texts already embedded in this workspace (by text hash) are not embedded again; pass
        ``embeddings`` when the caller has them already (a decoder scored them). ``params`` is one
        dict for all rows or one per row.
        """
        if origin not in ORIGINS:
            raise InputError(f"origin must be one of {', '.join(ORIGINS)}, not {origin!r}")
        if status not in STATUSES:
            raise InputError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        clean = [_check_text(t) for t in texts]
        if not clean:
            return []
        per_row = _per_row_params(params, len(clean))
        parent_ids = [int(p) for p in parents or []]
        if parent_ids:
            self._require_ids(parent_ids)
        vectors = self._vectors_for(clean, embeddings, progress)
        hashes = [text_hash(t) for t in clean]
        xy = self.place(vectors)
        clusters = self.nearest_cluster(vectors)
        start = self._store.next_row_id()
        ids = list(range(start, start + len(clean)))
        stamp = now()
        frame = pd.DataFrame({
            "id": ids, "text": clean, "text_hash": hashes, "label": [label] * len(clean),
            "origin": origin, "method": method, "parents": [parent_ids] * len(clean),
            "params": [json.dumps(p, sort_keys=True) for p in per_row],
            "models": json.dumps(models or {}, sort_keys=True), "status": status,
            "created_at": stamp, "updated_at": stamp, "x": xy[:, 0], "y": xy[:, 1],
            "cluster": clusters, "source_index": pd.array([None] * len(clean), dtype="Int64"),
            "dup_count": 1, "reviewed_by": None,
        })
        with self._store.transaction():
            self._store.put_embeddings(self.meta["encoder"], hashes, vectors)
            self._store.insert_rows(frame)
            self._store.record_action("add", {"ids": ids, "method": method, "origin": origin},
                                      inverse=[{"delete_rows": ids}])
        return ids

    def _vectors_for(self, texts: list[str], given: NDArray[np.float32] | None,
                     progress: Progress) -> NDArray[np.float32]:
        if given is not None:
            given = np.asarray(given, dtype=np.float32)
            if given.shape != (len(texts), self.meta["dim"]):
                raise InputError(f"embeddings must have shape ({len(texts)}, {self.meta['dim']})")
            return given
        hashes = [text_hash(t) for t in texts]
        known = self._store.known_hashes(self.meta["encoder"], hashes)
        todo = sorted({h: t for h, t in zip(hashes, texts, strict=True) if h not in known}.items())
        fresh = embed_texts(self.encoder, [t for _, t in todo], progress=progress)
        if todo:
            with self._store.transaction():
                self._store.put_embeddings(self.meta["encoder"], [h for h, _ in todo], fresh)
        return self._store.get_embeddings(self.meta["encoder"], hashes, self.meta["dim"])

    def set_status(self, ids: Sequence[int], status: Status, *, reviewer: str | None = None) -> None:
        """Accept, reject or return rows to candidates (one undoable action)."""
        if status not in STATUSES:
            raise InputError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        ids = [int(i) for i in ids]
        if not ids:
            raise InputError("give at least one row id")
        before = self._store.row_values(ids, ["status", "reviewed_by"])
        self._require_ids(ids, found={r["id"] for r in before})
        who = reviewer or _user()
        with self._store.transaction():
            self._store.set_rows([{"id": i, "status": status, "reviewed_by": who} for i in ids])
            self._store.record_action("status", {"rows": ids, "status": status},
                                      inverse=[{"set_rows": before}])

    def edit_row(self, row_id: int, text: str) -> dict[str, Any]:
        """Replace a row's text; it is re-embedded and re-placed on the map (undoable)."""
        old = self.row(row_id)
        clean = _check_text(text)
        vector = self._vectors_for([clean], None, silent)
        xy = self.place(vector)[0]
        cluster = int(self.nearest_cluster(vector)[0])
        previous = self._store.row_values([row_id], ["text", "text_hash", "x", "y", "cluster"])
        with self._store.transaction():
            self._store.set_rows([{"id": int(row_id), "text": clean, "text_hash": text_hash(clean),
                                   "x": float(xy[0]), "y": float(xy[1]), "cluster": cluster}])
            self._store.record_action("edit", {"id": int(row_id), "previous": {"text": old["text"]}},
                                      inverse=[{"set_rows": previous}])
        return self.row(row_id)

    def undo(self) -> dict[str, Any] | None:
        """Revert the last add, status change or edit not yet undone; return what was undone."""
        last = self._store.last_action()
        if last is None:
            return None
        seq, kind, payload = last
        with self._store.transaction():
            self._store.apply(payload.pop("inverse"))
            self._store.mark_undone(seq)
        return {"action": kind, **payload}

    def history(self, *, limit: int = 200) -> list[dict[str, Any]]:
        """The actions taken in this workspace, newest first."""
        return [{"seq": s, "action": k, **{key: v for key, v in p.items() if key != "inverse"},
                 "at": str(t), "undone": u} for s, k, p, t, u in self._store.actions(limit)]

    def export(self, path: str | Path, format: str = "csv", *, status: str = "accepted") -> Path:
        """Write the rows (``status``: accepted, all, candidate or rejected) to ``path``."""
        from amplio.data.export import export_rows

        if status not in ("all", *STATUSES):
            raise InputError(f"status must be all or one of {', '.join(STATUSES)}, not {status!r}",
                             field="status")
        frame = self.rows(status=None if status == "all" else status)
        return export_rows(frame, Path(path), format, meta=self.meta)

    def use_llm(self, llm: LLM, **decoder_options: Any) -> None:
        """Use ``llm`` (and these decoder options) for augmentation instead of the configured one."""
        self._augmenter = Augmenter(self, llm=llm, decoder_options=decoder_options)

    @property
    def augmenter(self) -> Augmenter:
        if self._augmenter is None:
            self._augmenter = Augmenter(self)
        return self._augmenter

    # -- concepts -----------------------------------------------------------------------------
    def train_concepts(self, *, seed: int = 0, progress: Progress = silent) -> dict[str, Any]:
        """(Re)train the concept model on the original rows; return its statistics."""
        from amplio.workspace.concepts import train_workspace_concepts

        return dict(train_workspace_concepts(self, seed=seed, progress=progress).stats)

    def concepts_for_row(self, row_id: int, *, top: int = 10) -> dict[str, Any]:
        """The row's top concepts (with activations) and related concepts for each."""
        from amplio.workspace.concepts import concepts_for_row

        return concepts_for_row(self, row_id, top=top)

    def related_concepts(self, concept_id: int, *, k: int = 5) -> list[dict[str, Any]]:
        """Concepts whose decoder vectors are closest to ``concept_id``'s."""
        from amplio.workspace.concepts import describe, ensure_concepts

        model = ensure_concepts(self)
        return [{**describe(model, c), "cosine": round(float(s), 4)} for c, s in model.related(concept_id, k=k)]

    def search_concepts(self, text: str, *, k: int = 10) -> list[dict[str, Any]]:
        """Concepts matching ``text`` by label or meaning."""
        from amplio.workspace.concepts import search_concepts

        return search_concepts(self, text, k=k)

    def concept(self, concept_id: int) -> dict[str, Any]:
        """One concept with its label, frequency and top rows."""
        from amplio.workspace.concepts import describe, ensure_concepts

        model = ensure_concepts(self)
        model.direction(concept_id)  # raises NotFoundError for an unknown id
        return describe(model, concept_id, self, rows=5)

    # -- augmentation -------------------------------------------------------------------------
    def augment(self, request: AugmentRequest, *, progress: Progress = silent) -> Augmentation:
        """Run one augmentation request (the same object the CLI and the server build)."""
        request.check()
        if request.method == "concepts":
            return self.augment_concepts(request.row_id, request.weights, n=request.n,
                                         seed=request.seed, progress=progress)
        if request.method == "interpolate":
            return self.augment_interpolate(request.row_id, to_row=request.to_row,
                                            to_point=request.to_point, n=request.n,
                                            seed=request.seed, progress=progress)
        return self.augment_llm(request.rows, request.instruction, n=request.n, seed=request.seed,
                                progress=progress)

    def augment_concepts(self, row_id: int, weights: Mapping[int, float], *, n: int = 3, seed: int = 0,
                         progress: Progress = silent) -> Augmentation:
        """Augment with Concepts: steer the row's embedding and decode up to ``n`` candidates."""
        return self.augmenter.concepts(row_id, weights, n=n, seed=seed, progress=progress)

    def augment_interpolate(self, row_id: int, *, to_row: int | None = None,
                            to_point: tuple[float, float] | None = None, n: int = 3, seed: int = 0,
                            progress: Progress = silent) -> Augmentation:
        """Augment by Interpolation: up to ``n`` steps towards another row or a map point."""
        return self.augmenter.interpolate(row_id, to_row=to_row, to_point=to_point, n=n, seed=seed,
                                          progress=progress)

    def augment_llm(self, row_ids: Sequence[int], instruction: str, *, n: int = 3, seed: int = 0,
                    progress: Progress = silent) -> Augmentation:
        """Augment with LLM: up to ``n`` variations of the rows following ``instruction``."""
        return self.augmenter.llm_variations(row_ids, instruction, n=n, seed=seed, progress=progress)

    def prompt_ideas(self, row_id: int, *, n: int = 5, seed: int = 0) -> list[str]:
        """Suggested instructions for Augment with LLM."""
        return self.augmenter.prompt_ideas(row_id, n=n, seed=seed)

    # -- gaps and reports ---------------------------------------------------------------------
    def gaps(self, *, top: int = 10, seed: int = 0, reference: str | Path | None = None,
             reference_text_column: str | None = None, progress: Progress = silent) -> list[dict[str, Any]]:
        """Rank the empty spaces of the live rows (recomputed and stored on each call).

        With ``reference`` (a CSV/TSV/JSON/JSONL/Parquet file of prompts; text column
        auto-detected unless ``reference_text_column`` is given): the regions the reference
        covers and the live rows do not. Its embeddings are cached in the workspace by content
        hash; each such gap also carries ``examples`` (reference texts) and ``reference``.
        """
        from amplio.workspace.gaps import compute_gaps

        return compute_gaps(self, top=top, seed=seed, reference=reference,
                            reference_text_column=reference_text_column, progress=progress)

    def fill_gap(self, gap_id: str, *, method: str, n: int = 3, seed: int = 0,
                 instruction: str | None = None, progress: Progress = silent) -> Augmentation:
        """Fill a gap from the last ``gaps()`` call with one augmentation method."""
        from amplio.workspace.gaps import fill_gap

        return fill_gap(self, gap_id, method=method, n=n, seed=seed, instruction=instruction,
                        progress=progress)

    def coverage(self, *, concepts: int = 20, top: int = 5) -> dict[str, Any]:
        """Concept coverage of the accepted rows: per label, the concepts common elsewhere but rare
        in it, and the label x concept matrix of the ``concepts`` most informative concepts."""
        from amplio.workspace.gaps import workspace_coverage

        return workspace_coverage(self, concepts=concepts, top=top)

    def report(self) -> dict[str, Any]:
        """Diversity of the original rows (before) and the accepted set (after)."""
        from amplio.workspace.gaps import diversity

        return diversity(self)

    # -- internal -----------------------------------------------------------------------------
    def _require_ids(self, ids: Sequence[int], found: set[int] | None = None) -> None:
        if found is None:
            found = self._store.existing_ids(ids)
        for i in ids:
            if int(i) not in found:
                raise NotFoundError(f"no row with id {i}")

    @property
    def store(self) -> Store:
        """The underlying storage (for the augmentation, concept and gap layers)."""
        return self._store


def _check_text(text: str) -> str:
    if not isinstance(text, str):
        raise InputError(f"a row's text must be a string, not {type(text).__name__}")
    clean = text.strip()
    if not clean:
        raise InputError("a row's text cannot be empty")
    if len(clean) > MAX_TEXT_CHARS:
        raise InputError(f"a row's text is {len(clean):,} characters long (limit {MAX_TEXT_CHARS:,})")
    return clean


def _per_row_params(params: dict[str, Any] | Sequence[dict[str, Any]] | None, n: int) -> list[dict[str, Any]]:
    if params is None:
        return [{} for _ in range(n)]
    if isinstance(params, dict):
        return [params] * n
    params = list(params)
    if len(params) != n:
        raise InputError(f"params has {len(params)} entries for {n} rows")
    return params


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"
