"""SmartNoise AIM as a peer for ``bench/synth.py``, run in its own virtualenv.

smartnoise-synth 1.0.8 pins ``opendp<0.15`` (pseudolink needs 0.16), so it cannot share
pseudolink's environment: ``bench/synth.py`` runs this file with the interpreter in
``BENCH_AIM_PYTHON`` (``.aimvenv/bin/python`` by default, made by ``make bench``; by hand:
``python -m venv .aimvenv && .aimvenv/bin/pip install smartnoise-synth==1.0.8
pandas pyarrow``). Usage: ``python bench/_aim_peer.py TRAIN.parquet ROWS EPSILON OUT.parquet``;
prints one JSON line with the seconds spent fitting and sampling (wall and CPU).

AIM gets what helps it most: text columns and household size as categories and the years
as ordinals (levels read from the data by SmartNoise's transformers, which costs no epsilon
there), and the other numbers as 20 bins between their real minimum and maximum, read from
the data without DP. With SmartNoise's default (bounds found with 0.1 of epsilon) the bounds
came out so wide that every birth year fell in one bin: quality 0.74.
"""

from __future__ import annotations

import json
import sys
import time

import pandas as pd

CATEGORICAL_NUMBERS = ("household_size",)
ORDINAL_NUMBERS = ("birth_year", "built_year")


def main(train_path: str, rows: int, epsilon: float, out_path: str) -> dict:
    from snsynth import Synthesizer
    from snsynth.transform import BinTransformer

    train = pd.read_parquet(train_path)
    categorical = [c for c in train.columns
                   if not pd.api.types.is_numeric_dtype(train[c])
                   or c.rsplit("__", 1)[-1] in CATEGORICAL_NUMBERS]
    ordinal = [c for c in train.columns if c.rsplit("__", 1)[-1] in ORDINAL_NUMBERS]
    continuous = [c for c in train.columns if c not in categorical and c not in ordinal]
    bins = {c: BinTransformer(bins=20, lower=float(train[c].min()),
                              upper=float(train[c].max())) for c in continuous}
    started, cpu = time.perf_counter(), time.process_time()
    model = Synthesizer.create("aim", epsilon=epsilon)
    model.fit(train, categorical_columns=categorical, ordinal_columns=ordinal,
              continuous_columns=continuous, transformer=bins)
    fitted = time.perf_counter()
    synthetic = model.sample(rows)
    sampled, cpu = time.perf_counter(), time.process_time() - cpu
    synthetic = pd.DataFrame(synthetic, columns=train.columns)
    for column in train.columns:
        if pd.api.types.is_integer_dtype(train[column]):
            synthetic[column] = synthetic[column].round().astype(train[column].dtype)
    synthetic.to_parquet(out_path, index=False)
    return {"fit_seconds": round(fitted - started, 2),
            "sample_seconds": round(sampled - fitted, 2), "cpu_seconds": round(cpu, 2),
            "bounds": "continuous columns' real min and max (not DP)",
            "categorical": categorical, "ordinal": ordinal, "continuous": continuous}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4])))
