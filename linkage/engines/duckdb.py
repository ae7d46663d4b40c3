"""The embedded engine: DuckDB over Arrow tables, one machine."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from linkage.engines.base import BAD_SERIAL, Engine, LinkSummary, MatchResult
from linkage.engines.link_ids import write_link_map
from linkage.engines.resources import out_of_memory, stage_budget, threads
from linkage.errors import LinkageError, SerialMismatch
from linkage.files import atomic_path
from linkage.keys.linkage_key import linkage_key_column, quote
from linkage.scratch import private_dir
from linkage.sinks import WriteBehind
from linkage.spec import Recipe

#: Rows per batch when streaming a result to Parquet.
_WRITE_ROWS = 256 * 1024


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DuckDBEngine(Engine):
    name = "duckdb"

    #: Threads for the keyed hashing (None: ``PSEUDOLINK_THREADS``, else every usable core).
    threads: int | None = None

    def linkage_keys(self, values: pa.Table, project_key: bytes,
                     recipes: Sequence[Recipe]) -> pa.Table:
        # Arrow joins each recipe's message column (null where a field is null); OpenSSL
        # hashes the whole column. Plain binary, as every engine gives: keys files must not
        # depend on the engine.
        return pa.table({recipe.name: linkage_key_column(
            project_key, recipe.tag, [values.column(f) for f in recipe.fields],
            self.threads or threads()) for recipe in recipes})

    def match(self, keys: Mapping[str, pa.Table], recipes: Sequence[str]) -> MatchResult:
        con = duckdb.connect()
        try:
            for index, table in enumerate(keys.values()):
                con.register(f"h{index}", table)
            return _Matcher(con, {h: f"h{i}" for i, h in enumerate(keys)}, recipes).run()
        finally:
            con.close()

    def match_files(self, keys: Mapping[str, Path], recipes: Sequence[str]) -> MatchResult:
        with _file_matcher(keys, recipes) as matcher:
            return matcher.run()

    def link_files(self, keys: Mapping[str, Path], recipes: Sequence[str],
                   linkmap: Path | None) -> MatchResult:
        """Match, count and write the link map inside DuckDB, on its threads: the members
        never come to Python as a whole (``members`` comes back empty). The summary is
        counted as the clusters form, and the link map streams out of DuckDB's sort
        into a writer thread, hashed as it is written, so sealing it reads it once."""
        with _file_matcher(keys, recipes) as matcher:
            matcher.cluster()
            result = matcher.result
            result.summary = matcher.summary()
            if linkmap is not None:
                result.linkmap_sha256 = matcher.write_linkmap(linkmap)
            return result

    def combine_files(self, linkmap: Path, payloads: Mapping[str, tuple[Path, Sequence[str]]],
                      out: Path) -> tuple[int, list[str]]:
        """:meth:`combine` over Parquet files on disk, written to ``out`` batch by batch.

        ``payloads`` maps each holder to its file and attribute columns. DuckDB joins and
        sorts within a memory limit (spilling to a private scratch directory), so the
        combiner's memory does not grow with the data. Returns (rows, column names).

        The serials are checked on the stream itself, with no extra pass: linked serials a
        payload lacks, and link ids that come out twice. Either raises
        :class:`SerialMismatch` before ``out`` is published.
        """
        with private_dir("duckdb") as spill, \
                atomic_path(out) as tmp, sized("combine"):
            con = file_connection(spill, "combine")
            try:
                sources = {h: (f"read_parquet({_literal(str(p))})", attrs)
                           for h, (p, attrs) in payloads.items()}
                sql = _combine_sql(f"read_parquet({_literal(str(linkmap))})", sources,
                                   flag_missing=True)
                reader = con.sql(sql).to_arrow_reader(_WRITE_ROWS)
                flags = {h: f"{_MISSING_FLAG}{i}" for i, h in enumerate(payloads)}
                names = [n for n in reader.schema.names if n not in flags.values()]
                missing = dict.fromkeys(payloads, 0)
                rows, repeated, last_id = 0, 0, None
                with pq.ParquetWriter(tmp, _schema_of(reader.schema, names)) as writer, \
                        WriteBehind(writer, name="combine-writer") as behind:
                    for batch in reader:
                        for holder, flag in flags.items():
                            missing[holder] += pc.sum(batch.column(flag)).as_py() or 0
                        ids = batch.column("link_id")
                        if len(ids):
                            # Sorted by link id: a repeat sits next to its twin.
                            repeated += int(ids[0].as_py() == last_id) + (pc.sum(pc.equal(
                                ids.slice(1), ids.slice(0, len(ids) - 1))).as_py() or 0)
                            last_id = ids[-1].as_py()
                        behind.write(batch.select(names))
                        rows += batch.num_rows
                if repeated or any(missing.values()):
                    raise SerialMismatch(missing, repeated)  # atomic_path publishes nothing
                return rows, names
            finally:
                con.close()

    def linked_records(self, linkmap: Path) -> dict[str, int]:
        with private_dir("duckdb") as spill:
            con = file_connection(spill, "combine")
            try:
                return {h: int(n) for h, n in con.execute(
                    f"select holder, count(*) from read_parquet({_literal(str(linkmap))}) "
                    "group by holder").fetchall()}
            finally:
                con.close()

    def check_serials(self, linkmap: Path, payloads: Mapping[str, Path]) -> None:
        # Set-wise over the files, within a memory limit.
        with private_dir("duckdb") as spill:
            con = file_connection(spill, "combine")
            try:
                con.execute("create view linkmap as select * from "
                            f"read_parquet({_literal(str(linkmap))})")
                for holder, path in payloads.items():
                    payload = f"read_parquet({_literal(str(path))})"
                    # One grouping of the payload's serials answers both questions.
                    repeated, unknown = con.execute(
                        f"with p as (select serial, count(*) as n from {payload} "
                        "group by serial) select (select count(*) from p where n > 1), "
                        "(select count(*) from linkmap m anti join p using (serial) "
                        "where m.holder = ?)", [holder]).fetchone()
                    if unknown:
                        raise SerialMismatch({holder: unknown})
                    if repeated:
                        raise LinkageError(f"the payload of holder '{holder}' repeats a serial")
            finally:
                con.close()

    def combine(self, linkmap: pa.Table, payloads: Mapping[str, pa.Table]) -> pa.Table:
        con = duckdb.connect()
        try:
            con.register("linkmap", linkmap)
            sources = {}
            for index, (holder, payload) in enumerate(payloads.items()):
                con.register(f"p{index}", payload)
                sources[holder] = (f"p{index}",
                                   [c for c in payload.column_names if c != "serial"])
            return con.sql(_combine_sql("linkmap", sources)).to_arrow_table()
        finally:
            con.close()


def file_connection(spill: str | os.PathLike[str],
                    stage: str = "default") -> duckdb.DuckDBPyConnection:
    """A connection sized for ``stage`` on this machine, spilling to ``spill`` beyond it.

    Threads and memory limit come from :func:`linkage.engines.resources.stage_budget`
    (the machine's cores and memory, cgroups included, under the operator's
    ``PSEUDOLINK_THREADS`` and ``PSEUDOLINK_DUCKDB_MEMORY``).
    """
    budget = stage_budget(stage)
    return duckdb.connect(config={
        "memory_limit": budget.duckdb_memory,
        "threads": budget.threads,
        "temp_directory": str(spill),
        "preserve_insertion_order": False,
    })


@contextmanager
def _file_matcher(keys: Mapping[str, Path], recipes: Sequence[str]) -> Iterator[_Matcher]:
    """A :class:`_Matcher` over the holders' keys files, on a connection sized for link
    that spills to a private scratch folder."""
    with private_dir("duckdb") as spill:
        con = file_connection(spill, "link")
        try:
            sources = {h: f"read_parquet({_literal(str(p))})" for h, p in keys.items()}
            with sized("link"):
                yield _Matcher(con, sources, recipes)
        finally:
            con.close()


@contextmanager
def sized(stage: str) -> Iterator[None]:
    """Turn DuckDB's out-of-memory into a :class:`LinkageError` that says what to set."""
    try:
        yield
    except duckdb.OutOfMemoryException:
        raise out_of_memory(stage, stage_budget(stage)) from None


