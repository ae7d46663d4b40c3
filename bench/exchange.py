"""Benchmark: the exact pipeline through the exchange (loopback) against the direct CLI.

Target (issue 17): at 10M x 7.5M people, the exchange's overhead (pushing, queueing,
pulling and verifying the envelopes) at most 15% of end-to-end time, and the exchange
server's peak memory under 512 MiB while it streams multi-GB files.

Both paths start from the same holder files; each party has its own workspace.

Direct: each holder's `holder prepare`, then `link` and `combine`, each a CLI process.
Holders work side by side on their own hosts, so the slower holder's prepare counts:
end to end = max(prepare) + link + combine.

Through the exchange, as deployed: `serve exchange` on PostgreSQL, and the key manager's
and the agency's `pseudolink worker` already running (as their systemd units are) before
the holders start; each worker fetches and verifies its inputs as they land, ahead of its
job. Each holder runs `holder prepare --send` (prepare, then push keys and payload, from
one process). End to end = max(prepare and send) + the time from the last holder's send
to the combined table at the agency (which covers fetching the last keys file, link,
pushing and fetching the link map, and combine).

What overlaps, and how it is counted: the holders run one after another here (the
largest input last, so its keys file, the largest, is the one fetched after the last
send); the key manager's worker fetches the first holder's keys file, and the agency's
its payload, while the second holder prepares. On this 2-core machine that fetching
competes with the second holder's prepare for CPU and slows it, and the bench counts that
slowdown; in a deployment each party is on its own host. Nothing a worker does before the
last send is otherwise counted: the overhead is what it still needs after the last file
lands, plus the holders' sends. The workers' and the server's CPU (prefetching included)
is recorded beside the wall times. The server's peak memory is its VmHWM.

A second part streams one multi-GB envelope (BENCH_BIG_GIB, default 2) up and down
through a fresh exchange and records the server's peak memory and throughput.

Run alone with ``python bench/exchange.py``; BENCH_PEOPLE (default 10_000_000) sets the
scale, BENCH_ROUNDS the rounds (default 2); PSEUDOLINK_EXCHANGE_BENCH_DB names a
PostgreSQL admin URL (default the local one). The 1-minute load average is recorded
before and after each round: on a shared machine, compare runs at like load.
"""

from __future__ import annotations

import os
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import WORK, write_result

PEOPLE = int(os.environ.get("BENCH_PEOPLE", "10000000"))
PASSPHRASE = "bench passphrase"
ADMIN_DB = os.environ.get("PSEUDOLINK_EXCHANGE_BENCH_DB",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
MAX_OVERHEAD = 0.15
SERVER_PEAK_MIB = 512
ROOT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, PSEUDOLINK_PASSPHRASE=PASSPHRASE, COLUMNS="200")
BIG_GIB = float(os.environ.get("BENCH_BIG_GIB", "2"))
#: Each path is run this many times, alternating which goes first; each step's fastest
#: run counts (the machine is shared, and a slow run says more about the neighbours).
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
PARTIES = (("ssis", "holder"), ("building", "holder"), ("keymanager", "key_manager"),
           ("agency", "combiner"))


