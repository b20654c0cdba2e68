"""The workspace's DuckDB file: connect, transact, and every statement that reads or writes it.

Nothing else in Amplio writes SQL. The names of stored artifacts live here too (``PROJECTION``,
``CONCEPTS``, ...), so a module asks for "the concept model", not for a string it made up.
"""

from __future__ import annotations

import functools
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
import pyarrow.compute as pc
from numpy.typing import NDArray

from amplio.data.records import plain
from amplio.errors import WorkspaceError, WorkspaceLockedError, WorkspaceWriteError
from amplio.workspace.schema import DB_FILE, DDL, ROW_COLUMNS, SCHEMA_VERSION

# Artifacts: what a workspace stores besides rows and embeddings.
PROJECTION = "projection"
CLUSTER_CENTROIDS = "cluster_centroids"
CONCEPTS = "concepts"
CONCEPT_ROW_IDS = "concepts_row_ids"
GAPS = "gaps"
REFERENCE_EMBEDDINGS = "gaps-reference"  # + ":" + content hash, text column and encoder

# Vectors per INSERT: bounds the memory of storing a large set.
EMBEDDING_INSERT_ROWS = 50_000

# Columns a write may set on existing rows (``set_rows``), so no caller's text becomes SQL.
_SETTABLE = frozenset({"status", "reviewed_by", "text", "text_hash", "x", "y", "cluster"})

