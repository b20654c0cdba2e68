"""Benchmark the default decoder against the retrieval baseline on AART.

Run: ``python benchmarks/decode.py [--quick]`` (``--quick``: 10 + 5 + 5 targets, printed only).

The default decoder (list continuation, ``amplio.decoders.continuation``) treats fidelity as a
floor, not its aim: what decides its quality is a blind review (``benchmarks/quality.py``). This
benchmark says how far from a target its clean proposals land, how often a target gets any, why
the rest are held back, and how long it takes.

Target families:
  * held-out: AART prompts left out of the workspace; target = their real embedding. The
    retrieval baseline is the nearest *remaining* row (the held-out row itself is excluded).
  * midpoint: normalize((a + b) / 2) for random pairs of workspace rows; both parents stay in the
    workspace, so the baseline may pick one of them.
  * concept-steered: a random workspace row steered at weight +0.5 or +1.0 with a common concept it does
    not already show (``ConceptModel.steer``, as Augment with Concepts does); the row is the
    parent, and the baseline may pick it.

Reported per family: mean and median fidelity of (a) retrieval (the nearest row) and (b) the
decoder's best clean proposal, the margin, the share of targets won, the share of targets with
at least one clean proposal, the reasons proposals were held back, and seconds per target.
Results go to ``benchmarks/results/decode.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

# Must precede torch and llama.cpp loading: they share one OpenMP runtime (see local.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from amplio.decoders.context import context_for  # noqa: E402
from amplio.decoders.continuation import ContinuationDecoder  # noqa: E402
from amplio.embedding.base import l2_normalise  # noqa: E402
from amplio.embedding.registry import create_encoder  # noqa: E402
from amplio.llm.local import LocalLLM  # noqa: E402
from amplio.quality.checks import normalise_text  # noqa: E402

DATASET = Path(os.environ.get("AMPLIO_DATASETS", "/work/shared/datasets")) / "aart_v1_20231117.csv"
OUT = ROOT / "benchmarks" / "results" / "decode.json"


def load_rows() -> list[str]:
    """AART prompts, duplicates (equal after normalising case, punctuation and spacing) removed.

    A held-out row with a copy left in the workspace would make retrieval trivially perfect.
    """
    import pandas as pd

    texts = pd.read_csv(DATASET)["prompt"].dropna().astype(str)
    unique: dict[str, str] = {}
    for t in texts:
        key = normalise_text(t)
        if key and key not in unique:
            unique[key] = t.strip()
    return list(unique.values())


def run_family(
    decoder: ContinuationDecoder,
    targets: list[dict[str, Any]],
    ref_texts: list[str],
    ref_embs: np.ndarray,
    n: int,
) -> dict[str, Any]:
    """Decode every target; return the family's summary and per-target records."""
    records = []
    reasons: Counter[str] = Counter()
    for i, t in enumerate(targets):
        goal = t["target"]
        start = time.perf_counter()
        retrieval = float(np.max(ref_embs @ goal))
        retrieval_s = time.perf_counter() - start
        context = context_for(goal, ref_texts, ref_embs, k=16, parent_texts=t.get("parents", ()),
                              donor_texts=t.get("donors", ()))
        start, cpu_start = time.perf_counter(), time.process_time()
        outputs = decoder.decode(goal, n=n, context=context, seed=i)
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu_start  # LLM and encoder threads run in this process
        clean = [o for o in outputs if o.clean]
        for o in outputs:
            reasons.update(o.reasons or ["clean"])
        best = clean[0] if clean else None
        records.append(
            {
                "source": t.get("source"),
                "weight": t.get("weight"),
                "parents": list(t.get("parents", ())),
                "retrieval_fidelity": round(retrieval, 4),
                "retrieval_s": round(retrieval_s, 5),
                "decoded": best.text if best else None,
                "fidelity": round(best.fidelity, 4) if best else None,
                "clean": len(clean),
                "proposals": len(outputs),
                "seconds": round(seconds, 2),
                "cpu_seconds": round(cpu, 2),
            }
        )
        print(
            f"  [{i + 1}/{len(targets)}] retrieval {retrieval:.3f}  best clean "
            f"{best.fidelity if best else float('nan'):.3f}  {len(clean)}/{len(outputs)} clean  "
            f"{seconds:.1f}s  {(best.text if best else '')[:70]!r}",
            flush=True,
        )
    scored = [r for r in records if r["fidelity"] is not None]
    fid = [r["fidelity"] for r in scored]
    ret = [r["retrieval_fidelity"] for r in scored]
    margins = [a - b for a, b in zip(fid, ret, strict=True)]
    return {
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "targets": len(records),
        "with_clean_share": round(len(scored) / len(records), 3),
        "retrieval": {
            "mean_fidelity": round(statistics.mean(r["retrieval_fidelity"] for r in records), 4),
            "median_fidelity": round(statistics.median(r["retrieval_fidelity"] for r in records), 4),
            "seconds_per_target": round(statistics.mean(r["retrieval_s"] for r in records), 5),
        },
        "decoder": {
            "mean_fidelity": round(statistics.mean(fid), 4) if fid else None,
            "median_fidelity": round(statistics.median(fid), 4) if fid else None,
            "seconds_per_target": round(statistics.mean(r["seconds"] for r in records), 2),
            "max_seconds": round(max(r["seconds"] for r in records), 2),
            # CPU time is not inflated by other programs; on an idle 2-core machine the wall
            # time lies between cpu/2 (both threads busy) and cpu.
            "cpu_seconds_per_target": round(statistics.mean(r["cpu_seconds"] for r in records), 2),
            "clean_per_target": round(statistics.mean(r["clean"] for r in records), 2),
        },
        "margin_mean": round(statistics.mean(margins), 4) if margins else None,
        "margin_median": round(statistics.median(margins), 4) if margins else None,
        "won_share": round(sum(m > 0 for m in margins) / len(records), 3),
        "proposal_reasons": dict(reasons.most_common()),
        "records": records,
    }


