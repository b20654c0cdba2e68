"""``amplio embed``: embed a table's texts once and write id + vector to Parquet, on this machine
(``engine="local"``) or as a Ray Data job (``engine="ray"``), for ``amplio open --vectors``.

The file holds one row per input row with text: its id (the input's id column, or ``row``, the
input row number from 0), the hash of its text (so opening checks the vectors belong to the same
texts) and its vector; Parquet metadata names the encoder. Each distinct text is embedded once.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from amplio.config import Settings, load_settings
from amplio.data.ingest import _as_text, clean_rows, text_hash
from amplio.data.loaders import read_table
from amplio.data.vectors import ROW_ID, require_unique_ids, write_vectors
from amplio.embedding.batching import embed_texts
from amplio.embedding.registry import create_encoder
from amplio.engines.naming import EncoderSpec, parse_encoder
from amplio.errors import InputError
from amplio.progress import Progress, silent

Engine = Literal["local", "ray"]
ENGINES = ("local", "ray")


@dataclass
class EmbedResult:
    """What ``embed_file`` wrote and how long it took (``seconds``: ``start`` for loading the
    encoder or starting/joining the cluster, ``embed``, ``total``; ``cpu``: CPU seconds of this
    process and of the Ray encoder actors, start-up and model loads included, not Ray's own
    daemons)."""

    path: str
    rows: int
    texts: int
    dim: int
    encoder: str
    engine: str
    id_column: str
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float:
        return self.rows / max(self.seconds.get("total", 0.0), 1e-9)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"rows_per_s": round(self.rows_per_s, 1)}


def embed_file(
    source: str | Path | pd.DataFrame,
    output: str | Path,
    *,
    text_col: str | None = None,
    id_col: str | None = None,
    encoder: str | None = None,
    engine: Engine = "local",
    address: str | None = None,
    concurrency: int | None = None,
    batch_size: int | None = None,
    settings: Settings | None = None,
    progress: Progress = silent,
) -> EmbedResult:
    """Embed the texts of ``source`` and write ``output`` (Parquet: id, text hash, vector).

    ``encoder`` is ``[KIND:]MODEL`` (default: the configured encoder). ``engine="ray"`` runs
    the encoder as a Ray Data ``map_batches`` over the Ray cluster at ``address`` (``ray://HOST:
    10001``, or ``auto`` on a cluster node), or a local one started for the job;
    ``concurrency`` is the number of encoder actors (default: one per CPU of the cluster).

    Raises:
        InputError: bad input file, column or option (checked before any model loads).
        MissingDependencyError: Ray is not installed.
        BackendError: the cluster cannot be reached or the job failed.
    """
    if engine not in ENGINES:
        raise InputError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}", field="engine")
    if address and engine != "ray":
        raise InputError("an address is a Ray cluster's; it goes with the ray engine", field="address")
    if concurrency is not None and engine != "ray":
        raise InputError("concurrency is the number of Ray actors; it goes with the ray engine",
                         field="concurrency")
    if concurrency is not None and concurrency < 1:
        raise InputError(f"concurrency must be at least 1, not {concurrency}", field="concurrency")
    settings = settings or load_settings()
    spec = parse_encoder(encoder, settings.encoder) if encoder else EncoderSpec(settings.encoder,
                                                                                settings.encoder_model)
    batch_size = batch_size or settings.batch_size
    if batch_size < 1:
        raise InputError(f"batch size must be at least 1, not {batch_size}", field="batch_size")
    out_path = Path(output).expanduser()
    if out_path.suffix.lower() not in (".parquet", ".pq"):
        raise InputError(f"the vectors file is Parquet; give it the suffix .parquet, not "
                         f"{out_path.suffix or '(none)'!r}", field="output")
    frame = source if isinstance(source, pd.DataFrame) else read_table(source)
    rows = clean_rows(frame, text_col)
    if id_col is not None:
        if id_col not in frame.columns:
            raise InputError(f"id column {id_col!r} is not a column of the input", field="id_col")
        require_unique_ids(frame[id_col].to_numpy(dtype=object), id_col)
    # One output row per input row with text; duplicates share the vector of their text.
    texts = frame[rows.text_column].map(_as_text)
    kept = np.flatnonzero(texts.str.len().to_numpy() > 0)
    hashes = [text_hash(t) for t in texts.iloc[kept]]
    unique = rows.frame["text"].tolist()
    where = {h: i for i, h in enumerate(rows.frame["text_hash"])}

    total_start, cpu_start = time.perf_counter(), time.process_time()
    actor_cpu = 0.0
    if engine == "ray":
        from amplio.engines.ray_engine import embed_on_ray

        name, vectors, start_s, actor_cpu = embed_on_ray(
            unique, spec, address=address, concurrency=concurrency, batch_size=batch_size,
            progress=progress)
    else:
        start = time.perf_counter()
        loaded = create_encoder(spec.kind, spec.model)
        start_s = time.perf_counter() - start
        name, vectors = loaded.name, embed_texts(loaded, unique, batch_size=batch_size, progress=progress)
    embed_s = time.perf_counter() - total_start - start_s
    ids: Any = (frame[id_col].to_numpy(dtype=object)[kept] if id_col is not None else kept)
    from amplio import __version__

    meta = {"encoder": name, "encoder_kind": spec.kind, "encoder_model": spec.model,
            "dim": vectors.shape[1], "text_column": rows.text_column, "rows": len(kept),
            "source": "<DataFrame>" if isinstance(source, pd.DataFrame) else str(Path(source).resolve()),
            "engine": engine, "amplio_version": __version__}
    full: NDArray[np.float32] = vectors[[where[h] for h in hashes]]
    path = write_vectors(out_path, _plain_ids(ids), id_col or ROW_ID, hashes, full, meta)
    total = time.perf_counter() - total_start
    cpu = time.process_time() - cpu_start + actor_cpu
    return EmbedResult(str(path), len(kept), len(unique), int(vectors.shape[1]), name, engine,
                       id_col or ROW_ID, {"start": round(start_s, 3), "embed": round(embed_s, 3),
                                          "total": round(total, 3), "cpu": round(cpu, 3)})


def _plain_ids(ids: Any) -> list[Any]:
    """Ids Arrow can store in one column: as they are when they share a type, else as text."""
    values = [v.item() if isinstance(v, np.generic) else v for v in ids]
    kinds = {type(v) for v in values}
    return values if len(kinds) <= 1 else [str(v) for v in values]


