"""Clerical review without plaintext: uncertain pairs go to each holder as its own serials.

The key manager sees no identifiers, so it cannot judge a pair near the threshold; each
holder can look at its own record (is it a test record, a known duplicate, a mistyped
identifier?). ``link(review_band=(low, high))`` writes ``H.review.age`` sealed to each
holder: a review id per entry, that holder's serial and the pair's probability, never the
other holder's serial. Being on the list says "this record probably has a counterpart in
the other register", which is membership (the reason ``H.matched.age`` was withdrawn), so
every list is padded with as many decoys (random other records of that holder, with
probabilities drawn from the band) as real entries: a holder cannot tell the two apart.
The key manager keeps which entry is which in its private folder. The holder returns
``H.decisions.age`` (review id, match | non-match); the next ``link`` with ``decisions=``
drops a pair any holder called a non-match and links a pair every deciding holder called a
match, whatever its probability; decisions on decoys are ignored.

Lists and decisions name records, so the engine does the work where it holds them
(:meth:`Engine.fuzzy_link_files` with a :class:`~linkage.engines.base.ReviewRequest`): this
module holds the one-machine engines' way (:func:`review_here`) and what the key manager's
process does with files whatever the engine (opening decisions, sealing listings, keeping
the record of entries).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from linkage.envelope import COMPRESSION, open_envelope, open_envelopes_to, seal, seal_file
from linkage.errors import InputError, LinkageError
from linkage.files import atomic_path
from linkage.inputs import read_input
from linkage.keys.party import load_party_secret
from linkage.keys.project import ProjectManifest, as_manifest
from linkage.prepare import crosswalk_path, make_private, private_dir
from linkage.serials import random_hex

if TYPE_CHECKING:
    from linkage.engines.base import ReviewRequest
    from linkage.fuzzy.link import Scored

DECISIONS = ("match", "non-match")
#: Decoys per real entry in each holder's review list.
DECOYS_PER_ENTRY = 1
#: A listing's Parquet compression, as :func:`linkage.envelope.seal` would choose it.
LISTING_COMPRESSION = COMPRESSION.get("review", "zstd")


def review_path(out_dir: str | Path, holder_id: str) -> Path:
    return Path(out_dir) / f"{holder_id}.review.age"


def decisions_path(out_dir: str | Path, holder_id: str) -> Path:
    return Path(out_dir) / f"{holder_id}.decisions.age"


def review_state_path(keys_dir: str | Path, project_id: str) -> Path:
    """The key manager's private record of which review entry is which pair (or a decoy)."""
    return private_dir(keys_dir, project_id) / "review-state.parquet"


def parse_band(text: str) -> tuple[float, float]:
    """``"0.3:0.9"`` -> (0.3, 0.9), refusing anything that is not 0 <= low < high <= 1.

    >>> parse_band("0.2:0.8")
    (0.2, 0.8)
    """
    low, sep, high = text.partition(":")
    try:
        band = (float(low), float(high))
    except ValueError:
        band = None
    if not sep or band is None or not 0 <= band[0] < band[1] <= 1:
        raise LinkageError(f"--review-band {text}: give LOW:HIGH probabilities, "
                           "0 <= LOW < HIGH <= 1 (such as 0.3:0.9)")
    return band


def review_entries(tables: Mapping[str, pa.Table], left_index: np.ndarray,
                   right_index: np.ndarray, probability: np.ndarray,
                   band: tuple[float, float]) -> tuple[dict[str, pa.Table], pa.Table]:
    """Each holder's review listing of the pairs ``(left_index[k], right_index[k])`` (row
    indices into ``tables``), padded with decoys and shuffled, and the key manager's record
    of which entry is which: what the one-machine engines write for review."""
    rng = np.random.default_rng()
    (left_id, left), (right_id, right) = tables.items()
    pairs = len(left_index)
    left_serials = left.column("serial").take(pa.array(left_index)).combine_chunks()
    right_serials = right.column("serial").take(pa.array(right_index)).combine_chunks()
    state, listings = [], {}
    for holder, table, own in ((left_id, left, left_index), (right_id, right, right_index)):
        pool = np.setdiff1d(np.arange(table.num_rows), own)
        decoys = rng.choice(pool, size=min(len(pool), pairs * DECOYS_PER_ENTRY),
                            replace=False)
        serials = pa.concat_arrays([
            table.column("serial").take(pa.array(own)).combine_chunks(),
            table.column("serial").take(pa.array(decoys, pa.int64())).combine_chunks()])
        probs = np.concatenate([probability, rng.uniform(*band, len(decoys))])
        order = rng.permutation(len(serials))
        ids = random_hex(len(serials))
        listings[holder] = pa.table({"review_id": ids, "serial": serials.take(pa.array(order)),
                                     "probability": pa.array(np.round(probs[order], 4))})
        is_pair = order < pairs
        pair_of = np.where(is_pair, order, 0)
        state.append(pa.table({
            "review_id": ids, "holder": pa.array([holder] * len(ids)),
            "decoy": pa.array(~is_pair),
            "left_serial": pc.if_else(pa.array(is_pair), left_serials.take(pa.array(pair_of)),
                                      pa.scalar(None, pa.string())) if pairs else
            pa.nulls(len(ids), pa.string()),
            "right_serial": pc.if_else(pa.array(is_pair),
                                       right_serials.take(pa.array(pair_of)),
                                       pa.scalar(None, pa.string())) if pairs else
            pa.nulls(len(ids), pa.string())}))
    return listings, pa.concat_tables(state)


