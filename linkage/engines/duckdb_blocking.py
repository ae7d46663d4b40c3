"""Fuzzy blocking in DuckDB: the candidate pairs of two holders' keys tables, for the
in-process fuzzy strategy (:meth:`linkage.engines.base.Engine.candidate_pairs`; Spark's
executors block in :mod:`linkage.engines.spark_fuzzy` when they link files)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from linkage.engines.duckdb import file_connection, sized
from linkage.fuzzy.blocking import Candidates, column_name, rule_name
from linkage.keys.linkage_key import quote
from linkage.scratch import private_dir


def candidate_pairs(left: pa.Table, right: pa.Table, rules: Sequence[tuple[str, ...]],
                    max_block_pairs: int) -> Candidates:
    """Distinct ``(left row, right row)`` pairs sharing a key under some rule, in order;
    a block whose pairs exceed ``max_block_pairs`` is skipped and counted instead.

    The connection is sized as the ``blocking`` stage: threads and memory limit from the
    machine and the operator's settings, spilling to a private folder beyond them."""
    with private_dir("duckdb") as spill, sized("blocking"):
        return _candidate_pairs(file_connection(spill, "blocking"), left, right, rules,
                                max_block_pairs)


def _candidate_pairs(con, left: pa.Table, right: pa.Table, rules: Sequence[tuple[str, ...]],
                     max_block_pairs: int) -> Candidates:
    try:
        for name, table in (("a", left), ("b", right)):
            con.execute(f"create temp table {name} (rule integer, key blob, i integer)")
            # An explicit row index: DuckDB does not promise to scan in input order.
            src = table.select([column_name(r) for r in rules]).append_column(
                "__row", pa.array(np.arange(table.num_rows, dtype=np.int32)))
            con.register("src", src)
            for index, rule in enumerate(rules):
                col = quote(column_name(rule))
                con.execute(f"insert into {name} select ?, {col}, __row from src", [index])
            con.unregister("src")
            con.execute(f"delete from {name} where key is null")
        con.execute("""
            create temp table sizes as
            select rule, key, na, nb from
              (select rule, key, count(*) na from a group by all)
              join (select rule, key, count(*) nb from b group by all) using (rule, key)""")
        result = Candidates(np.empty(0, np.int32), np.empty(0, np.int32))
        for rule_index, blocks, pairs in con.execute(
                "select rule, count(*), sum(na * nb) from sizes where na * nb > ? group by rule",
                [max_block_pairs]).fetchall():
            name = rule_name(rules[rule_index])
            result.skipped_blocks[name] = int(blocks)
            result.skipped_pairs[name] = int(pairs)
        con.execute("delete from sizes where na * nb > ?", [max_block_pairs])
        for rule_index, pairs in con.execute(
                "select rule, sum(na * nb) from sizes group by rule").fetchall():
            result.pairs_per_rule[rule_name(rules[rule_index])] = int(pairs)
        pairs = con.sql("""
            select distinct a.i as l, b.i as r from a
            join sizes s using (rule, key) join b using (rule, key)
            order by l, r""").to_arrow_table()
        result.left = pairs.column("l").to_numpy().astype(np.int32)
        result.right = pairs.column("r").to_numpy().astype(np.int32)
        for rule in rules:
            result.pairs_per_rule.setdefault(rule_name(rule), 0)
        return result
    finally:
        con.close()
