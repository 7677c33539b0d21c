"""The daemon on object storage: an S3 API on loopback (moto), reached through a proxy.

One run covers the promises of ``[output]``/``[capture]`` on ``s3://``: files
reach the bucket while the daemon runs; when the store fails every request,
finished files pile up in the local spool, the alarm is raised (log line and
``collector_store_up 0``), and once the store is back everything is uploaded.
Afterwards the bucket holds a dataset equal, row for row, to replaying the
capture (also read back from the bucket) to local disk: nothing was lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import aiohttp
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pytest
from harness import daemon_config, run_daemon, synced, wait_for
from s3support import SECRET_KEY, FaultProxy, S3Server, s3, s3_env  # noqa: F401 - fixtures

from collector.capture.reader import list_capture_files
from collector.daemon import Daemon
from collector.dataset import open_table
from collector.quality.cli import main as quality
from collector.replay import replay
from collector.simulator import Simulator, SimulatorConfig
from collector.storage import resolve
from collector.transport.retry import Backoff

SLUG, SYMBOL = "binance-usdm", "BTCUSDT"
BUCKET = "lake"
ORDER = {
    "book": ["symbol", "apply_seq"],
    "trades": ["symbol", "ts_recv", "trade_id"],
    "bbo": ["symbol", "ts_recv"],
    "quality": ["ts_recv", "kind", "detail"],
}


def _sections(tmp_path: Path, endpoint: str) -> tuple[str, str]:
    def section(name: str, rotate: str) -> str:
        return (
            f'dir = "s3://{BUCKET}/{name}"\nendpoint_url = "{endpoint}"\n'
            f'{rotate}\nspool_dir = "{tmp_path / "spool" / name}"\n'
        )

    # Parquet rotates every second, so files are published during the outage. The capture
    # is one file, uploaded at shutdown: replay treats each capture file as a new session.
    return section("data", "rotate_seconds = 1"), section("capture", "rotate_seconds = 3600")


def _plain(table: pa.Table) -> pa.Table:
    """Labels as plain strings (files differ in dictionaries, not in values)."""
    for i, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.string()))
    return table


async def _metrics(daemon: Daemon) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{daemon.metrics.port}/metrics") as answer,
    ):
        return await answer.text()


def test_daemon_on_s3_spools_through_an_outage_and_loses_nothing(
    s3: S3Server,  # noqa: F811 - the fixture
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    s3.create_bucket(BUCKET)
    seen: dict[str, object] = {}

    async def main() -> None:
        sim_cfg = SimulatorConfig(
            exchanges=(SLUG,), symbols=(SYMBOL,), interval_ms=20, seed=11, trade_probability=0.9
        )
        async with Simulator(sim_cfg) as sim:
            output, capture = _sections(tmp_path, proxy.endpoint)
            config = daemon_config(
                tmp_path, sim.port, {SLUG: [SYMBOL]}, output=output, capture=capture
            )

            async def body(daemon: Daemon) -> None:
                out = daemon.spools[0]
                for spool in daemon.spools:
                    spool.backoff = Backoff(0.05, cap=0.2)  # retry fast: a short test
                await wait_for(synced(daemon, SLUG, [SYMBOL]), 20, "book in sync")
                await wait_for(lambda: out.uploaded >= 3, 15, "uploads while the store is up")
                proxy.rule = lambda _method, _path: "fail"  # the store is down
                await wait_for(
                    lambda: not out.store_up and out.pending_files >= 3, 15, "spooled files"
                )
                await wait_for(lambda: bool(daemon.faults.active), 5, "the outage in /health")
                seen["during"] = await _metrics(daemon)
                seen["health_during"] = daemon.health()
                seen["spooled"] = out.pending_files
                proxy.rule = lambda _method, _path: None  # and back
                await wait_for(
                    lambda: out.store_up and out.pending_files == 0, 15, "uploads after recovery"
                )
                await wait_for(lambda: not daemon.faults.active, 5, "the outage over")
                seen["after"] = await _metrics(daemon)
                seen["health_after"] = daemon.health()

            await run_daemon(config, body)

    with FaultProxy(s3.port) as proxy, caplog.at_level(logging.INFO, logger="collector"):
        asyncio.run(main())

    assert 'collector_store_up{spool="output"} 0.0' in seen["during"]
    ok, report = seen["health_during"]  # type: ignore[misc]
    assert not ok and "spool:output" in report["writes"], report
    assert 'collector_write_errors_total{errno="unknown",target="spool"}' in seen["during"]
    ok, report = seen["health_after"]  # type: ignore[misc]
    assert "writes" not in report, report
    assert f'collector_spool_files{{spool="output"}} {float(seen["spooled"])}' in seen["during"]
    assert 'collector_store_up{spool="output"} 1.0' in seen["after"]
    assert 'collector_spool_files{spool="output"} 0.0' in seen["after"]
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("collector")]
    assert any("output store s3://lake/data unreachable" in m for m in messages)
    assert any("output store s3://lake/data reachable again" in m for m in messages)
    assert not any(SECRET_KEY in m for m in messages)
    # Shutdown uploaded the last files: nothing finished is left in either spool.
    left = [p for p in (tmp_path / "spool").rglob("*") if p.is_file() and p.name[0] != "."]
    assert left == []

    # Read back from the bucket (directly, not through the proxy) ...
    lake = resolve(f"s3://{BUCKET}", endpoint_url=s3.endpoint)
    local_capture = tmp_path / "capture-copy"
    pafs.copy_files(
        lake.join("capture"),
        str(local_capture),
        source_filesystem=lake.fs,
        destination_filesystem=pafs.LocalFileSystem(),
    )
    captures = list_capture_files(local_capture)
    assert len(captures) == 1
    replay(captures, tmp_path / "replayed")
    # ... and compare with the capture's replay on local disk, row for row.
    for table, order in ORDER.items():
        remote = _plain(open_table(lake.child("data"), table))
        local = _plain(open_table(tmp_path / "replayed", table))
        if table == "quality":  # the daemon's own account of the outage: no frame carries it
            episode = pc.equal(remote["kind"], "write_error")
            assert pc.sum(episode).as_py() == 2, remote.filter(episode).to_pylist()
            remote = remote.filter(pc.invert(episode))
        assert remote.num_rows > 0, table
        keys = [(c, "ascending") for c in order]
        assert remote.sort_by(keys).equals(local.sort_by(keys)), table

    # collector quality reads the bucket too, and finds what it finds on local disk.
    capsys.readouterr()
    assert quality([f"s3://{BUCKET}/data", "--endpoint-url", s3.endpoint, "--json"]) == 0
    remote_report = json.loads(capsys.readouterr().out)
    assert quality([str(tmp_path / "replayed"), "--json"]) == 0
    local_report = json.loads(capsys.readouterr().out)
    assert remote_report["dataset"] == f"s3://{BUCKET}/data"
    symbols = [s for x in remote_report["exchanges"] for s in x["symbols"]]
    assert [s["rows"] for s in symbols] == [
        s["rows"] for x in local_report["exchanges"] for s in x["symbols"]
    ]
    assert symbols[0]["rows"]["book"] > 0
