"""Faults in the workspace folder, through the real `amplio` command in its own process: a disk
that fills, a folder that turns read-only, and crafted or damaged files. Each ends in one line
on stderr and exit status 2, and leaves what was saved intact. See docs/faults.md."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import amplio
from amplio.workspace.schema import DB_FILE
from fault_prefixes import limited, unprivileged

AMPLIO = shutil.which("amplio") or str(Path(sys.executable).with_name("amplio"))
ROWS = 300  # small_workspace_path's


def amplio_cli(*args: str, prefix: list[str] | None = None, cwd: Path | None = None,
               timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*(prefix or []), AMPLIO, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single ``amplio: error:`` line of a refused command (exit 2, no traceback).

    Libraries may draw progress bars on stderr before the error (loading the encoder); those
    are no error lines, and a traceback is never allowed.
    """
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and "Loading weights" not in line]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("amplio: error: ")
    return lines[0][len("amplio: error: "):]


def contents(folder: Path) -> tuple[int, list[str], list[str]]:
    """What a workspace holds: its row count, its texts and its history."""
    with amplio.load(folder, read_only=True) as ws:
        return ws.info()["rows"], ws.rows()["text"].tolist(), [h["action"] for h in ws.history()]


@pytest.fixture
def ws_copy(small_workspace_path: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "copy.amplio"
    shutil.copytree(small_workspace_path, folder)
    return folder


# -- (b) the disk fills, the folder turns read-only ---------------------------------------------
@pytest.mark.slow
def test_add_on_a_full_disk_exits_2_and_keeps_the_workspace(ws_copy: Path) -> None:
    before = contents(ws_copy)
    # 1 KiB: a row's log entry (its embedding alone is 1.5 KiB) does not fit.
    result = amplio_cli("add", str(ws_copy), "A prompt that will not fit on the disk.", prefix=limited(1024))
    message = one_error_line(result)
    assert message.startswith(f"cannot save to workspace {ws_copy}: the disk is full or a file size limit was reached")
    assert "File too large" in message and message.endswith("nothing was changed. Free some space and try again")
    assert contents(ws_copy) == before
    done = amplio_cli("add", str(ws_copy), "A prompt once there is room again.")
    assert done.returncode == 0 and done.stdout.strip() == f"added row {ROWS}"
    assert contents(ws_copy)[0] == ROWS + 1


@pytest.mark.slow
def test_open_on_a_full_disk_leaves_no_workspace(aart_slice_frame: pd.DataFrame, tmp_path: Path) -> None:
    csv = tmp_path / "small.csv"
    aart_slice_frame.head(30).to_csv(csv, index=False)
    target = tmp_path / "new.amplio"
    result = amplio_cli("open", str(csv), "--text-col", "prompt", "--workspace", str(target),
                        prefix=limited(64 * 1024), cwd=tmp_path)
    message = one_error_line(result)
    # The message names the folder asked for, not the hidden one it was built in.
    assert message.startswith(f"cannot save to workspace {target}: the disk is full")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.csv"]


@pytest.mark.slow
def test_writes_to_a_read_only_folder_exit_2_and_reads_still_work(ws_copy: Path) -> None:
    prefix = unprivileged()
    before = contents(ws_copy)
    db = ws_copy / DB_FILE
    try:
        ws_copy.chmod(0o555)  # the file itself stays writable: the change's log cannot be made
        message = one_error_line(amplio_cli("reject", str(ws_copy), "3", prefix=prefix))
        assert message.startswith(f"cannot save to workspace {ws_copy}: it is not writable")
        assert "Permission denied" in message and "nothing was changed" in message
        db.chmod(0o444)  # now the file too: it cannot even be opened for writing
        message = one_error_line(amplio_cli("add", str(ws_copy), "Never stored.", prefix=prefix))
        assert message.startswith(f"cannot open workspace {ws_copy} for writing: it is not writable")
        info = amplio_cli("info", str(ws_copy), "--json", prefix=prefix)  # reading needs no write
        assert info.returncode == 0 and f'"rows": {ROWS}' in info.stdout
    finally:
        db.chmod(0o644)
        ws_copy.chmod(0o755)
    assert contents(ws_copy) == before
    assert amplio_cli("reject", str(ws_copy), "3").returncode == 0


# -- (d) crafted or damaged workspace folders ---------------------------------------------------
def _random_bytes(folder: Path, real: Path) -> None:
    (folder / DB_FILE).write_bytes(os.urandom(64 * 1024))


def _empty_file(folder: Path, real: Path) -> None:
    (folder / DB_FILE).write_bytes(b"")


def _cut_in_half(folder: Path, real: Path) -> None:
    shutil.copy(real / DB_FILE, folder / DB_FILE)
    os.truncate(folder / DB_FILE, (folder / DB_FILE).stat().st_size // 2)


def _cut_at_nine_tenths(folder: Path, real: Path) -> None:
    shutil.copy(real / DB_FILE, folder / DB_FILE)
    os.truncate(folder / DB_FILE, (folder / DB_FILE).stat().st_size * 9 // 10)


def _cut_off_the_last_data_block(folder: Path, real: Path) -> None:
    """Keep the catalog and cut the block that holds the last of the data: the file opens, and
    only a read that reaches that block would fail."""
    con = duckdb.connect(str(real / DB_FILE), read_only=True)
    try:
        (block_size,) = con.execute("SELECT block_size FROM pragma_database_size()").fetchone() or (0,)
        last = max(con.execute(f"SELECT coalesce(max(block_id), -1) FROM pragma_storage_info('{t}')").fetchone()[0]
                   for t in ("rows", "embeddings", "artifacts", "clusters", "meta", "actions"))
    finally:
        con.close()
    shutil.copy(real / DB_FILE, folder / DB_FILE)
    os.truncate(folder / DB_FILE, 3 * 4096 + last * block_size)


def _cut_to_a_tenth(folder: Path, real: Path) -> None:
    shutil.copy(real / DB_FILE, folder / DB_FILE)
    os.truncate(folder / DB_FILE, (folder / DB_FILE).stat().st_size // 10)


def _sql(statements: str) -> Callable[[Path, Path], None]:
    def make(folder: Path, real: Path) -> None:
        if "{copy}" in statements:
            shutil.copy(real / DB_FILE, folder / DB_FILE)
        con = duckdb.connect(str(folder / DB_FILE))
        try:
            for statement in statements.replace("{copy}", "").split(";"):
                if statement.strip():
                    con.execute(statement)
        finally:
            con.close()
    return make


CRAFTED = {  # how the folder is made: what the one line says
    "random bytes": (_random_bytes, "is not an Amplio workspace (or is damaged): its workspace.duckdb is not a "
                                    "DuckDB database"),
    "empty file": (_empty_file, "is not a DuckDB database"),
    # Where the cut lands decides which check meets it first (the catalog, or the data blocks).
    "cut to a tenth": (_cut_to_a_tenth, "is damaged"),
    "cut in half": (_cut_in_half, "is damaged"),
    "cut at nine tenths": (_cut_at_nine_tenths, "is damaged"),
    "cut off its last data block": (_cut_off_the_last_data_block, "but its contents need"),
    "another program's database": (_sql("CREATE TABLE invoices (id INTEGER, total DOUBLE)"),
                                   "is not an Amplio workspace (or is damaged): it has no meta table"),
    "meta of other columns": (_sql("CREATE TABLE meta (k INTEGER)"), "it has no meta table of keys and values"),
    "only a meta table": (_sql("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);"
                               "INSERT INTO meta VALUES ('schema_version', '2')"), "it has no actions table"),
    "version that is not a number": (_sql("{copy} UPDATE meta SET value = '\"two\"' WHERE key = 'schema_version'"),
                                     "its meta table holds values Amplio did not write"),
    "meta value that is not JSON": (_sql("{copy} INSERT INTO meta VALUES ('stray', 'not json {')"),
                                    "its meta table holds values Amplio did not write"),
    "rows without a column": (_sql("{copy} ALTER TABLE rows DROP COLUMN dup_count"),
                              "its rows table has no column dup_count"),
    "rows with a column of another type": (_sql("{copy} ALTER TABLE rows ALTER COLUMN x TYPE VARCHAR"),
                                           "column rows.x is VARCHAR, not FLOAT"),
    "rows with an extra column": (_sql("{copy} ALTER TABLE rows ADD COLUMN secret VARCHAR"),
                                  "its rows table has a column secret that Amplio does not write"),
    "no embeddings table": (_sql("{copy} DROP TABLE embeddings"), "it has no embeddings table"),
    "meta without the encoder": (_sql("{copy} DELETE FROM meta WHERE key = 'encoder'"),
                                 "its meta table has no encoder"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CRAFTED))
def test_info_and_serve_refuse_a_crafted_workspace(case: str, small_workspace_path: Path, tmp_path: Path,
                                                   free_port: Callable[[], int]) -> None:
    make, expected = CRAFTED[case]
    folder = tmp_path / "crafted.amplio"
    folder.mkdir()
    make(folder, small_workspace_path)
    made = hashlib.sha256((folder / DB_FILE).read_bytes()).hexdigest()
    for args in (["info", str(folder)],
                 ["serve", str(folder), "--port", str(free_port()), "--no-browser"]):
        message = one_error_line(amplio_cli(*args, timeout=120))
        assert str(folder) in message and expected in message, (args, message)
    # Refused, not repaired or rewritten.
    assert hashlib.sha256((folder / DB_FILE).read_bytes()).hexdigest() == made
    assert sorted(p.name for p in folder.iterdir()) == [DB_FILE]


def test_an_intact_workspace_passes_the_same_checks(ws_copy: Path) -> None:
    """The checks refuse nothing Amplio made: read-only and for writing, before and after a
    change that is still in the log (not yet in the database file)."""
    assert contents(ws_copy)[0] == ROWS
    code = ("import amplio, os, sys; ws = amplio.load(sys.argv[1]); "
            "ws.set_status([1, 2], 'rejected'); os._exit(0)")  # no close: the change stays in the log
    assert subprocess.run([sys.executable, "-c", code, str(ws_copy)], timeout=120).returncode == 0
    assert (ws_copy / f"{DB_FILE}.wal").exists()
    assert contents(ws_copy)[2] == ["status"]
    with amplio.load(ws_copy) as ws:
        assert ws.row(1)["status"] == "rejected"
