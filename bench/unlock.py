"""Benchmark: what unlocking a party's keys costs each command.

Every stage opens the party's secret file (scrypt at the fixed cost N=2^17, r=8, p=1; its
parameters are checked by ``tests/linkage/test_keys.py``). This measures the wall time of
one unlock, median of BENCH_ROUNDS (default 7), against 1 s: the cost a person pays on
every command when no session key cache is set. Run with ``python bench/unlock.py``;
writes ``bench/results/unlock.json``.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import write_result

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
TARGET_SECONDS = 1.0
PASSPHRASE = "bench passphrase for unlocking"


def main() -> None:
    import linkage
    from linkage.keys import secret_file
    from linkage.keys.party import secret_path

    with tempfile.TemporaryDirectory(prefix="bench-unlock-") as keys:
        linkage.create_party(Path(keys), "agency", "combiner", PASSPHRASE)
        sealed = secret_path(Path(keys), "agency").read_bytes()
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        secret_file.open_secret(sealed, PASSPHRASE)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    write_result(
        "unlock",
        summary=f"unlocking a party's keys (scrypt N=2^17, r=8): median {median:.3f} s of "
                f"{ROUNDS} (min {min(times):.3f} s, max {max(times):.3f} s); load "
                f"{os.getloadavg()[0]:.1f}",
        target=f"one unlock under {TARGET_SECONDS:g} s (paid by every command)",
        passed=median < TARGET_SECONDS,
        figures={"rounds": ROUNDS, "seconds": [round(t, 3) for t in times],
                 "median_seconds": round(median, 3), "load_average_1min": os.getloadavg()[0]},
        peers={},
        packages=("cryptography",),
    )


if __name__ == "__main__":
    main()
