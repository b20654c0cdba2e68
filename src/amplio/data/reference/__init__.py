"""The bundled reference set: the prompts of AART, Do-Not-Answer and AdvBench in one file.

Reference gaps (``amplio.gaps.reference``) compare a dataset with a set of other prompts. Passing
``bundled`` wherever a reference file is asked for (``--reference bundled``, ``Workspace.gaps(
reference="bundled")``) uses this one, so the question "what do the public red-teaming sets
cover that my rows do not" needs no file of one's own. See ``ATTRIBUTION.md`` for sources and
licences.
"""

from __future__ import annotations

from pathlib import Path

BUNDLED = "bundled"
REFERENCE_FILE = "redteam_reference.csv"
REFERENCE_TEXT_COLUMN = "prompt"
DISPLAY_NAME = "public red-teaming sets (AART, Do-Not-Answer, AdvBench)"


def bundled_reference_path() -> Path:
    """Path of the bundled reference CSV (columns ``prompt, source, label``)."""
    return Path(__file__).resolve().parent / REFERENCE_FILE


def resolve_reference(reference: str | Path) -> Path:
    """The file a reference argument names: ``"bundled"`` is the bundled set, anything else a path.

    A file that happens to be called ``bundled`` is reached by a path with a folder in it
    (``/data/bundled``; ``./bundled`` will not do, since ``Path`` drops the ``./``).
    """
    if str(reference) == BUNDLED:
        return bundled_reference_path()
    return Path(reference).expanduser()


def reference_name(path: str | Path) -> str:
    """What to call a reference file when showing it: the bundled set by name, others by file name."""
    path = Path(path)
    if path.resolve() == bundled_reference_path():
        return DISPLAY_NAME
    return path.name