# DuckDB's file starts with three 4 KiB headers, then its blocks.
_HEADER_BYTES = 3 * 4096
# How DuckDB words the operating system's refusal of a write.
_DISK_FULL = ("No space left on device", "File too large", "Disk quota exceeded")
_NOT_WRITABLE = ("Permission denied", "Read-only file system", "Operation not permitted")


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
            if any(s in message for s in _NOT_WRITABLE):
                if read_only:
                    raise WorkspaceError(f"cannot read workspace {folder}: {_os_reason(message)}") from None
                raise WorkspaceWriteError(
                    f"cannot open workspace {folder} for writing: it is not writable "
                    f"({_os_reason(message)}); make it writable again, or only read it "
                    "(amplio info, amplio export)") from None
            if "not a valid DuckDB database file" in message:
                raise WorkspaceError(f"{folder} is not an Amplio workspace (or is damaged): its {DB_FILE} "
                                     "is not a DuckDB database") from None
            raise WorkspaceError(f"workspace {folder} is damaged or cannot be read: {_first_line(message)}") from None
        except duckdb.Error as exc:
            raise WorkspaceError(f"workspace {folder} is damaged or not a DuckDB file: {_first_line(exc)}") from None
        try:
            if create:
                self.con.execute(DDL)
                self.set_meta("schema_version", SCHEMA_VERSION)
            self._check_version(None if create else db)
        except BaseException as exc:
            # Without this the refused connection lives on in this process, and the next open of
            # the same file (e.g. read-only after read-write) fails with a confusing DuckDB error.
            self.con.close()
            if isinstance(exc, duckdb.Error):
                raise storage_error(exc, folder) or WorkspaceError(
                    f"workspace {folder} is damaged: {_first_line(exc)}") from exc
            raise

    def _check_size(self, db: Path) -> None:
        """Refuse a file cut short (a failed copy, a full disk): the blocks its tables and
        catalog use must all be in it, or whichever read reaches the end fails, mid-command."""
        import duckdb

        try:
            (block_size,) = self._one("SELECT block_size FROM pragma_database_size() "
                                      "WHERE database_name = current_database()") or (0,)
            used = [b for (b,) in self.con.execute("SELECT block_id FROM pragma_metadata_info()").fetchall()]
        except (duckdb.BinderException, duckdb.CatalogException, duckdb.ParserException):
            return  # a DuckDB without these views: open as before, unchecked
        tables = {t for (t,) in self.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()}
        for table in _expected_columns():  # fixed names: nothing from the file becomes SQL
            if table in tables:
                try:
                    used.extend(self._one(
                        "SELECT max(block_id), max(list_max(additional_block_ids)) "
                        f"FROM pragma_storage_info('{table}') WHERE persistent") or ())
                except (duckdb.BinderException, duckdb.CatalogException, duckdb.ParserException):
                    return
        blocks = [int(b) for b in used if b is not None and int(b) >= 0]
        if not blocks or not block_size:
            return
        # Block n lives at _HEADER_BYTES + n * block_size; free blocks at the end may be cut
        # off by DuckDB itself, so only the used ones count.
        need = _HEADER_BYTES + (max(blocks) + 1) * int(block_size)
        size = db.stat().st_size
        if size < need:
            raise WorkspaceError(
                f"workspace {self.folder} is damaged: {DB_FILE} is {size:,} bytes but its contents "
                f"need {need:,} (cut short by a failed copy or a full disk?); restore it from a backup")

    def _check_version(self, db: Path | None) -> None:
        if db is not None:  # first: reading the meta table may already reach a missing block
            self._check_size(db)
        version = self._schema_version()
        if version > SCHEMA_VERSION:
            raise WorkspaceError(
                f"workspace {self.folder} has schema version {version}, newer than this Amplio "
                f"understands ({SCHEMA_VERSION}); upgrade amplio (pip install -U amplio)"
            )
        # Only after the version: a newer Amplio may have changed the tables.
        self._check_tables()
        if version < SCHEMA_VERSION and not self.read_only:
            with self.transaction():
                _migrate(self, version)
                self.set_meta("schema_version", SCHEMA_VERSION)

    def _schema_version(self) -> int:
        if self._columns().get("meta") != _expected_columns()["meta"]:
            raise self._foreign("it has no meta table of keys and values")
        try:
            version = self.all_meta().get("schema_version")
            if version is None:
                raise WorkspaceError(f"{self.folder} has no schema version; it was not made by Amplio")
            return int(version)
        except (ValueError, TypeError):  # not JSON, or not a number
            raise self._foreign("its meta table holds values Amplio did not write") from None

    def _check_tables(self) -> None:
        """Refuse tables that differ from Amplio's: a query would otherwise fail later, in the
        middle of whatever command first reads the table."""
        found = self._columns()
        for table, columns in _expected_columns().items():
            have = found.get(table)
            if have is None:
                raise self._foreign(f"it has no {table} table")
            wanted, given = dict(columns), dict(have)
            for name, kind in sorted(wanted.items()):
                if name not in given:
                    raise self._foreign(f"its {table} table has no column {name}")
                if given[name] != kind:
                    raise self._foreign(f"column {table}.{name} is {given[name]}, not {kind}")
            extra = sorted(set(given) - set(wanted))
            if extra:
                raise self._foreign(f"its {table} table has a column {extra[0]} that Amplio does not write")

    def _columns(self) -> dict[str, frozenset[tuple[str, str]]]:
        return _columns_of(self.con)

    def _foreign(self, why: str) -> WorkspaceError:
        return WorkspaceError(f"{self.folder} is not an Amplio workspace (or is damaged): {why}")

    def close(self) -> None:
        self.con.close()

    def _one(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row of a query, reading the result to its end: DuckDB keeps a partly read
        result open, and the next ``register`` on the connection then fails ("unfinished
        result") -- what a fuzzer found after ``GET /api/info``."""
        rows = self.con.execute(sql, list(args)).fetchall()
        return tuple(rows[0]) if rows else None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: commit on success, roll back on any exception."""
        if self.read_only:
            raise WorkspaceError(f"workspace {self.folder} is open read-only; open it for writing to change it")
        import duckdb

        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException as exc:
            self._rollback()
            failure = storage_error(exc, self.folder)
            if failure is not None:
                raise failure from exc
            raise
        try:
            self.con.execute("COMMIT")
        except duckdb.Error as exc:
            # The log write failed; DuckDB has ended the transaction, so its changes are gone
            # from memory and from disk (a torn log entry is skipped when the file is opened).
            self._rollback()
            raise storage_error(exc, self.folder) or WorkspaceWriteError(
                f"cannot save to workspace {self.folder}: {_first_line(exc)}; nothing was changed") from exc

    def _rollback(self) -> None:
        import duckdb

        try:
            self.con.execute("ROLLBACK")
        except duckdb.Error:  # none open: a failed COMMIT ends its transaction itself
            pass

    # -- meta and artifacts -------------------------------------------------------------------
    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self._one("SELECT value FROM meta WHERE key = ?", [key])
        return json.loads(row[0]) if row else default

    def all_meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.con.execute("SELECT key, value FROM meta").fetchall()}

    def set_meta(self, key: str, value: Any) -> None:
        self.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, json.dumps(value)])

    def put_artifact(self, name: str, data: bytes) -> None:
        self.con.execute("INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?)", [name, data, now()])

    def get_artifact(self, name: str) -> bytes | None:
        row = self._one("SELECT data FROM artifacts WHERE name = ?", [name])
        return bytes(row[0]) if row else None

    # -- embeddings ---------------------------------------------------------------------------
    def put_embeddings(self, model: str, hashes: Sequence[str], vectors: NDArray[np.float32]) -> None:
        if len(hashes) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        # In slices: one INSERT of a million vectors held an Arrow copy of them all and DuckDB's
        # working set for the whole key index at once (11 GiB at 1M rows).
        for start in range(0, len(hashes), EMBEDDING_INSERT_ROWS):
            self._insert_embeddings(model, hashes[start : start + EMBEDDING_INSERT_ROWS],
                                    vectors[start : start + EMBEDDING_INSERT_ROWS])

    def _insert_embeddings(self, model: str, hashes: Sequence[str], vectors: NDArray[np.float32]) -> None:
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

    def rows(self, *, status: str | None = None, origin: str | None = None,
             ids: Sequence[int] | None = None, columns: Sequence[str] = ROW_COLUMNS) -> pd.DataFrame:
        """Rows (the given ``columns``) filtered by status, origin and ids, ordered by id."""
        unknown = [c for c in columns if c not in ROW_COLUMNS and c != "text_hash"]
        if unknown:
            raise ValueError(f"no row column {unknown[0]!r}")
        where, args = [], []  # type: list[str], list[Any]
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if origin is not None:
            where.append("origin = ?")
            args.append(origin)
        if ids is not None:
            where.append("list_contains(?, id)")
            args.append([int(i) for i in ids])
        sql = f"SELECT {', '.join(columns)} FROM rows"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return self.con.execute(sql + " ORDER BY id", args).df()

    def hashes(self, ids: Sequence[int]) -> dict[int, str]:
        """The text hash of each of ``ids`` that exists."""
        found = self.con.execute("SELECT id, text_hash FROM rows WHERE list_contains(?, id)",
                                 [[int(i) for i in ids]]).fetchall()
        return {int(i): str(h) for i, h in found}

    def ids_and_hashes(self) -> tuple[NDArray[np.int64], list[str]]:
        """Every row's id and text hash, ordered by id."""
        table = self.con.execute("SELECT id, text_hash FROM rows ORDER BY id").fetchnumpy()
        return np.asarray(table["id"], dtype=np.int64), [str(h) for h in table["text_hash"]]

    def all_hashes(self) -> set[str]:
        """The text hashes of every row."""
        return {str(h) for h in self.con.execute("SELECT text_hash FROM rows").fetchnumpy()["text_hash"]}

    def existing_ids(self, ids: Sequence[int]) -> set[int]:
        """Those of ``ids`` that are rows."""
        return {int(i) for (i,) in self.con.execute(
            "SELECT id FROM rows WHERE list_contains(?, id)", [[int(i) for i in ids]]).fetchall()}

    def row_values(self, ids: Sequence[int], columns: Sequence[str]) -> list[dict[str, Any]]:
        """``columns`` of the rows ``ids`` (with ``id``), as dicts, for recording what a write
        will change."""
        settable = [c for c in columns if c in _SETTABLE]
        frame = self.rows(ids=ids, columns=["id", *settable])
        return [{k: plain(v) for k, v in r.items()} for r in frame.to_dict("records")]

    def set_rows(self, rows: Sequence[dict[str, Any]]) -> None:
        """Set columns of existing rows (and their ``updated_at``): each dict holds ``id`` and
        the columns to set."""
        stamp = now()
        for row in rows:
            columns = [c for c in row if c != "id"]
            bad = [c for c in columns if c not in _SETTABLE]
            if bad:
                raise ValueError(f"row column {bad[0]!r} cannot be set")
            assignments = ", ".join([f"{c} = ?" for c in columns] + ["updated_at = ?"])
            self.con.execute(f"UPDATE rows SET {assignments} WHERE id = ?",
                             [row[c] for c in columns] + [stamp, int(row["id"])])

    def delete_rows(self, ids: Sequence[int]) -> None:
        self.con.execute("DELETE FROM rows WHERE list_contains(?, id)", [[int(i) for i in ids]])

    def next_row_id(self) -> int:
        (value,) = self._one("SELECT coalesce(max(id) + 1, 0) FROM rows") or (0,)
        return int(value)

    def counts(self) -> dict[str, dict[str, int]]:
        """Row counts by origin, by status, by method, and by label of the rows not rejected
        (labels most frequent first)."""
        con = self.con
        labels = con.execute(
            "SELECT label, count(*) AS n FROM rows WHERE label IS NOT NULL AND status != 'rejected' "
            "GROUP BY label ORDER BY n DESC, label").fetchall()
        return {
            "origin": {str(k): int(v) for k, v in con.execute(
                "SELECT origin, count(*) FROM rows GROUP BY origin").fetchall()},
            "status": {str(k): int(v) for k, v in con.execute(
                "SELECT status, count(*) FROM rows GROUP BY status").fetchall()},
            "method": {str(k): int(v) for k, v in con.execute(
                "SELECT method, count(*) FROM rows WHERE method IS NOT NULL GROUP BY method").fetchall()},
            "label": {str(k): int(v) for k, v in labels},
        }

    def points(self) -> pd.DataFrame:
        """What the map draws of every row: id, x, y, cluster, label, method (origin where there
        is none), origin, status and text length, ordered by id."""
        table = self.con.sql(
            "SELECT id, x, y, cluster, label, coalesce(method, origin) AS method, origin, status, "
            "length(text) AS text_length FROM rows ORDER BY id").to_arrow_table()
        # Through Arrow, with the text columns dictionary-encoded into pandas categoricals: a
        # Python string per row and column took three quarters of the map's load at 1M rows.
        for name in ("label", "method", "origin", "status"):
            index = table.schema.get_field_index(name)
            table = table.set_column(index, name, pc.dictionary_encode(table.column(name)))
        return table.to_pandas()

    def search_text(self, query: str, limit: int) -> pd.DataFrame:
        """Rows whose text contains ``query`` (case-insensitive), by id. The query is a bound
        parameter: it is data and never becomes part of the statement."""
        return self.con.execute(
            "SELECT id, text, label, x, y, status FROM rows WHERE contains(lower(text), lower(?)) "
            "ORDER BY id LIMIT ?", [query, int(limit)]).df()

    # -- clusters -----------------------------------------------------------------------------
    def put_clusters(self, clusters: Sequence[tuple[int, list[str], int]]) -> None:
        """Store ``(id, keywords, size)`` per cluster."""
        for cid, keywords, size in clusters:
            self.con.execute("INSERT INTO clusters VALUES (?, ?, ?)", [int(cid), json.dumps(keywords), int(size)])

    def clusters(self) -> list[tuple[int, list[str], int]]:
        """``(id, keywords, size)`` per cluster, by id."""
        return [(int(c), json.loads(k), int(s)) for c, k, s in
                self.con.execute("SELECT id, keywords, size FROM clusters ORDER BY id").fetchall()]

    def cluster_centres(self) -> dict[int, tuple[float, float]]:
        """The median map position of each cluster's original rows."""
        found = self.con.execute(
            "SELECT cluster, median(x), median(y) FROM rows WHERE origin = 'original' GROUP BY cluster"
        ).fetchall()
        return {int(c): (float(x), float(y)) for c, x, y in found if c is not None}

    # -- actions (undo) -----------------------------------------------------------------------
    def record_action(self, kind: str, payload: dict[str, Any], inverse: Sequence[dict[str, Any]]) -> int:
        """Record a write and the operations that undo it (see ``apply``)."""
        (seq,) = self._one("SELECT coalesce(max(seq) + 1, 0) FROM actions") or (0,)
        self.con.execute("INSERT INTO actions VALUES (?, ?, ?, ?, FALSE)",
                         [seq, kind, json.dumps({**payload, "inverse": list(inverse)}, default=str), now()])
        return int(seq)

    def last_action(self) -> tuple[int, str, dict[str, Any]] | None:
        row = self._one("SELECT seq, kind, payload FROM actions WHERE NOT undone ORDER BY seq DESC LIMIT 1")
        return (int(row[0]), str(row[1]), json.loads(row[2])) if row else None

    def apply(self, operations: Sequence[dict[str, Any]]) -> None:
        """Run recorded operations: ``{"delete_rows": ids}`` or ``{"set_rows": [row, ...]}``."""
        for op in operations:
            if "delete_rows" in op:
                self.delete_rows(op["delete_rows"])
            if "set_rows" in op:
                self.set_rows(op["set_rows"])

    def mark_undone(self, seq: int) -> None:
        self.con.execute("UPDATE actions SET undone = TRUE WHERE seq = ?", [int(seq)])

    def actions(self, limit: int) -> list[tuple[int, str, dict[str, Any], Any, bool]]:
        """The latest ``limit`` actions, newest first: ``(seq, kind, payload, at, undone)``."""
        found = self.con.execute(
            "SELECT seq, kind, payload, created_at, undone FROM actions ORDER BY seq DESC LIMIT ?",
            [int(limit)]).fetchall()
        return [(int(s), str(k), json.loads(p), t, bool(u)) for s, k, p, t, u in found]

    def checkpoint(self) -> None:
        """Write the log into the database file (a finished build leaves no log behind)."""
        import duckdb

        try:
            self.con.execute("CHECKPOINT")
        except duckdb.Error as exc:
            raise storage_error(exc, self.folder) or WorkspaceWriteError(
                f"cannot save to workspace {self.folder}: {_first_line(exc)}") from exc


def storage_error(exc: BaseException, folder: Path | None = None) -> WorkspaceError | None:
    """The user's error for a DuckDB failure that the disk or the file caused, not a bug: a
    write the system refused (``WorkspaceWriteError``), or a file that cannot be read
    (``WorkspaceError``). ``None`` for any other exception.

    The doors use it too, so a damaged file met in the middle of a command ends in one line,
    not a traceback.
    """
    import duckdb

    if not isinstance(exc, duckdb.Error):
        return None
    message = str(exc)
    where = f"workspace {folder}" if folder is not None else "the workspace"
    if any(s in message for s in _DISK_FULL):
        return WorkspaceWriteError(
            f"cannot save to {where}: the disk is full or a file size limit was reached "
            f"({_os_reason(message)}); nothing was changed. Free some space and try again")
    if any(s in message for s in _NOT_WRITABLE):
        return WorkspaceWriteError(
            f"cannot save to {where}: it is not writable ({_os_reason(message)}); nothing was "
            "changed. Make the folder and its files writable again and try again")
    if "invalidated" in message:  # DuckDB refuses every statement after a fatal write error
        return WorkspaceWriteError(
            f"{where} stopped taking changes after a failed write ({_first_line(exc)}); restart "
            "amplio: every change saved before the failure is kept")
    if isinstance(exc, duckdb.IOException) or "Corrupt database" in message:
        return WorkspaceError(f"{where} is damaged or cannot be read: {_first_line(exc)}")
    return None


def _os_reason(message: str) -> str:
    """The file and the system's reason from DuckDB's longer message, e.g. ``could not write
    workspace.duckdb.wal: File too large``."""
    found = re.search(r'(Could not \w+|Cannot \w+) file "([^"]+)": ([^\n]+)', message)
    if found is None:
        return _first_line(message)
    return f"{found.group(1).lower()} {Path(found.group(2)).name}: {found.group(3).strip()}"


def _first_line(exc: BaseException | str) -> str:
    return (str(exc).strip().splitlines() or [""])[0]


def _columns_of(con: Any) -> dict[str, frozenset[tuple[str, str]]]:
    found: dict[str, set[tuple[str, str]]] = {}
    for table, column, kind in con.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = 'main'").fetchall():
        found.setdefault(str(table), set()).add((str(column), str(kind)))
    return {t: frozenset(c) for t, c in found.items()}


@functools.cache
def _expected_columns() -> dict[str, frozenset[tuple[str, str]]]:
    """Each table's columns and types as this version's ``DDL`` makes them (read back from
    DuckDB, so the types are spelled as DuckDB reports a file's)."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        con.execute(DDL)
        return _columns_of(con)
    finally:
        con.close()


def _migrate(store: Store, version: int) -> None:
    """Bring a workspace written by an older Amplio up to ``SCHEMA_VERSION``.

    1 -> 2: actions record the operations that undo them (``inverse``); version 1 recorded only
    what each kind of action had changed, and undo rebuilt the inverse from the kind.
    """
    if version < 2:
        from amplio.data.ingest import text_hash

        for seq, kind, payload, _, _ in store.actions(limit=1 << 62):
            if "inverse" in payload:
                continue
            if kind == "add":
                inverse: list[dict[str, Any]] = [{"delete_rows": payload["ids"]}]
            elif kind == "status":
                inverse = [{"set_rows": [{"id": i, "status": s, "reviewed_by": r}
                                         for i, s, r in payload["rows"]]}]
            else:  # edit
                prev = payload["previous"]
                inverse = [{"set_rows": [{"id": payload["id"], "text": prev["text"],
                                          "text_hash": text_hash(prev["text"]), "x": prev["x"],
                                          "y": prev["y"], "cluster": prev["cluster"]}]}]
            store.con.execute("UPDATE actions SET payload = ? WHERE seq = ?",
                              [json.dumps({**payload, "inverse": inverse}), seq])
