"""Parquet writer options per table: which encoding each column gets, and why.

Measured on ``binance-usdm/btcusdt_20240808`` (``benchmarks/dataset_size.py``,
figures in ``benchmarks/README.md``). pyarrow, DuckDB, Polars and Spark read every
value of it back (``tests/unit/test_parquet_encodings.py``); Spark's vectorized
reader reads the DELTA encodings from Spark 3.3 (older Spark:
``enableVectorizedReader=false``) and needs ``nanosAsLong`` for the timestamps.

* **Timestamps and integer ids: DELTA_BINARY_PACKED, no dictionary.** They are
  nearly all distinct and nearly sorted, so a dictionary only stores every value
  twice (``apply_seq`` was a third of the ``book`` bytes) and costs write time;
  deltas of a sequence pack into a few bits. The exception is a timestamp that
  labels rather than counts (an option's ``expiration``): few values, dictionary.
* **Text ids (trade_id, liquidation_id): DELTA_BYTE_ARRAY.** Consecutive ids share
  their leading digits; prefix coding shrinks ``trade_id`` 24-fold.
* **Decimals: dictionary (the default).** decimal128(38,18) is stored as a 16-byte
  FIXED_LEN_BYTE_ARRAY; with 18 fractional digits every byte of it looks random,
  so BYTE_STREAM_SPLIT came out three times larger and DELTA_BYTE_ARRAY twice as
  large as the dictionary, whose indices need ~14 bits a row. The logical type
  (the exactness promise) is not changed here.
* **Labels: dictionary** (the Arrow dictionary is written as the Parquet one).
* **zstd level 3**: level 1 (Arrow's default) is as fast; 9 saves ~3 % more for
  2.4 times the write time, 19 saves ~6 % for 50 times.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

__all__ = ["ZSTD_LEVEL", "column_encodings", "writer_options"]

ZSTD_LEVEL = 3
#: Timestamps that name a category (few distinct values, not in row order).
_CATEGORICAL_TIMES = frozenset({"expiration"})
#: Text columns holding exchange ids, which run in sequence.
_TEXT_IDS = frozenset({"trade_id", "liquidation_id"})


def column_encodings(table_schema: pa.Schema) -> dict[str, str]:
    """The columns that get a non-dictionary encoding, and that encoding."""
    chosen: dict[str, str] = {}
    for f in table_schema:
        if (pa.types.is_integer(f.type) or pa.types.is_timestamp(f.type)) and (
            f.name not in _CATEGORICAL_TIMES
        ):
            chosen[f.name] = "DELTA_BINARY_PACKED"
        elif f.name in _TEXT_IDS and pa.types.is_string(f.type):
            chosen[f.name] = "DELTA_BYTE_ARRAY"
    return chosen


def writer_options(table_schema: pa.Schema, compression: str = "zstd") -> dict[str, Any]:
    """Keyword arguments for ``pq.ParquetWriter`` writing ``table_schema``.

    Column statistics are kept for time, ids and labels (predicate pushdown);
    decimal min/max statistics cost a fifth of the write time and serve almost
    no query, so they are left out.
    """
    encodings = column_encodings(table_schema)
    options: dict[str, Any] = {
        "compression": compression,
        "use_dictionary": [f.name for f in table_schema if f.name not in encodings],
        "column_encoding": encodings,
        "write_statistics": [
            f.name
            for f in table_schema
            if not pa.types.is_decimal(f.type) and not pa.types.is_fixed_size_list(f.type)
        ],
        "store_schema": True,
    }
    if compression.lower() == "zstd":
        options["compression_level"] = ZSTD_LEVEL
    return options