def concept_steered_targets(
    ref_texts: list[str], ref_embs: np.ndarray, count: int, rng: np.random.Generator, *, seed: int = 0,
    encode: Any = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Targets made the way Augment with Concepts makes them, with a concept model trained here.

    Each target steers a random workspace row with one concept it does not already show among
    its top ten, picked among concepts active on at least 1 % of rows, at weight +0.5 (a slider
    moved halfway) for even-numbered targets and +1.0 (all the way) for odd ones. The steered
    row is the target's parent and the three of the concept's top rows nearest it are the
    donors, as in the product (``Augmenter.concepts``).
    """
    from amplio.concepts.train import train_concepts

    start = time.perf_counter()
    model = train_concepts(ref_embs, ref_texts, seed=seed, encode=encode)
    train_s = time.perf_counter() - start
    common = np.flatnonzero(np.asarray(model.frequency) >= 0.01)
    targets = []
    for i, row in enumerate(rng.choice(len(ref_texts), size=count, replace=False)):
        weight = 0.5 if i % 2 == 0 else 1.0
        own = {cid for cid, _ in model.top_concepts(ref_embs[row], k=10)}
        choices = [int(c) for c in common if int(c) not in own]
        cid = int(rng.choice(choices))
        target = model.steer(ref_embs[row], {cid: weight})
        # The donors are what Augment with Concepts passes too (concept_donors): of the concept's
        # top rows, the three nearest the steered row.
        top = model.top_rows(cid, 50)
        donors = [ref_texts[top[j]] for j in np.argsort(-(ref_embs[top] @ ref_embs[row]))[:3]]
        targets.append({"target": target, "parents": [ref_texts[row]], "donors": donors, "concept": cid, "weight": weight,
                        "concept_label": model.labels[cid],
                        "cos_parent": round(float(target @ ref_embs[row]), 4)})
    info = {"concepts": model.n_features, "k": model.k, "train_seconds": round(train_s, 1),
            "weights": [0.5, 1.0], "common_concepts": int(len(common))}
    return targets, info


def by_weight(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Retrieval and decoder fidelity per steering weight: a small steer stays close to its parent."""
    out = {}
    for weight in sorted({r["weight"] for r in records}):
        rs = [r for r in records if r["weight"] == weight]
        out[str(weight)] = {
            "targets": len(rs),
            "retrieval_mean": round(statistics.mean(r["retrieval_fidelity"] for r in rs), 4),
            "decoder_mean": _mean([r["fidelity"] for r in rs if r["fidelity"] is not None]),
            "won_share": round(sum(r["fidelity"] is not None and r["fidelity"] > r["retrieval_fidelity"]
                                   for r in rs) / len(rs), 3),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 + 5 + 5 targets, print only")
    parser.add_argument("--held-out", type=int, default=40)
    parser.add_argument("--midpoints", type=int, default=30)
    parser.add_argument("--steered", type=int, default=30, help="concept-steered targets")
    parser.add_argument("--n", type=int, default=11,
                        help="proposals per target (a request that shows 3 asks for 3 + 8)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--study",
        default=None,
        help="store this run under studies.<STUDY> of the existing results file instead of "
        "replacing it (for budget studies beside the main run)",
    )
    parser.add_argument("--families", default="concept_steered,midpoint,held_out",
                        help="comma-separated families to run; with --merge, the others keep "
                             "their figures from the existing results file")
    parser.add_argument("--merge", action="store_true",
                        help="update only the families run in the existing results file")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    held_count, mid_count, steer_count = (
        (10, 5, 5) if args.quick else (args.held_out, args.midpoints, args.steered)
    )
    out = args.out if args.out is not None else (None if args.quick else OUT)

    texts = load_rows()
    encoder = create_encoder("sentence-transformers", "all-MiniLM-L6-v2")
    start = time.perf_counter()
    embs = encoder.encode(texts)
    encode_s = time.perf_counter() - start
    llm = LocalLLM(n_threads=2)
    decoder = ContinuationDecoder(encoder, llm)

    rng = np.random.default_rng(args.seed)
    held = rng.choice(len(texts), size=held_count, replace=False)
    keep = np.setdiff1d(np.arange(len(texts)), held)
    ref_texts = [texts[i] for i in keep]
    ref_embs = embs[keep]

    held_targets = [{"target": embs[i], "source": texts[i]} for i in held]
    pairs = [rng.choice(len(ref_texts), size=2, replace=False) for _ in range(mid_count)]
    mid_targets = [
        {
            "target": l2_normalise((ref_embs[a] + ref_embs[b]) / 2),
            "parents": [ref_texts[a], ref_texts[b]],
            "cos_parents": float(ref_embs[a] @ ref_embs[b]),
        }
        for a, b in pairs
    ]
    steered, concept_info = concept_steered_targets(ref_texts, ref_embs, steer_count, rng, seed=args.seed,
                                                    encode=encoder.encode)

    chosen = [f.strip() for f in args.families.split(",") if f.strip()]
    families: dict[str, Any] = {}
    if args.merge and out is not None and out.exists():
        families.update(json.loads(out.read_text(encoding="utf-8"))["families"])
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/decode.py", *sys.argv[1:]]),
        "machine": {
            "cpu_count": os.cpu_count(),
            "llm_threads": 2,
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "load_average_at_start": list(os.getloadavg()),
            "note": os.environ.get(
                "AMPLIO_BENCH_NOTE",
                "seconds are wall time, cpu_seconds this process's CPU time; the load averages "
                "at start and at each family's end show what else ran",
            ),
        },
        "dataset": {
            "path": DATASET.name,
            "unique_rows": len(texts),
            "encode_seconds": round(encode_s, 1),
        },
        "models": {"encoder": encoder.name, "llm": llm.name, "decoder": decoder.name},
        "decoder_options": {
            "shots": decoder.shots,
            "temperature": decoder.temperature,
            "floor": decoder.floor,
            "relevance": decoder.relevance,
            "n": args.n,
            "neighbours_k": 16,
        },
        "families": families,
    }
    # The smaller families first; the file is rewritten after each, so a cut-short run keeps them.
    for name, targets in (("concept_steered", steered), ("midpoint", mid_targets),
                          ("held_out", held_targets)):
        if name not in chosen:
            continue
        print(f"{name}: {len(targets)} targets against {len(ref_texts)} rows", flush=True)
        families[name] = run_family(decoder, targets, ref_texts, ref_embs, args.n)
        if name == "concept_steered":
            families[name]["concept_model"] = concept_info
            families[name]["by_weight"] = by_weight(families[name]["records"])
        if out is not None and not args.study:
            _save(result, out)

    for name, fam in families.items():
        if "decoder" in fam:
            print(
                f"{name}: retrieval {fam['retrieval']['mean_fidelity']} best clean "
                f"{fam['decoder']['mean_fidelity']} margin {fam['margin_mean']} with clean "
                f"{fam['with_clean_share']:.0%} {fam['decoder']['seconds_per_target']:.1f}s/target"
            )
    if out is not None and args.study:
        main_run = json.loads(out.read_text(encoding="utf-8"))
        for fam in families.values():
            fam.pop("records", None)  # the study keeps summaries only
        main_run.setdefault("studies", {})[args.study] = result
        result = main_run
    if out is not None:
        result["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        _save(result, out)
        print(f"wrote {out}")


def _mean(values: list[float]) -> float | None:
    return round(statistics.mean(values), 4) if values else None


def _save(result: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