def seal_review_lists(manifest: ProjectManifest, me, listings: Mapping[str, Path],
                      out_dir: Path) -> dict[str, str]:
    """Seal each holder its listing file (as an engine wrote it), streaming from disk as
    link seals the link map; the outputs, by name, for the report."""
    outputs = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    for holder, listing in listings.items():
        path = review_path(out_dir, holder)
        seal_file(path, listing, kind="review", project=manifest, sender=me,
                  recipient=manifest.party(holder))
        outputs[f"review:{holder}"] = str(path)
    return outputs


def keep_state(state: Path, keys_dir: str | Path, project_id: str) -> Path:
    """Move the record an engine wrote into the key manager's private folder (0600), where
    the next link's decisions are read against it and ``project close`` destroys it. The
    bytes are copied, never decoded: on Spark the record never passes through memory."""
    target = review_state_path(keys_dir, project_id)
    make_private(target.parent)
    with atomic_path(target, mode=0o600) as tmp:
        shutil.copyfile(state, tmp)
    return target


def review_sheet(project: ProjectManifest | str | Path, holder_id: str,
                 review: str | Path, keys_dir: str | Path, passphrase: str) -> pa.Table:
    """A holder's review list joined to its own record ids (review_id, record_id,
    probability); for the holder's clerk only, never sent."""
    manifest = as_manifest(project)
    me = load_party_secret(keys_dir, holder_id, passphrase)
    listing = open_envelope(review, me, "review", manifest, [manifest.spec.key_manager]).table
    crosswalk = pq.read_table(crosswalk_path(keys_dir, manifest.id, holder_id),
                              columns=["serial", "record_id"])
    joined = listing.join(crosswalk, "serial", join_type="left outer")
    if joined.column("record_id").null_count:
        raise LinkageError(f"{review}: names serials this holder's crosswalk lacks: a review "
                           "of another prepare run?")
    return joined.select(["review_id", "record_id", "probability"]).sort_by("review_id")


def seal_decisions(project: ProjectManifest | str | Path, holder_id: str,
                   review: str | Path, decisions: str | Path, out_dir: str | Path,
                   keys_dir: str | Path, passphrase: str) -> Path:
    """Check a holder's decisions file (CSV or Parquet: review_id, decision) against its
    review list and seal it to the key manager as ``H.decisions.age``; rows left blank are
    left out (the model decides those pairs)."""
    manifest = as_manifest(project)
    me = load_party_secret(keys_dir, holder_id, passphrase)
    listing = open_envelope(review, me, "review", manifest, [manifest.spec.key_manager]).table
    table = read_input(decisions)
    for column in ("review_id", "decision"):
        if column not in table.column_names:
            raise InputError(decisions, "column required (review_id, decision)", column=column)
    ids = table.column("review_id").cast(pa.string()).to_pylist()
    said = [str(v).strip().lower() if v is not None else "" for v in
            table.column("decision").cast(pa.string()).to_pylist()]
    known = set(listing.column("review_id").to_pylist())
    seen: set[str] = set()
    answered: list[tuple[str, str]] = []
    for row, (review_id, decision) in enumerate(zip(ids, said, strict=True), start=2):
        if not decision or decision == "none":
            continue                            # a row the clerk could not judge
        if review_id not in known:
            raise InputError(decisions, "not a review id of this holder's review list",
                             row=row, column="review_id")
        if review_id in seen:
            raise InputError(decisions, "review id given twice", row=row, column="review_id")
        if decision not in DECISIONS:
            raise InputError(decisions, f"decision must be {' or '.join(DECISIONS)}",
                             row=row, column="decision")
        seen.add(review_id)
        answered.append((review_id, decision))
    if not answered:
        raise InputError(decisions, "no row has a decision (match or non-match)",
                         column="decision")
    path = decisions_path(out_dir, holder_id)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    seal(path, pa.table({"review_id": pa.array([a for a, _ in answered], pa.string()),
                         "decision": pa.array([d for _, d in answered], pa.string())}),
         kind="decisions", project=manifest, sender=me,
         recipient=manifest.party(manifest.spec.key_manager))
    return path


