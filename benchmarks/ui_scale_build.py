"""Build (once) the large workspace that ``benchmarks/ui_scale.py`` serves.

Same rows and precomputed vectors as ``benchmarks/scale.py`` (reference prompts varied by
template, MiniLM vectors plus noise; the embed stage is a lookup), written to
``benchmarks/.work/ui_scale/ws-N.amplio``; an existing one is kept.

Run: ``nice python benchmarks/ui_scale_build.py [--rows 1000000]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
WORK = ROOT / ".work" / "ui_scale"


def folder_for(n: int) -> Path:
    return WORK / f"ws-{n}.amplio"


def build(n: int) -> Path:
    import pandas as pd

    sys.path.insert(0, str(ROOT))
    import amplio
    from scale import LookupEncoder, base_set, synthetic

    folder = folder_for(n)
    if (folder / ".built").exists():
        return folder
    WORK.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    base_texts, base = base_set()
    texts, vectors = synthetic(n, base_texts, base)
    frame = pd.DataFrame({"prompt": texts, "label": [f"group{i % 7}" for i in range(n)]})
    ws = amplio.open(frame, text_col="prompt", label_col="label", workspace=folder,
                     encoder=LookupEncoder(texts, vectors))
    ws.close()
    (folder / ".built").write_text(f"{time.perf_counter() - t0:.1f} s\n")
    print(f"built {folder} in {time.perf_counter() - t0:.1f} s", flush=True)
    return folder


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    build(parser.parse_args().rows)
