"""Pull the facts a quality report needs out of a dataset, with DuckDB.

Every number is one aggregate query over the Hive-partitioned Parquet files, so
a day of data is scanned without loading it into Python; only small results
(row gaps, quality events, per-bucket counts) come back. The quality events
are read in the dataset's order (time, then file and row), which is the order
the engine wrote them in.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs

from collector.compact import live_files
from collector.quality import queries
from collector.quality.facts import DATA_TABLES, ExchangeFacts
from collector.schema import TABLES


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Scanner:
    """One DuckDB connection with a view per table, filtered by exchange and symbol."""

    STEPS = 8

    def __init__(
        self, dataset: Path, exchanges: Sequence[str] = (), symbols: Sequence[str] = ()
    ) -> None:
        self.con = duckdb.connect()
        local = pafs.LocalFileSystem()
        for table in (*DATA_TABLES, "quality"):
            pattern = str(dataset / f"table={table}" / "exchange=*" / "date=*")
            # One complete set per partition, even while it is being compacted.
            files = sorted(f for d in glob.glob(pattern) for f in live_files(local, d))
            if exchanges:
                keep = {f"exchange={x}" for x in exchanges}
                files = [f for f in files if Path(f).parent.parent.name in keep]
            self._view(table, files, symbols)

    def _view(self, table: str, files: list[str], symbols: Sequence[str]) -> None:
        if not files:  # an empty table of the right shape keeps every query valid
            empty = TABLES[table].empty_table()
            empty = empty.append_column("exchange", pa.array([], pa.string()))
            empty = empty.append_column("filename", pa.array([], pa.string()))
            empty = empty.append_column("file_row_number", pa.array([], pa.int64()))
            self.con.register(f"_{table}_empty", empty)
            self.con.execute(f"create view {table} as select * from _{table}_empty")
            return
        where = ""
        if symbols:
            names = ", ".join(_quote(s) for s in symbols)
            where = f" where symbol in ({names})"
            if table == "quality":  # connection-wide events concern every symbol
                where += " or symbol is null"
        listing = ", ".join(_quote(f) for f in files)
        self.con.execute(
            f"create view {table} as select * from read_parquet([{listing}], "
            "hive_partitioning = true, union_by_name = true, filename = true, "
            "file_row_number = true, hive_types = {'exchange': 'VARCHAR', 'date': 'VARCHAR'})"
            + where
        )

    def close(self) -> None:
        self.con.close()

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        return self.con.execute(sql, list(params)).fetchall()

    def scan(
        self, hole_seconds: float, on_step: Callable[[str], None] | None = None
    ) -> dict[str, ExchangeFacts]:
        """All facts, per exchange and symbol; ``on_step`` is told as each query starts."""
        step = on_step or (lambda _name: None)
        out: dict[str, ExchangeFacts] = {}
        step("spans")
        floor_ns = queries.start(self)
        queries.spans(self, out, floor_ns)
        step("quality events")
        queries.events(self, out, floor_ns)
        step("snapshots")
        queries.snapshots(self, out)
        step("silences")
        queries.silences(self, out, int(hole_seconds * 1e9))
        step("latency")
        queries.latency(self, out)
        step("duplicate trades")
        queries.duplicate_trades(self, out)
        step("rates")
        queries.rates(self, out)
        step("spread and mid")
        queries.spreads(self, out)
        return out
