"""The workspace database schema and its version."""

from __future__ import annotations

SCHEMA_VERSION = 2  # 2: each action records its inverse (see store._migrate)
DB_FILE = "workspace.duckdb"

DDL = """
CREATE TABLE IF NOT EXISTS meta (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL            -- JSON
);
CREATE TABLE IF NOT EXISTS rows (
    id BIGINT PRIMARY KEY,
    text VARCHAR NOT NULL,
    text_hash VARCHAR NOT NULL,
    label VARCHAR,
    origin VARCHAR NOT NULL,          -- original | augmented | manual
    method VARCHAR,                   -- concepts | interpolate | llm | manual | NULL for originals
    parents BIGINT[] NOT NULL,
    params VARCHAR NOT NULL,          -- JSON object
    models VARCHAR NOT NULL,          -- JSON object
    status VARCHAR NOT NULL,          -- candidate | accepted | rejected
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    x FLOAT,
    y FLOAT,
    cluster INTEGER,
    source_index BIGINT,
    dup_count INTEGER NOT NULL,
    reviewed_by VARCHAR
);
CREATE TABLE IF NOT EXISTS embeddings (
    model VARCHAR NOT NULL,
    text_hash VARCHAR NOT NULL,
    vector FLOAT[] NOT NULL,
    PRIMARY KEY (model, text_hash)
);
CREATE TABLE IF NOT EXISTS clusters (
    id INTEGER PRIMARY KEY,
    keywords VARCHAR NOT NULL,
    size INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS artifacts (
    name VARCHAR PRIMARY KEY,
    data BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS actions (
    seq BIGINT PRIMARY KEY,
    kind VARCHAR NOT NULL,
    payload VARCHAR NOT NULL,         -- JSON: what was done, and "inverse": the operations that undo it
    created_at TIMESTAMP NOT NULL,
    undone BOOLEAN NOT NULL DEFAULT FALSE
);
"""

ROW_COLUMNS = (
    "id", "text", "label", "origin", "method", "parents", "params", "models", "status",
    "created_at", "updated_at", "x", "y", "cluster", "source_index", "dup_count", "reviewed_by",
)
ORIGINS = ("original", "augmented", "manual")
STATUSES = ("candidate", "accepted", "rejected")
