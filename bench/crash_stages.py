"""kill -9 inside each pipeline stage at scale: what a crash leaves on disk (issue 23).

Used by ``bench/hardening.py`` (``python bench/hardening.py crash``); a stage runs here as
``python bench/crash_stages.py STAGE WORK`` so that it can be killed on its own.

Each party works in a folder of its own, as on its own premises: the holders write the
folder they send (``exchange/``), the key manager ``keymanager/``, the agency ``agency/``;
each process's scratch is under its party's workspace (``<party>-ws/scratch``), as the CLI
sets it. A whole clean run of every stage comes first, to time it; then each stage is
killed with SIGKILL at fractions of its own duration (counted from the end of its
start-up, so that the kills land in the work, not in the imports), and after each kill
every file under the work folder and every new entry in the system temp folder is
examined: anything that is not the holder's own input or crosswalk, a public project
file, a report, a signature or an age envelope is a finding (a plaintext keys file,
payload, link map or attribute table is exactly that). Then the stage runs again on the
same folders and must succeed with the same counts as the clean run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSPHRASE = "bench passphrase"
AGE_HEADER = b"age-encryption.org/v1"
#: Where each stage's party works (its scratch is under ``<party>-ws/scratch``).
PARTY = {"prepare": "ssis", "link": "keymanager", "combine": "agency"}
#: Files a party may hold in plaintext: its own input, the generator's answer key and
#: public project files (not written by a stage), key files (sealed by the passphrase),
#: the holder's crosswalk, reports of counts, and the agency's finished combined table.
STARTED = "started"
INPUTS = {"ssis.parquet", "building.parquet", "truth.parquet", "project.toml",
          "synth-data.json"}


def stage(name: str, work: Path) -> dict:
    """One stage's body, in its own process (the one that is killed)."""
    import linkage
    from linkage import scratch

    party = PARTY[name] if name != "prepare-building" else "building"
    scratch.set_root(work / f"{party}-ws" / "scratch")
    scratch.sweep()
    manifest = linkage.ProjectManifest.load(work / "project")
    exchange, keys = work / "exchange", work / "keys"
    print(STARTED, flush=True)  # imports done: the kills are timed from here
    if name in ("prepare", "prepare-building"):
        holder = "ssis" if name == "prepare" else "building"
        report = linkage.prepare(manifest, holder, work / f"{holder}.parquet", exchange,
                                 keys, PASSPHRASE)
        return {"records": report.records}
    if name == "link":
        report = linkage.link(manifest, [exchange / "ssis.keys.age",
                                         exchange / "building.keys.age"],
                              work / "keymanager", keys, PASSPHRASE)
        return {"links": report.links}
    report = linkage.combine(manifest, work / "keymanager" / "linkmap.age",
                             [exchange / "ssis.payload.age", exchange / "building.payload.age"],
                             work / "agency" / "combined.parquet", keys, PASSPHRASE)
    return {"rows": report.rows}


def _launch(name: str, work: Path) -> subprocess.Popen[str]:
    # The stages' own system temp folder: whatever is left there is theirs (the machine's
    # /tmp is shared with other processes), and is a finding like any other leftover.
    (work / "systemp").mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(work / "systemp")}
    return subprocess.Popen([sys.executable, __file__, name, str(work)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run(name: str, work: Path) -> tuple[float, dict]:
    """A whole stage: the seconds of its work (after start-up) and its counts."""
    proc = _launch(name, work)
    proc.stdout.readline()  # type: ignore[union-attr]
    started = time.monotonic()
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"stage {name} failed ({proc.returncode}): {err[-3000:]}")
    return time.monotonic() - started, json.loads(out.strip().splitlines()[-1])


def _temp_entries() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).iterdir()}


