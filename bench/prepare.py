"""Benchmark: records/s of ``holder prepare``, beside ``openssl speed`` in the same run.

Two figures matter: the whole of ``holder prepare`` (read, normalise, hash, seal, write)
and the keyed-hashing stage alone, per core, against OpenSSL's own HMAC-SHA256 rate for
64-byte inputs. Run alone with ``python bench/prepare.py`` (BENCH_PEOPLE=1000000 by default).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import WORK, peak_rss_mib, write_result

import anonymize
import linkage

PEOPLE = int(os.environ.get("BENCH_PEOPLE", "1000000"))
PASSPHRASE = "bench passphrase"
HASH_ROWS = 2_000_000


def openssl_hmac_per_core(seconds: int = 3) -> float:
    """HMAC-SHA256 operations per second on one core, 64-byte inputs, from ``openssl speed``."""
    out = subprocess.run(
        ["openssl", "speed", "-mr", "-seconds", str(seconds), "-bytes", "64", "-hmac", "sha256"],
        capture_output=True, text=True, check=True,
    ).stdout
    match = re.search(r"\+F:\d+:hmac\(sha256\):([\d.]+)", out)
    if not match:
        raise RuntimeError(f"unexpected openssl speed output: {out[-500:]}")
    return float(match.group(1)) / 64


def hashing_stage_rate(threads: int) -> float:
    """Linkage keys per second for 64-byte messages through the engine's keyed hashing."""
    import duckdb

    engine = linkage.get_engine("duckdb")
    engine.threads = threads
    values = duckdb.sql(
        f"SELECT lpad(range::VARCHAR, 64 - 22, '0') AS text FROM range({HASH_ROWS})"
    ).arrow()
    if isinstance(values, pa.RecordBatchReader):
        values = values.read_all()
    recipe = linkage.Recipe(("text",))
    start = time.perf_counter()
    keys = engine.linkage_keys(values, os.urandom(32), [recipe])
    elapsed = time.perf_counter() - start
    assert keys.num_rows == HASH_ROWS
    return HASH_ROWS / elapsed


def main() -> None:
    work = WORK / "prepare"
    shutil.rmtree(work, ignore_errors=True)
    source, keys_dir, out = work / "source", work / "keys", work / "out"
    linkage.generate_synthetic_data(source, PEOPLE, areas=anonymize.load_admin_areas(), seed=7)
    for party, role in (("ssis", "holder"), ("building", "holder"),
                        ("keymanager", "key_manager"), ("agency", "combiner")):
        linkage.create_party(keys_dir, party, role, PASSPHRASE)
    spec = linkage.ProjectSpec.load(source / "project.toml")
    manifest = linkage.create_project(spec, keys_dir, work / "project")
    for holder in spec.holder_ids:  # each holder checks, signs and adds its key share
        linkage.accept_project(manifest, linkage.load_party_secret(keys_dir, holder, PASSPHRASE),
                               keys_dir)

    start = time.perf_counter()
    report = linkage.prepare(manifest, "ssis", source / "ssis.parquet", out, keys_dir, PASSPHRASE)
    prepare_seconds = time.perf_counter() - start
    records_per_s = report.records / prepare_seconds

    cores = os.cpu_count() or 1
    ours_per_core = hashing_stage_rate(threads=1)
    ours_all = hashing_stage_rate(threads=cores)
    openssl_per_core = openssl_hmac_per_core()
    ratio = ours_per_core / openssl_per_core
    shutil.rmtree(work, ignore_errors=True)

    write_result(
        "prepare",
        summary=(f"holder prepare: {records_per_s:,.0f} records/s on {report.records:,} records "
                 f"({len(spec.recipes)} recipes, {prepare_seconds:.1f} s); keyed hashing "
                 f"{ours_per_core:,.0f}/s per core = {ratio:.2f} x openssl's "
                 f"{openssl_per_core:,.0f}/s"),
        target=("keyed hashing at no less than half of openssl speed -hmac sha256's per-core "
                "rate for 64-byte inputs (issue 3); prepare throughput recorded at 1M people"),
        passed=ratio >= 0.5,
        figures={
            "people": PEOPLE,
            "records": report.records,
            "recipes": len(spec.recipes),
            "prepare_seconds": round(prepare_seconds, 2),
            "prepare_records_per_s": round(records_per_s),
            "hash_rows": HASH_ROWS,
            "hash_per_s_one_core": round(ours_per_core),
            f"hash_per_s_{cores}_cores": round(ours_all),
            "hash_ratio_to_openssl_per_core": round(ratio, 3),
            "peak_rss_mib": round(peak_rss_mib()),
        },
        peers={"openssl_speed_hmac_sha256_64B_per_core_ops": round(openssl_per_core)},
    )


if __name__ == "__main__":
    main()