def open_decisions(manifest: ProjectManifest, me, paths: Iterable[str | Path],
                   scratch: Path) -> dict[str, tuple[Path, Path]]:
    """Open the holders' decisions envelopes to Parquet files under ``scratch``, where an
    engine reads them: per holder, (envelope, file). Refuses a second file from a holder."""
    paths = [Path(p) for p in paths]
    opened = open_envelopes_to(
        [(path, "decisions", manifest.spec.holder_ids, scratch / f"decisions-{n}.parquet")
         for n, path in enumerate(paths, start=1)], me, manifest)
    files: dict[str, tuple[Path, Path]] = {}
    for path, (sealed, data) in zip(paths, opened, strict=True):
        if sealed["sender"] in files:
            raise LinkageError(f"{path}: a second decisions file from '{sealed['sender']}'")
        files[sealed["sender"]] = (path, data)
    return files


def decided_pairs(state: pa.Table, decisions: Mapping[str, tuple[Path, pa.Table]]
                  ) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(confirmed, rejected) pairs of serials (left, right): rejected where any holder
    said non-match, confirmed where every deciding holder said match; decoys ignored.

    ``decisions`` maps each deciding holder to its envelope (for errors) and its table.
    """
    entries = {(r["holder"], r["review_id"]): r for r in state.to_pylist()}
    votes: dict[tuple[str, str], set[str]] = {}
    for sender, (path, table) in decisions.items():
        for row in table.to_pylist():
            entry = entries.get((sender, row["review_id"]))
            if entry is None:
                raise LinkageError(f"{path}: review id of no review list issued to "
                                   f"'{sender}'")
            if not entry["decoy"]:
                pair = (entry["left_serial"], entry["right_serial"])
                votes.setdefault(pair, set()).add(row["decision"])
    rejected = {p for p, said in votes.items() if "non-match" in said}
    confirmed = {p for p, said in votes.items() if said == {"match"}}
    return confirmed, rejected


def apply_decisions(left_serials: Sequence[str], right_serials: Sequence[str],
                    kept: list[tuple[int, int]], confirmed: set[tuple[str, str]],
                    rejected: set[tuple[str, str]]) -> list[tuple[int, int]]:
    """``kept`` (row-index pairs) without rejected pairs, plus confirmed pairs whose records
    are free (a record still links to at most one other).

    >>> apply_decisions(["a", "b"], ["x", "y"], [(0, 0)], {("b", "y")}, {("a", "x")})
    [(1, 1)]
    """
    out = [p for p in kept if (left_serials[p[0]], right_serials[p[1]]) not in rejected]
    used_left, used_right = {p[0] for p in out}, {p[1] for p in out}
    left_at = {s: i for i, s in enumerate(left_serials)}
    right_at = {s: i for i, s in enumerate(right_serials)}
    for left, right in sorted(confirmed):
        li, ri = left_at.get(left), right_at.get(right)
        if li is None or ri is None or li in used_left or ri in used_right:
            continue
        out.append((li, ri))
        used_left.add(li)
        used_right.add(ri)
    return out


def review_here(request: ReviewRequest, tables: Mapping[str, pa.Table], scored: Scored,
                pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Clerical review in this process (the one-machine engines): apply ``request``'s
    decisions to ``pairs`` (row-index pairs) and write its review files; the report's
    counts go into ``scored.details``."""
    (_, left), (_, right) = tables.items()
    if request.decisions:
        state = pq.read_table(request.earlier_state)
        confirmed, rejected = decided_pairs(state, {
            h: (source, pq.read_table(data)) for h, (source, data) in
            request.decisions.items()})
        before = set(pairs)
        pairs = apply_decisions(left.column("serial").to_pylist(),
                                right.column("serial").to_pylist(), pairs, confirmed, rejected)
        scored.details["review_decisions"] = {
            "confirmed": len(confirmed), "rejected": len(rejected),
            "links_added": len(set(pairs) - before), "links_removed": len(before - set(pairs))}
    if request.band is not None:
        low, high = request.band
        resolved = scored.resolved
        band = resolved[(scored.probability[resolved] >= low)
                        & (scored.probability[resolved] <= high)]
        listings, state = review_entries(tables, scored.candidates.left[band],
                                         scored.candidates.right[band],
                                         scored.probability[band], request.band)
        for holder, listing in listings.items():
            pq.write_table(listing, request.listings[holder], compression=LISTING_COMPRESSION)
        pq.write_table(state, request.state)
        scored.details["review"] = {"band": list(request.band), "pairs": len(band)}
    return pairs
