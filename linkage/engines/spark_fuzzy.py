"""Fuzzy mode's comparison step on Apache Spark: candidate pairs joined to both holders'
filters and binned into levels by the same numpy Dice, batch by batch in ``mapInArrow``.

Blocking yields the pairs and the model is fitted on the driver over distinct comparison
patterns (a few thousand rows whatever the data size); the comparison is the step whose work
grows with the candidates, so it is the one Spark distributes. Levels come back in the
candidates' order and equal the DuckDB/numpy path's byte for byte (a test holds them to it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa
from pyspark.sql import SparkSession

from linkage.fuzzy.bloom import from_arrow
from linkage.fuzzy.scoring import comparison_levels


def _field_name(index: int) -> str:
    return f"f{index}"


def spark_levels(spark: SparkSession, left: pa.Table, right: pa.Table,
                 fields: Mapping[str, Sequence[str]], li: np.ndarray, ri: np.ndarray,
                 cuts: Sequence[float], baselines: Mapping[str, float]) -> np.ndarray:
    """``(pairs, fields)`` int8 levels of pairs ``(left[li[k]], right[ri[k]])``, on Spark."""
    columns = [c for cs in fields.values() for c in cs]
    widths = {c: left.schema.field(c).type.byte_width for c in columns}
    # Spark column names must not carry the ':' and '|' of keys-file columns.
    alias = {c: f"c{i}" for i, c in enumerate(columns)}
    sides = {}
    for side, table, key in (("l", left, "__l"), ("r", right, "__r")):
        data = [pa.array(np.arange(table.num_rows, dtype=np.int32))] + [
            table.column(c).combine_chunks().cast(pa.binary()) for c in columns]
        names = [key] + [f"{side}_{alias[c]}" for c in columns]
        sides[side] = spark.createDataFrame(pa.table(data, names=names))
    pairs = spark.createDataFrame(pa.table({
        "__k": pa.array(np.arange(len(li), dtype=np.int64)),
        "__l": pa.array(np.asarray(li, dtype=np.int32)),
        "__r": pa.array(np.asarray(ri, dtype=np.int32))}))
    joined = pairs.join(sides["l"], "__l").join(sides["r"], "__r")
    field_list = list(fields.items())

    def compare(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            n = batch.num_rows
            filters = [{c: from_arrow(batch.column(f"{side}_{alias[c]}").cast(
                pa.binary(widths[c]))) for c in columns} for side in ("l", "r")]
            index = np.arange(n)
            levels = comparison_levels(filters[0], filters[1], dict(field_list), index, index,
                                       cuts, baselines)
            yield pa.RecordBatch.from_arrays(
                [batch.column("__k")] + [pa.array(levels[:, f]) for f in range(len(field_list))],
                names=["__k"] + [_field_name(f) for f in range(len(field_list))])

    schema = "__k long, " + ", ".join(f"{_field_name(f)} tinyint"
                                      for f in range(len(field_list)))
    result = joined.mapInArrow(compare, schema).toArrow()
    order = np.argsort(result.column("__k").to_numpy())
    out = np.empty((len(li), len(field_list)), dtype=np.int8)
    for f in range(len(field_list)):
        out[:, f] = result.column(_field_name(f)).to_numpy()[order]
    if len(result) != len(li):
        raise RuntimeError(f"Spark compared {len(result)} of {len(li)} candidate pairs")
    return out
