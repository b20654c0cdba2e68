"""Low-level access to a workspace's DuckDB file: connect, transact, read and write tables."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import NDArray

from amplio.errors import WorkspaceError, WorkspaceLockedError
from amplio.workspace.schema import DB_FILE, DDL, SCHEMA_VERSION


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Store:
    """One open connection to ``<folder>/workspace.duckdb``.

    DuckDB takes an exclusive file lock for a writer, so a second process that tries to write
    gets ``WorkspaceLockedError`` instead of a corrupted file; every multi-statement change runs
    inside ``transaction()`` and is durable once it returns (DuckDB's write-ahead log).
    """

    def __init__(self, folder: Path, *, read_only: bool = False, create: bool = False) -> None:
        import duckdb

        self.folder = folder
        self.read_only = read_only
        db = folder / DB_FILE
        if not create and not db.exists():
            raise WorkspaceError(f"{folder} is not an Amplio workspace (no {DB_FILE} in it)")
        try:
            self.con = duckdb.connect(str(db), read_only=read_only)
        except duckdb.IOException as exc:
            message = str(exc)
            if "lock" in message.lower():
                pid = re.search(r"PID (\d+)", message)
                holder = f" (process {pid.group(1)})" if pid else ""
                raise WorkspaceLockedError(
                    f"workspace {folder} is open for writing in another process{holder}; "
                    "close that process (e.g. stop `amplio serve`) and try again"
                ) from None
            raise WorkspaceError(f"cannot open workspace {folder}: {message.splitlines()[0]}") from None
        except duckdb.Error as exc:
            raise WorkspaceError(f"workspace {folder} is damaged or not a DuckDB file: {exc}") from None
        try:
            if create:
                self.con.execute(DDL)
                self.set_meta("schema_version", SCHEMA_VERSION)
            self._check_version()
        except BaseException:
            # Without this the refused connection lives on in this process, and the next open of
            # the same file (e.g. read-only after read-write) fails with a confusing DuckDB error.
            self.con.close()
            raise

    def _check_version(self) -> None:
        version = self.get_meta("schema_version")
        if version is None:
            raise WorkspaceError(f"{self.folder} has no schema version; it was not made by Amplio")
        if int(version) > SCHEMA_VERSION:
            raise WorkspaceError(
                f"workspace {self.folder} has schema version {version}, newer than this Amplio "
                f"understands ({SCHEMA_VERSION}); upgrade amplio (pip install -U amplio)"
            )

    def close(self) -> None:
        self.con.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: commit on success, roll back on any exception."""
        if self.read_only:
            raise WorkspaceError(f"workspace {self.folder} is open read-only; open it for writing to change it")
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    # -- meta and artifacts -------------------------------------------------------------------
    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return json.loads(row[0]) if row else default

    def all_meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.con.execute("SELECT key, value FROM meta").fetchall()}

    def set_meta(self, key: str, value: Any) -> None:
        self.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, json.dumps(value)])

    def put_artifact(self, name: str, data: bytes) -> None:
        self.con.execute("INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?)", [name, data, now()])

    def get_artifact(self, name: str) -> bytes | None:
        row = self.con.execute("SELECT data FROM artifacts WHERE name = ?", [name]).fetchone()
        return bytes(row[0]) if row else None

    # -- embeddings ---------------------------------------------------------------------------
    def put_embeddings(self, model: str, hashes: Sequence[str], vectors: NDArray[np.float32]) -> None:
        if len(hashes) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        values = pa.array(vectors.reshape(-1))
        offsets = pa.array(np.arange(0, vectors.size + 1, vectors.shape[1], dtype=np.int32))
        table = pa.table({
            "model": pa.array([model] * len(hashes)),
            "text_hash": pa.array(list(hashes)),
            "vector": pa.ListArray.from_arrays(offsets, values),
        })
        self.con.register("_new_embeddings", table)
        try:
            self.con.execute(
                "INSERT OR IGNORE INTO embeddings SELECT model, text_hash, vector FROM _new_embeddings"
            )
        finally:
            self.con.unregister("_new_embeddings")

    def known_hashes(self, model: str, hashes: Sequence[str]) -> set[str]:
        if len(hashes) == 0:
            return set()
        probe = pa.table({"text_hash": pa.array(list(hashes))})
        self.con.register("_probe", probe)
        try:
            found = self.con.execute(
                "SELECT e.text_hash FROM embeddings e JOIN _probe p USING (text_hash) WHERE e.model = ?",
                [model],
            ).fetchall()
        finally:
            self.con.unregister("_probe")
        return {h for (h,) in found}

    def get_embeddings(self, model: str, hashes: Sequence[str], dim: int) -> NDArray[np.float32]:
        """Vectors for ``hashes`` in the same order (every hash must be stored)."""
        if len(hashes) == 0:
            return np.zeros((0, dim), dtype=np.float32)
        probe = pa.table({"text_hash": pa.array(list(hashes)), "pos": pa.array(np.arange(len(hashes)))})
        self.con.register("_probe", probe)
        try:
            result = self.con.sql(
                "SELECT p.pos, e.vector FROM _probe p JOIN embeddings e "
                "ON e.text_hash = p.text_hash AND e.model = $model ORDER BY p.pos",
                params={"model": model},
            ).to_arrow_table()
        finally:
            self.con.unregister("_probe")
        if result.num_rows != len(hashes):
            raise WorkspaceError(f"{len(hashes) - result.num_rows} embeddings are missing from the workspace")
        flat = result.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
        return flat.astype(np.float32, copy=False).reshape(len(hashes), dim)

    # -- rows ---------------------------------------------------------------------------------
    def insert_rows(self, frame: pd.DataFrame) -> None:
        """Insert rows given as a DataFrame with every column of the ``rows`` table."""
        table = pa.Table.from_pandas(frame, preserve_index=False)
        self.con.register("_new_rows", table)
        try:
            cols = ", ".join(frame.columns)
            self.con.execute(f"INSERT INTO rows ({cols}) SELECT {cols} FROM _new_rows")
        finally:
            self.con.unregister("_new_rows")

    def next_row_id(self) -> int:
        (value,) = self.con.execute("SELECT coalesce(max(id) + 1, 0) FROM rows").fetchone()  # type: ignore[misc]
        return int(value)

    def record_action(self, kind: str, payload: dict[str, Any]) -> int:
        (seq,) = self.con.execute("SELECT coalesce(max(seq) + 1, 0) FROM actions").fetchone()  # type: ignore[misc]
        self.con.execute("INSERT INTO actions VALUES (?, ?, ?, ?, FALSE)",
                         [seq, kind, json.dumps(payload), now()])
        return int(seq)

    def last_action(self) -> tuple[int, str, dict[str, Any]] | None:
        row = self.con.execute(
            "SELECT seq, kind, payload FROM actions WHERE NOT undone ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return (int(row[0]), str(row[1]), json.loads(row[2])) if row else None