#: Prefix of the hidden per-holder columns that flag a linked serial missing from a payload.
_MISSING_FLAG = "__pseudolink_missing_"


def _schema_of(schema: pa.Schema, names: Sequence[str]) -> pa.Schema:
    return pa.schema([schema.field(n) for n in names])


def _combine_sql(linkmap: str, payloads: Mapping[str, tuple[str, Sequence[str]]],
                 flag_missing: bool = False) -> str:
    """One row per link id, then each holder's attributes; ``payloads``: holder -> (table
    expression, attribute columns). ``flag_missing`` adds, per holder, a boolean column
    true where the link map names a serial its payload lacks."""
    columns = ["ids.link_id"]
    joins = []
    for index, (holder, (source, attrs)) in enumerate(payloads.items()):
        view = f"p{index}"
        columns += [f"{view}.{quote(a)} as {quote(f'{holder}__{a}')}" for a in attrs]
        if flag_missing:
            columns.append(f"(m{index}.serial is not null and {view}.serial is null) "
                           f"as {_MISSING_FLAG}{index}")
        joins.append(
            f"left join (select * from {linkmap} where holder = {_literal(holder)}) m{index} "
            f"on m{index}.link_id = ids.link_id "
            f"left join {source} {view} on {view}.serial = m{index}.serial")
    return (f"select {', '.join(columns)} "
            f"from (select distinct link_id from {linkmap}) ids {' '.join(joins)} "
            "order by ids.link_id")


