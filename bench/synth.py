"""Benchmark: pseudolink's default synthesizer against SDV's three, on demo-shaped data.

Every synthesizer fits on the same combined table (``BENCH_SYNTH_ROWS`` rows, 100,000 by
default) and samples as many rows, through the same release pipeline (holdout split, area
columns modelled jointly, quality report, privacy gate), each in its own subprocess so that
peak resident memory is its own. Targets: the default's SDMetrics quality at least the best of
GaussianCopula, CTGAN and TVAE, and its fit time at most twice GaussianCopula's.

Run alone: ``python bench/synth.py``; reduced: ``BENCH_SYNTH_ROWS=20000 BENCH_SYNTH_EPOCHS=5``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import WORK, write_result

ROWS = int(os.environ.get("BENCH_SYNTH_ROWS", "100000"))
EPOCHS = int(os.environ.get("BENCH_SYNTH_EPOCHS", "50"))
SYNTHESIZERS = ("default", "gaussian_copula", "ctgan", "tvae")


def combined_table(out: Path) -> Path:
    """Demo-shaped combined data: the generator's files joined on its ground truth."""
    import anonymize
    import linkage

    path = out / f"combined-{ROWS}.parquet"
    if path.exists():
        return path
    source = out / f"source-{ROWS}"
    # About half of the social-security people own a building in the generator.
    linkage.generate_synthetic_data(source, ROWS * 2, areas=anonymize.load_admin_areas(),
                                    seed=11)
    frame = linkage.combined_by_truth(source).head(ROWS)
    frame.to_parquet(path, index=False)
    return path


def run_one(name: str, data: Path) -> dict:
    """In a child process: fit, sample, score; print one JSON line."""
    from _harness import peak_rss_mib

    import anonymize

    frame = pd.read_parquet(data)
    result = anonymize.synthetic_release(frame, len(frame), synthesizer=name, epochs=EPOCHS,
                                         enforce=False)
    return {
        "synthesizer": name, "rows": len(frame),
        "quality": round(result.quality["quality_score"], 4),
        "column_shapes": round(result.quality["properties"]["Column Shapes"], 4),
        "pair_trends": round(result.quality["properties"]["Column Pair Trends"] or 0, 4),
        "fit_seconds": round(result.fit_seconds, 2),
        "sample_seconds": round(result.sample_seconds, 2),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "gate_passed": result.gate.passed, "dcr_share": round(result.gate.dcr_share, 3),
        "mia_auc": round(result.gate.mia_auc, 3),
    }


def main() -> None:
    work = WORK / "synth"
    work.mkdir(parents=True, exist_ok=True)
    data = combined_table(work)
    figures = {}
    for name in SYNTHESIZERS:
        done = subprocess.run([sys.executable, __file__, "--one", name, str(data)],
                              capture_output=True, text=True, check=True)
        figures[name] = json.loads(done.stdout.strip().splitlines()[-1])
    ours = figures["default"]
    best_sdv = max(figures[n]["quality"] for n in SYNTHESIZERS if n != "default")
    copula_fit = figures["gaussian_copula"]["fit_seconds"]
    passed = ours["quality"] >= best_sdv and ours["fit_seconds"] <= 2 * copula_fit
    write_result(
        "synth",
        summary=(f"{ROWS:,} rows, {EPOCHS} epochs: default quality {ours['quality']:.1%} "
                 f"(best SDV {best_sdv:.1%}), fit {ours['fit_seconds']}s vs GaussianCopula "
                 f"{copula_fit}s; peak RSS " + ", ".join(
                     f"{n} {f['peak_rss_mib']:.0f} MiB" for n, f in figures.items())),
        target="default quality >= best of SDV GaussianCopula/CTGAN/TVAE (50 epochs) and "
               "fit time <= 2x GaussianCopula, on 100k demo rows",
        passed=passed, figures={"rows": ROWS, "epochs": EPOCHS, "default": ours},
        peers={n: f for n, f in figures.items() if n != "default"},
        packages=("sdv", "sdmetrics", "scikit-learn", "torch", "pandas"),
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        print(json.dumps(run_one(sys.argv[2], Path(sys.argv[3]))))
    else:
        main()