def findings(work: Path, temp_before: set[str]) -> list[str]:
    """Every file a crash must not leave: plaintext outside the allowed places, scratch,
    atomic-write temporaries, new entries in the system temp folder."""
    found = []
    for path in sorted(work.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(work)
        top = relative.parts[0]
        if relative.as_posix() in INPUTS or top in ("keys", "project"):
            continue
        if top == "systemp":
            found.append(f"left in the stage's system temp folder: {relative}")
            continue
        if top.endswith("-ws") and "scratch" in relative.parts:
            found.append(f"scratch left: {relative}")
            continue
        if path.name.endswith(".tmp") or ".tmp" in path.name or path.name.startswith("."):
            found.append(f"temporary left: {relative}")
            continue
        with open(path, "rb") as fh:
            head = fh.read(len(AGE_HEADER))
        if head == AGE_HEADER:
            continue  # sealed to its recipients
        if path.suffix in (".json", ".sig") and top in ("exchange", "keymanager", "agency"):
            continue  # reports (counts, digests) and signatures of the envelopes
        if "crosswalk" in path.name and top == "exchange":
            found.append(f"crosswalk in the folder sent to others: {relative}")
            continue
        if "crosswalk" in path.name:
            continue
        if relative.as_posix() == "agency/combined.parquet":
            continue  # the agency's finished product, written under its final name last
        found.append(f"plaintext: {relative} ({head[:4]!r})")
    temp = Path(tempfile.gettempdir())
    found += [f"system temp: {temp / name}" for name in sorted(_temp_entries() - temp_before)
              if name.startswith("pseudolink")]
    return found


def kill_at(name: str, work: Path, seconds: float) -> bool:
    """Start the stage and SIGKILL it ``seconds`` into its work; False if it finished
    first."""
    proc = _launch(name, work)
    proc.stdout.readline()  # type: ignore[union-attr]
    time.sleep(seconds)
    if proc.poll() is not None:
        proc.communicate()
        return False
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    return True


def crash_run(work: Path, fractions: tuple[float, ...]) -> dict:
    """The clean run, then the kills and reruns of each stage; the figures."""
    temp_before = _temp_entries()
    clean: dict[str, dict] = {}
    for name in ("prepare", "prepare-building", "link", "combine"):
        seconds, counts = run(name, work)
        clean[name] = {"seconds": round(seconds, 1), **counts}
    clean_findings = findings(work, temp_before)
    stages: dict[str, dict] = {}
    for name in ("prepare", "link", "combine"):
        kills: list[dict] = []
        for fraction in fractions:
            killed = kill_at(name, work, fraction * clean[name]["seconds"])
            deadline = time.monotonic() + 15  # the reaper removes scratch after the death
            while (found := findings(work, temp_before)) and time.monotonic() < deadline:
                time.sleep(0.25)
            kills.append({"at": fraction, "killed": killed, "findings": found})
        seconds, counts = run(name, work)
        expected = {k: v for k, v in clean[name].items() if k != "seconds"}
        stages[name] = {"kills": kills, "rerun_seconds": round(seconds, 1),
                        "rerun_same_counts": counts == expected,
                        "after_rerun": findings(work, temp_before)}
    return {"clean": clean, "clean_findings": clean_findings, "stages": stages}



def setup(work: Path, people: int) -> None:
    """Generated registers, the parties' keys and an accepted project, as in bench/link.py."""
    import anonymize
    import linkage

    if not (work / "project.toml").exists():
        linkage.generate_synthetic_data(work, people, areas=anonymize.load_admin_areas(),
                                        seed=23, overlap=0.5)
    if not (work / "project").exists():
        for party, role in (("ssis", "holder"), ("building", "holder"),
                            ("keymanager", "key_manager"), ("agency", "combiner")):
            linkage.create_party(work / "keys", party, role, PASSPHRASE)
        spec = linkage.ProjectSpec.load(work / "project.toml")
        manifest = linkage.create_project(spec, work / "keys", work / "project")
        for holder in spec.holder_ids:
            linkage.accept_project(manifest, linkage.load_party_secret(
                work / "keys", holder, PASSPHRASE), work / "keys")


if __name__ == "__main__":
    print(json.dumps(stage(sys.argv[1], Path(sys.argv[2]))))