class _Matcher:
    """Recipe-by-recipe exact matching, set-wise in SQL (see :meth:`Engine.match`).

    Inside the matcher a holder is its index (UTINYINT), a serial its 128 bits (UHUGEINT)
    and a key its first 128 bits (UHUGEINT): fixed-width columns hash, join and spill far
    faster and smaller than 32- and 64-character strings. Serials turn back into their
    hex text only in the result.

    Truncating keys cannot create links by accident: the keys are HMAC-SHA256 outputs
    under a project key the key manager never holds, so two distinct keys agree on their
    first 128 bits with probability 2^-128. Over n keys of one recipe that bounds
    a spurious match by n^2 / 2^129: about 10^-24 for 20 million records, far below the
    chance of a hardware fault corrupting the comparison.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, sources: Mapping[str, str],
                 recipes: Sequence[str]) -> None:
        """``sources`` maps each holder to a table expression: a view or ``read_parquet``."""
        self.con = con
        self.recipes = list(recipes)
        # Numbered in name order, so that ordering by number orders as the names would.
        self.holders = sorted(sources)
        if len(self.holders) > 255:
            raise LinkageError("the DuckDB engine links at most 255 holders at once")
        con.execute("create temp table members (cluster bigint, holder utinyint, "
                    "sid uhugeint, recipe utinyint)")
        for index in range(len(self.recipes)):
            # One table per recipe, made once: each step reads only its own keys.
            con.execute(f"create temp table r{index} (holder utinyint, sid uhugeint, "
                        "key uhugeint)")
        for h, holder in enumerate(self.holders):
            # One pass over the holder's file (its serials are the costly column to decode),
            # then a cheap split of the fixed-width columns by recipe.
            keys = ", ".join(f"('0x' || left(hex({quote(r)}), 32))::uhugeint as k{i}"
                             for i, r in enumerate(self.recipes))
            try:
                con.execute(f"create or replace temp table wide as select "
                            f"{_serial_bits('serial')} as sid, {keys} "
                            f"from {sources[holder]}")
            except duckdb.InvalidInputException as exc:
                if BAD_SERIAL not in str(exc):
                    raise
                raise LinkageError(f"keys file of holder '{holder}': {BAD_SERIAL}") from None
            for index in range(len(self.recipes)):
                con.execute(f"insert into r{index} select {h}, sid, k{index} from wide "
                            f"where k{index} is not null")
        con.execute("drop table if exists wide")
        self.result = MatchResult(members=pa.table({}))
        #: Clusters so far (numbered 1..clusters), and how many each recipe formed.
        self.clusters = 0
        self.formed = dict.fromkeys(self.recipes, 0)

    def cluster(self) -> None:
        """Run every recipe's step; the clusters stay in the ``members`` table."""
        for index, recipe in enumerate(self.recipes):
            self._step(index, recipe)
        # Free the steps' tables before the result is materialised beside them.
        for table in ("dup", "uniq", "grp", "attach", "crowded"):
            self.con.execute(f"drop table if exists {table}")

    def summary(self) -> LinkSummary:
        """The :class:`LinkSummary` of the clusters: formed as the steps counted them
        (a cluster is formed by the step that numbered it; later ones only join it), the
        records linked per holder and recipe by one grouping of the members."""
        linked = {(self.holders[h], self.recipes[r]): int(n) for h, r, n in self.con.execute(
            "select holder, recipe, count(*) from members group by all").fetchall()}
        return LinkSummary(self.clusters, dict(self.formed), linked)

    def write_linkmap(self, path: Path) -> str:
        """The link map at ``path`` (:func:`write_link_map`), streamed from DuckDB's sort
        by cluster then holder; returns its SHA-256."""
        reader = self.con.sql(
            f"select cluster, holder, {_serial_text('sid')} as serial "
            "from members order by cluster, holder").to_arrow_reader(_WRITE_ROWS)
        names = pa.array(self.holders, pa.string())
        return write_link_map(path, ((batch.column(0).to_numpy(), names.take(batch.column(1)),
                                      batch.column(2)) for batch in reader))

    def run(self) -> MatchResult:
        self.cluster()
        members = self.con.sql(
            f"select cluster, holder, {_serial_text('sid')} as serial, recipe "
            "from members order by cluster, holder").to_arrow_table()
        holders = pa.array(self.holders, pa.string())
        names = pa.array(self.recipes, pa.string())
        members = members.set_column(
            1, "holder", holders.take(members.column("holder").cast(pa.int64())))
        self.result.members = members.set_column(
            3, "recipe", names.take(members.column("recipe").cast(pa.int64())))
        return self.result

    def _step(self, index: int, recipe: str) -> None:
        con = self.con
        con.execute(f"""
            create or replace temp table cand as
            select k.holder, k.sid, k.key, m.cluster
            from r{index} k left join members m on m.holder = k.holder and m.sid = k.sid""")
        con.execute(f"drop table r{index}")
        self._tally(recipe)
        for holder, records, distinct in con.execute(
                "select holder, sum(n), count(*) from dup group by holder").fetchall():
            self.result.duplicates.setdefault(self.holders[holder], {})[recipe] = (
                int(records), distinct)
        con.execute("""
            create or replace temp table uniq as
            select c.* from cand c anti join dup d on d.holder = c.holder and d.key = c.key""")
        con.execute("drop table cand")
        # Keys shared across holders that would link at least one record not yet linked.
        # Distinct counts would be exact too, but DuckDB cannot spill them to disk: at
        # national scale min/max keep the aggregate within the memory limit.
        con.execute("""
            create or replace temp table grp as
            select key,
                   case when min(cluster) is null then 0
                        when min(cluster) = max(cluster) then 1 else 2 end as n_clusters,
                   min(cluster) as cluster
            from uniq group by key
            having count(*) >= 2 and count(*) filter (where cluster is null) >= 1""")
        con.execute("""
            create or replace temp table attach as
            select u.holder, u.sid, g.cluster from uniq u join grp g using (key)
            where g.n_clusters = 1 and u.cluster is null""")
        # Joining a record to a cluster that already has one of its holder's records
        # would make the link many-to-one: refuse it.
        con.execute("""
            create or replace temp table crowded as
            select cluster, holder from (
                select cluster, holder from attach
                union all
                select cluster, holder from members
                where cluster in (select cluster from attach))
            group by cluster, holder having count(*) > 1""")
        conflicts = {
            "many_to_one": con.execute(
                "select count(*) from attach semi join crowded using (cluster, holder)"
            ).fetchone()[0],
            "would_merge_clusters": con.execute(
                "select count(*) from uniq u join grp g using (key) "
                "where g.n_clusters > 1 and u.cluster is null").fetchone()[0],
            "matches_a_duplicate": con.execute(
                "select count(*) from uniq u where u.cluster is null and exists "
                "(select 1 from dup d where d.key = u.key and d.holder <> u.holder)"
            ).fetchone()[0],
        }
        self.result.conflicts[recipe] = {k: int(v) for k, v in conflicts.items()}
        con.execute("""
            insert into members
            select cluster, holder, sid, ? from attach
            anti join crowded using (cluster, holder)""", [index])
        con.execute("""
            insert into members
            select n.cluster, u.holder, u.sid, ? from uniq u join (
                select key, ? + row_number() over (order by key) as cluster
                from grp where n_clusters = 0) n using (key)""", [index, self.clusters])
        # Each new cluster is one key of grp that no record had linked yet.
        formed = con.execute("select count(*) from grp where n_clusters = 0").fetchone()[0]
        self.formed[recipe] += formed
        self.clusters += formed

    def _tally(self, recipe: str) -> None:
        """One grouping of the recipe's keys, counting each holder's records per key, gives
        both the records whose key another holder has too (the match rate, "shared") and
        the keys a holder repeats (``dup``, kept out of links)."""
        con = self.con
        holders = range(len(self.holders))
        counts = ", ".join(f"count(*) filter (where holder = {h}) as n{h}" for h in holders)
        total = " + ".join(f"n{h}" for h in holders)
        con.execute(f"create or replace temp table tally as select key, {counts} "
                    "from cand group by key")
        shared = con.execute("select " + ", ".join(
            f"coalesce(sum(n{h}) filter (where n{h} > 0 and {total} > n{h}), 0)"
            for h in holders) + " from tally").fetchone()
        for h, count in enumerate(shared):
            if count:
                self.result.shared.setdefault(self.holders[h], {})[recipe] = int(count)
        con.execute("create or replace temp table dup as " + " union all ".join(
            f"select {h}::utinyint as holder, key, n{h} as n from tally where n{h} > 1"
            for h in holders))
        con.execute("drop table tally")


def _serial_bits(column: str) -> str:
    """SQL for a serial's 128 bits, refusing any serial that is not 32 lower-case hex
    digits: only those come back from the bits unchanged."""
    bits = f"try_cast('0x' || {column} as uhugeint)"
    return (f"(case when {_serial_text(bits)} = {column} then {bits} "
            f"else error({_literal(BAD_SERIAL)}) end)")


def _serial_text(bits: str) -> str:
    """SQL for a serial's 32 lower-case hex digits from its 128 bits."""
    return f"lpad(lower(to_hex({bits})), 32, '0')"
