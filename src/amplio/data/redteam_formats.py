"""Export writers for red-teaming tools: PyRIT, promptfoo and garak.

Importing this module registers three formats with ``amplio.data.export``:

- ``pyrit``: a PyRIT seed-dataset YAML file (the ``.prompt`` files PyRIT loads with
  ``SeedDataset.from_yaml_file``): top-level ``dataset_name``, ``description``,
  ``harm_categories``, ``source``, ``data_type`` and a ``prompts`` list; each prompt has
  ``value``, ``data_type: text``, ``harm_categories: [label]`` and ``metadata`` carrying the
  provenance (``id``, ``origin``, ``method``, ``parents``, ``status``). PyRIT wants metadata
  values to be strings or integers, so ``parents`` is a comma-separated string of ids.
- ``promptfoo``: a promptfoo tests file (``tests: file://tests.yaml``): a YAML list of test cases,
  each ``{description, vars: {prompt: TEXT}, metadata: {provenance}}``; reference the text in
  a promptfoo prompt as ``{{prompt}}``.
- ``garak``: a plain UTF-8 text file with one prompt per line, the layout garak's file-based
  custom-prompt probes read. A prompt's internal line breaks (any character Python's
  ``str.splitlines`` breaks on) and the white space around them are collapsed to one space, so
  each row stays exactly one line; nothing else in the text is changed. This format carries
  no provenance (the line number is the row's position in the export, ordered by id).

YAML is written with ``yaml.safe_dump``: every text is emitted as a quoted or block scalar as
needed, so markup, quotes, ``key: value`` or ``- [x]`` in a prompt stay plain strings when read
back with ``yaml.safe_load``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from amplio.data.export import register_writer

# Every separator str.splitlines() honours, with the spaces and tabs around it.
_LINE_BREAKS = re.compile(r"[ \t]*[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]+[ \t]*")


def one_line(text: str) -> str:
    """``text`` with its line breaks collapsed to single spaces (the garak layout).

    Example:
        >>> one_line("first\\r\\n  second\\u2028third")
        'first second third'
    """
    return _LINE_BREAKS.sub(" ", text).strip()


def provenance(row: dict[str, Any]) -> dict[str, Any]:
    """The provenance of one exported row as plain YAML-safe values (str and int only)."""
    parents = row.get("parents")
    parent_ids = [int(p) for p in parents] if parents is not None else []
    out: dict[str, Any] = {
        "id": int(row["id"]),
        "origin": str(row["origin"]),
        "method": _text_or_empty(row.get("method")),
        "parents": ",".join(str(p) for p in parent_ids),
        "status": str(row["status"]),
    }
    label = _text_or_empty(row.get("label"))
    if label:
        out["label"] = label
    return out


def _text_or_empty(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dict(orient="records")  # type: ignore[return-value]


def _dump(data: Any, path: Path) -> None:
    import yaml

    with path.open("w", encoding="utf-8") as handle:
        # width: long prompts stay on one YAML line instead of being folded (easier to diff).
        yaml.safe_dump(data, handle, allow_unicode=True, sort_keys=False, width=1_000_000)


def _dataset_name(meta: dict[str, Any]) -> str:
    source = str(meta.get("source") or "amplio")
    stem = Path(source).stem if source != "<DataFrame>" else "dataframe"
    return re.sub(r"[^A-Za-z0-9_]+", "_", f"amplio_{stem}").strip("_").lower()


def write_pyrit(frame: pd.DataFrame, path: Path, meta: dict[str, Any]) -> None:
    """Write ``frame`` as a PyRIT seed-dataset YAML file (see the module docstring)."""
    prompts: list[dict[str, Any]] = []
    for row in _records(frame):
        label = _text_or_empty(row.get("label"))
        prompts.append({
            "value": str(row["text"]),
            "data_type": "text",
            "harm_categories": [label] if label else [],
            "metadata": provenance(row),
        })
    labels = sorted({p["harm_categories"][0] for p in prompts if p["harm_categories"]})
    _dump({
        "dataset_name": _dataset_name(meta),
        "description": f"Exported by Amplio from {meta.get('source', 'a workspace')} "
                       f"({len(prompts)} prompts, with provenance in each prompt's metadata).",
        "harm_categories": labels,
        "source": str(meta.get("source") or ""),
        "data_type": "text",
        "prompts": prompts,
    }, path)


def write_promptfoo(frame: pd.DataFrame, path: Path, meta: dict[str, Any]) -> None:
    """Write ``frame`` as a promptfoo tests file (see the module docstring)."""
    tests = []
    for row in _records(frame):
        info = provenance(row)
        tests.append({
            "description": f"amplio row {info['id']} ({info['origin']}"
                           + (f", {info['method']}" if info["method"] else "") + ")",
            "vars": {"prompt": str(row["text"])},
            "metadata": info,
        })
    _dump(tests, path)


def write_garak(frame: pd.DataFrame, path: Path, meta: dict[str, Any]) -> None:
    """Write ``frame`` as one prompt per line (see the module docstring)."""
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for text in frame["text"]:
            handle.write(one_line(str(text)) + "\n")


register_writer("pyrit", write_pyrit)
register_writer("promptfoo", write_promptfoo)
register_writer("garak", write_garak)