def cli(*args: str, workdir: Path) -> tuple[float, float]:
    """Run one CLI command: (wall seconds, CPU seconds of the process and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pseudolink", *args, "--workdir",
                             str(workdir)], capture_output=True, text=True, env=ENV,
                            cwd=ROOT)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stdout[-3000:]}"
                         f"{result.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _cpu_seconds(pid: int, children: bool = False) -> float:
    """User and system CPU of a running process (the exchange server, a worker), with
    ``children`` that of its finished child processes too (a worker's age processes)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    used = fields[11:15] if children else fields[11:13]
    return sum(int(f) for f in used) / os.sysconf("SC_CLK_TCK")


def _spawn_worker(work: Path, workdir: Path, url: str, role: str, name: str
                  ) -> subprocess.Popen:
    log = open(work / f"{name}.log", "w")  # noqa: SIM115 - closed with the worker
    return subprocess.Popen(
        [sys.executable, "-m", "pseudolink", "worker", "--role", role, "--exchange", url,
         "--workdir", str(workdir)], stdout=log, stderr=subprocess.STDOUT, env=ENV, cwd=ROOT)


def _wait_for_line(log: Path, text: str, process: subprocess.Popen,
                   timeout: float = 600) -> None:
    deadline = time.perf_counter() + timeout
    while text not in log.read_text():
        if process.poll() is not None or time.perf_counter() > deadline:
            raise SystemExit(f"{log.name}: no {text!r}:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)


def _vm_hwm_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _database() -> tuple[str, callable]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(ADMIN_DB, isolation_level="AUTOCOMMIT")
    name = f"pseudolink_exchange_bench_{secrets.token_hex(4)}"
    with admin.connect() as db:
        db.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as db:
            db.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return make_url(ADMIN_DB).set(database=name).render_as_string(hide_password=False), drop


def _serve(work: Path, workdir: Path, database_url: str, name: str
           ) -> tuple[subprocess.Popen, str]:
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    log = open(work / f"{name}.log", "w")  # noqa: SIM115 - closed with the server
    server = subprocess.Popen(
        [sys.executable, "-m", "pseudolink", "serve", "exchange", "--port", str(port),
         "--database-url", database_url, "--workdir", str(workdir)],
        stdout=log, stderr=subprocess.STDOUT, env={**ENV, "PSEUDOLINK_LOG_LEVEL": "warning"},
        cwd=ROOT)
    for _ in range(200):
        try:
            if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.3)
    return server, url


def stream_big(work: Path, keys: Path, shared: Path) -> dict:
    """One envelope of BIG_GIB through a fresh exchange (SQLite: files only), up and down."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    import linkage
    from linkage.envelope import seal_file
    from linkage.exchange import ExchangeClient, ExchangeState

    manifest = linkage.ProjectManifest.load(shared)
    space = work / "big-exchange"
    shutil.copytree(shared, space / "data" / manifest.id)
    database_url = f"sqlite:///{space / 'exchange.db'}"
    ExchangeState(database_url).register(manifest)
    data = work / "big.parquet"
    block = 64 << 20
    with pq.ParquetWriter(data, pa.schema([("blob", pa.binary())]),
                          compression="none") as writer:
        for _ in range(int(BIG_GIB * (1 << 30)) // block):
            writer.write_table(pa.table({"blob": [os.urandom(block)]}))
    ssis = linkage.load_party_secret(keys, "ssis", PASSPHRASE)
    big = work / "big.payload.age"
    seal_file(big, data, kind="payload", project=manifest, sender=ssis,
              recipient=manifest.party("agency"))
    data.unlink()
    server, url = _serve(work, space, database_url, "big-exchange")
    try:
        started = time.perf_counter()
        with ExchangeClient(url, ssis) as client:
            client.push(manifest.id, big)
        up = time.perf_counter() - started
        agency = linkage.load_party_secret(keys, "agency", PASSPHRASE)
        started = time.perf_counter()
        with ExchangeClient(url, agency) as client:
            client.pull(manifest.id, manifest, work / "big-inbox")
        down = time.perf_counter() - started
        peak = _vm_hwm_mib(server.pid)
    finally:
        server.terminate()
        server.wait(30)
    size = big.stat().st_size
    shutil.rmtree(work / "big-inbox", ignore_errors=True)
    big.unlink()
    Path(f"{big}.sig").unlink(missing_ok=True)
    return {"bytes": size, "push_seconds": round(up, 1), "pull_seconds": round(down, 1),
            "push_mib_per_s": round(size / up / 2**20, 1),
            "pull_mib_per_s": round(size / down / 2**20, 1),
            "server_peak_mib": round(peak, 1)}


def main() -> None:
    import anonymize
    import linkage

    work = WORK / "exchange"
    source = WORK / f"link-source-{PEOPLE}"
    shutil.rmtree(work, ignore_errors=True)
    if not (source / "project.toml").exists():
        shutil.rmtree(source, ignore_errors=True)
        linkage.generate_synthetic_data(source, PEOPLE, areas=anonymize.load_admin_areas(),
                                        seed=11, overlap=0.5)
    spaces = {name: work / name for name in ("holders", "keymanager", "agency", "exchange",
                                             "direct")}
    keys = work / "all-keys"
    for party, role in PARTIES:
        linkage.create_party(keys, party, role, PASSPHRASE)
    spec = linkage.ProjectSpec.load(source / "project.toml")
    shared = work / "shared" / spec.id
    manifest = linkage.create_project(spec, keys, shared)
    for holder in spec.holder_ids:
        linkage.accept_project(manifest, linkage.load_party_secret(keys, holder, PASSPHRASE),
                               keys)
    for name, space in spaces.items():
        # The holders' workspace holds both holders' keys; every other party only its own.
        own = {"holders": ("ssis", "building"), "keymanager": ("keymanager",),
               "agency": ("agency",), "direct": tuple(p for p, _ in PARTIES),
               "exchange": ()}[name]
        (space / "keys" / "parties").mkdir(parents=True)
        for public in (keys / "parties").glob("*.public.json"):
            shutil.copy(public, space / "keys" / "parties")
        for party in own:
            shutil.copy(keys / "parties" / f"{party}.secret.key", space / "keys" / "parties")
        if name in ("holders", "direct"):
            shutil.copytree(keys / "projects", space / "keys" / "projects")
        shutil.copytree(shared, space / "data" / spec.id)

    def direct_round(r: int) -> dict[str, tuple[float, float]]:
        out, done = work / f"prepared-{r}", work / f"direct-out-{r}"
        steps = {f"prepare {h}": cli("holder", "prepare", "--project", spec.id, "--holder",
                                     h, "--input", str(source / f"{h}.parquet"), "--out",
                                     str(out), workdir=spaces["holders"])
                 for h in spec.holder_ids}
        sizes.update({p.name: p.stat().st_size for p in out.glob("*.age")})
        steps["link"] = cli("link", "--project", spec.id, "--keys",
                            *(str(out / f"{h}.keys.age") for h in spec.holder_ids),
                            "--out", str(done), workdir=spaces["direct"])
        steps["combine"] = cli("combine", "--project", spec.id, "--linkmap",
                               str(done / "linkmap.age"), "--payloads",
                               *(str(out / f"{h}.payload.age") for h in spec.holder_ids),
                               "--out", str(done / "combined.parquet"),
                               workdir=spaces["direct"])
        shutil.rmtree(out)
        shutil.rmtree(done)
        return steps

    # The holder whose input is largest prepares last, so its keys file (the largest)
    # is the one left to fetch after the last file lands: the costlier order.
    order = sorted(spec.holder_ids, key=lambda h: (source / f"{h}.parquet").stat().st_size)

    def exchange_round(r: int) -> tuple[dict[str, tuple[float, float]], float, float,
                                         dict[str, float], dict[str, list[str]]]:
        for party in ("keymanager", "agency"):
            # Each round pulls everything afresh.
            project_dir = spaces[party] / "data" / spec.id
            shutil.rmtree(project_dir / "inbox", ignore_errors=True)
            for name in ("link-report.json", "combined.parquet"):
                (project_dir / name).unlink(missing_ok=True)
        shutil.rmtree(spaces["exchange"] / "exchange", ignore_errors=True)
        database_url, drop = _database()
        server = None
        workers: dict[str, subprocess.Popen] = {}
        try:
            cli("exchange", "register", "--project", spec.id, "--database-url", database_url,
                workdir=spaces["exchange"])
            server, url = _serve(work, spaces["exchange"], database_url, f"exchange-{r}")
            # The workers run before the holders start, as deployed (systemd units): each
            # fetches its inputs as they land, and its start-up is not the project's time.
            for party, role in (("keymanager", "key_manager"), ("agency", "combiner")):
                workers[party] = _spawn_worker(work, spaces[party], url, role, f"{party}-{r}")
            for party in workers:
                _wait_for_line(work / f"{party}-{r}.log", "worker ", workers[party])
            objects = spaces["exchange"] / "exchange" / "files" / "objects" / spec.id
            sent = work / f"prepared-sent-{r}"
            steps = {}
            for h in order:
                # Each holder prepares and sends in one process (`holder prepare --send`),
                # as a holder runs it; the direct path's prepare is the same work unsent.
                steps[f"prepare and send {h}"] = cli(
                    "holder", "prepare", "--project", spec.id, "--holder", h, "--input",
                    str(source / f"{h}.parquet"), "--out", str(sent), "--send", url,
                    workdir=spaces["holders"])
            landed = time.perf_counter()
            combined = spaces["agency"] / "data" / spec.id / "combined.parquet"
            linkmap_at = None
            deadline = landed + 3600
            while not combined.exists():
                if linkmap_at is None and sum(1 for _ in objects.iterdir()) > 2 * len(order):
                    linkmap_at = time.perf_counter()
                for party, worker in workers.items():
                    if worker.poll() is not None:
                        raise SystemExit(f"the {party} worker stopped:\n"
                                         + (work / f"{party}-{r}.log").read_text()[-3000:])
                if time.perf_counter() > deadline:
                    raise SystemExit("no combined table within an hour")
                time.sleep(0.02)
            done = time.perf_counter()
            linkmap_at = linkmap_at or done
            after = {"last file landed -> link map at the exchange": linkmap_at - landed,
                     "link map at the exchange -> combined table": done - linkmap_at,
                     "last file landed -> combined table": done - landed}
            _wait_for_line(work / f"agency-{r}.log", ": succeeded", workers["agency"])
            worker_cpu = sum(_cpu_seconds(w.pid, children=True) for w in workers.values())
            peak, server_cpu = _vm_hwm_mib(server.pid), _cpu_seconds(server.pid)
        finally:
            for worker in workers.values():
                worker.terminate()
                worker.wait(30)
            if server is not None:
                server.terminate()
                server.wait(30)
            drop()
        # What each worker did and how long each step took, from its own log lines
        # (fetches ahead of the job, the job's fetch, link, send, combine).
        timed = {party: [line.replace(str(spaces[party]), "WORKDIR").split(": ", 1)[1]
                         for line in (work / f"{party}-{r}.log").read_text().splitlines()
                         if line.endswith(" s)") or line.endswith(" s")]
                 for party in workers}
        shutil.rmtree(sent)
        return steps, peak, server_cpu + worker_cpu, after, timed

    sizes: dict[str, int] = {}
    direct_runs, exchange_runs, peaks, other_cpus, afters, worker_steps = [], [], [], [], [], []
    loads = [os.getloadavg()[0]]
    for r in range(ROUNDS):
        first_direct = r % 2 == 0
        if first_direct:
            direct_runs.append(direct_round(r))
        steps, peak, cpu, after, timed = exchange_round(r)
        exchange_runs.append(steps)
        peaks.append(peak)
        other_cpus.append(cpu)
        afters.append(after)
        worker_steps.append(timed)
        if not first_direct:
            direct_runs.append(direct_round(r))
        loads.append(os.getloadavg()[0])
    direct = {k: min(run[k][0] for run in direct_runs) for k in direct_runs[0]}
    via = {k: min(run[k][0] for run in exchange_runs) for k in exchange_runs[0]}
    via.update({k: min(a[k] for a in afters) for k in afters[0]})
    direct_cpu = min(sum(c for _, c in run.values()) for run in direct_runs)
    exchange_cpu = min(sum(c for _, c in run.values()) + other
                       for run, other in zip(exchange_runs, other_cpus, strict=True))
    server_peak = max(peaks)
    # Holders work side by side on their own hosts: the slower one counts, in both paths.
    prepare_seconds = max(direct[f"prepare {h}"] for h in spec.holder_ids)
    direct_total = prepare_seconds + direct["link"] + direct["combine"]
    big = stream_big(work, keys, shared) if BIG_GIB > 0 else {}
    holders_done = max(via[f"prepare and send {h}"] for h in spec.holder_ids)
    exchange_total = holders_done + via["last file landed -> combined table"]
    overhead = (exchange_total - direct_total) / exchange_total
    # The target is set at 10M x 7.5M: a smaller run is a measurement, not a pass.
    passed = PEOPLE >= 10_000_000 and overhead <= MAX_OVERHEAD and \
        server_peak < SERVER_PEAK_MIB and \
        big.get("server_peak_mib", 0) < SERVER_PEAK_MIB
    write_result(
        "exchange",
        summary=(f"{PEOPLE:,} people, fastest of {ROUNDS} rounds: direct {direct_total:.1f} s, "
                 f"through the exchange {exchange_total:.1f} s (overhead {overhead:.1%} of end "
                 f"to end; CPU {direct_cpu:.0f} s vs {exchange_cpu:.0f} s), exchange "
                 f"server peak {server_peak:.0f} MiB; one {big.get('bytes', 0) / 2**30:.1f} "
                 f"GiB envelope up {big.get('push_mib_per_s')} MiB/s, down "
                 f"{big.get('pull_mib_per_s')} MiB/s, server peak "
                 f"{big.get('server_peak_mib')} MiB"),
        target=f"overhead <= {MAX_OVERHEAD:.0%} of end-to-end time, exchange server peak "
               f"< {SERVER_PEAK_MIB} MiB (issue 17, at 10M x 7.5M)",
        passed=passed,
        figures={"people": PEOPLE, "file_bytes": sizes,
                 "rounds": ROUNDS, "timing": "each step's fastest of the rounds",
                 "direct_seconds": {k: round(v, 1) for k, v in direct.items()},
                 "exchange_seconds": {k: round(v, 1) for k, v in via.items()},
                 "direct_end_to_end_seconds": round(direct_total, 1),
                 "exchange_end_to_end_seconds": round(exchange_total, 1),
                 "overhead_fraction": round(overhead, 3),
                 "exchange_end_to_end": "the slower holder's prepare and send, plus the "
                                        "time from the last holder's send to the combined "
                                        "table at the agency; the workers run from the "
                                        "start and fetch each file as it lands",
                 "holders_in_order": order,
                 "worker_steps_each_round": worker_steps,
                 "every_round_seconds": {
                     "direct": [{k: round(w, 1) for k, (w, _) in run.items()}
                                for run in direct_runs],
                     "exchange": [{**{k: round(w, 1) for k, (w, _) in run.items()},
                                   **{k: round(v, 1) for k, v in after.items()}}
                                  for run, after in zip(exchange_runs, afters, strict=True)]},
                 "load_average_1min": [round(x, 1) for x in loads],
                 # CPU seconds (all processes, the exchange server and the workers, their
                 # prefetching included) barely depend on what else the machine runs: the
                 # overhead in work, not waiting.
                 "direct_cpu_seconds": round(direct_cpu, 1),
                 "exchange_cpu_seconds": round(exchange_cpu, 1),
                 "cpu_overhead_fraction": round((exchange_cpu - direct_cpu) / exchange_cpu, 3),
                 "exchange_server_peak_mib": round(server_peak, 1),
                 "big_envelope": big},
        peers={}, packages=("duckdb", "pyarrow", "fastapi", "uvicorn", "procrastinate",
                            "http-message-signatures"))


if __name__ == "__main__":
    main()
