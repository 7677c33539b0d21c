"""Object storage against a real S3 API (moto on loopback): atomic uploads and the spool.

What must hold: a reader listing the bucket never sees a partial object, whether
the upload fails between two parts or its process is killed mid-upload; while
the store is down finished files wait in the spool, the outage is logged once
and counted, and everything arrives once the store is back; no secret ever
reaches a log line.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from s3support import SECRET_KEY, FaultProxy, S3Server, s3, s3_env  # noqa: F401 - fixtures

from collector.spool import Spool
from collector.storage import redact, resolve, upload
from collector.transport.retry import Backoff

BUCKET = "atomic"
MIB = 1 << 20


@pytest.fixture(scope="module")
def bucket(s3: S3Server) -> S3Server:  # noqa: F811 - the fixture above
    s3.create_bucket(BUCKET)
    return s3


def _blob(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def test_failure_between_parts_publishes_nothing(bucket: S3Server, tmp_path: Path) -> None:
    """Part 2 of 2 fails (after pyarrow's own retries): no object is listed, ever."""
    source = _blob(tmp_path / "big.parquet", 12 * MIB)  # two parts: 10 MiB + 2 MiB
    with FaultProxy(bucket.port) as proxy:
        target = resolve(f"s3://{BUCKET}/parts", endpoint_url=proxy.endpoint, attempts=1)
        proxy.rule = lambda _m, path: "fail" if "partNumber=2" in path else None
        with pytest.raises(OSError, match="UploadPart"):
            upload(source, target, "x/big.parquet")
        assert any("partNumber=1" in p for _, p in proxy.seen)  # a part did go through
        assert bucket.keys(BUCKET, "parts/") == []
        assert "parts/x/big.parquet" in bucket.multipart_uploads(BUCKET)
        proxy.rule = lambda _m, _p: None
        upload(source, target, "x/big.parquet")
    body = bucket.client().get_object(Bucket=BUCKET, Key="parts/x/big.parquet")["Body"].read()
    assert body == source.read_bytes()


_CHILD = """
import sys
from pathlib import Path
from collector.storage import resolve, upload
upload(Path(sys.argv[1]), resolve("s3://atomic/killed", endpoint_url=sys.argv[2]), "k.parquet")
"""


def test_killed_mid_upload_leaves_no_object(bucket: S3Server, tmp_path: Path) -> None:
    """``kill -9`` while part 2 is in flight: the store lists nothing under the key."""
    source = _blob(tmp_path / "big.parquet", 12 * MIB)
    with FaultProxy(bucket.port) as proxy:
        proxy.rule = lambda _m, path: "hang" if "partNumber=2" in path else None
        env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(source), proxy.endpoint], env=env
        )
        try:
            deadline = time.monotonic() + 20
            while not any("partNumber=2" in p for _, p in proxy.seen):
                assert child.poll() is None, "the upload ended before part 2"
                assert time.monotonic() < deadline, "part 2 never started"
                time.sleep(0.05)
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.wait(10)
    assert child.returncode == -signal.SIGKILL
    assert bucket.keys(BUCKET, "killed/") == []


def test_outage_spools_alarms_and_uploads_everything_on_recovery(
    s3_env: None,  # noqa: F811 - the fixture
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The S3 server is stopped (connection refused), then started again on its port."""
    server = S3Server()  # its own: stopping it must not disturb the other tests
    server.start()
    server.create_bucket(BUCKET)
    spool_dir = tmp_path / "spool"
    files = {
        f"table=trades/exchange=x/date=2026-11-27/f{i}.parquet": os.urandom(300_000)
        for i in range(4)
    }
    target = resolve(f"s3://{BUCKET}/outage", endpoint_url=server.endpoint, attempts=1)
    # A file an earlier run left behind: uploaded first, like the new ones.
    leftover = spool_dir / "table=trades/exchange=x/date=2026-11-26/old.parquet"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"old run")
    (leftover.parent / ".half.parquet.inprogress").write_bytes(b"never uploaded")
    spool = Spool("output", spool_dir, target, max_bytes=MIB, backoff=Backoff(0.05, cap=0.3))
    server.stop()  # the store is down from the start
    try:
        with caplog.at_level(logging.INFO):
            spool.start()
            for key, data in files.items():
                path = spool_dir / key
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                spool.submit(path)
            deadline = time.monotonic() + 10
            while spool.failures < 2:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert not spool.store_up and spool.pending_files == 5
            assert spool.over_budget  # 1.2 MB waiting, 1 MiB budget
            server.start()  # the store is back
            assert server.keys(BUCKET, "outage/") == []
            assert spool.drain(timeout=20), "spool never drained"
            assert spool.close(timeout=5) == 0
        assert spool.store_up and not spool.over_budget and spool.uploaded == 5
        keys = server.keys(BUCKET, "outage/")
        old = leftover.relative_to(spool_dir).as_posix()
        assert keys == sorted(f"outage/{k}" for k in [*files, old])
        for key, data in files.items():
            got = server.client().get_object(Bucket=BUCKET, Key=f"outage/{key}")["Body"].read()
            assert got == data
    finally:
        server.stop()
    left = sorted(p.name for p in spool_dir.rglob("*") if p.is_file())
    assert left == [".half.parquet.inprogress"]  # unfinished files are never uploaded
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("collector")]
    down, up = [m for m in messages if m.startswith("output store")]  # once each
    assert "unreachable" in down and "reachable again" in up
    assert any("over its budget" in m for m in messages)
    assert any("earlier run" in m for m in messages)
    assert not any(SECRET_KEY in m for m in messages)


def test_redact_strips_credentials_and_query() -> None:
    assert redact("s3://AKIA:secret@bucket/p?secret_key=x") == "s3://bucket/p"
    assert redact("data/local") == "data/local"
    with pytest.raises(ValueError, match="credentials") as info:
        resolve("s3://AKIA:topsecret@bucket/p")
    assert "topsecret" not in str(info.value)


def test_over_budget_pauses_the_raw_capture_never_the_tables(
    bucket: S3Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Budget policy: the raw capture stops (counted) while normalized rows keep flowing."""
    from prometheus_client import generate_latest

    from collector.config import parse_config
    from collector.daemon import Daemon

    config = parse_config(
        f'[output]\ndir = "s3://{BUCKET}/budget"\nendpoint_url = "{bucket.endpoint}"\n'
        f'spool_dir = "{tmp_path / "spool"}"\nspool_max_bytes = {MIB}\n'
        f'[capture]\ndir = "{tmp_path / "capture"}"\n[metrics]\nenabled = false\n'
        '[[exchange]]\nname = "binance-usdm"\nsymbols = ["BTCUSDT"]\n'
    )
    daemon = Daemon(config)
    runner, spool = daemon.runners[0], daemon.spools[0]
    waiting = tmp_path / "spool" / "table=book" / "big.parquet"
    waiting.parent.mkdir(parents=True)
    spool.submit(_blob(waiting, 2 * MIB))  # not started yet: as if the store were down
    # As the venue sends it (combined stream, times in ms): the drift monitor finds nothing.
    frame = (
        '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1000000000000,"s":"BTCUSDT",'
        '"a":1,"p":"1.5","q":"2","f":1,"l":1,"T":1000000000000,"m":true}}'
    )
    with caplog.at_level(logging.INFO, logger="collector"):
        daemon._apply_budget()
        assert not runner.capturing
        runner.on_frame(1, frame, 10**18)
        runner.on_send(1, "{}", 10**18)
        assert runner.pipeline.out.pending_rows == 1  # the trade still reaches the tables
        text = generate_latest(daemon.metrics.registry).decode()
        assert 'collector_spool_over_budget{spool="output"} 1.0' in text
        assert 'collector_capture_dropped_records_total{exchange="binance-usdm"} 2.0' in text
        spool.start()  # the store is reachable: the spool empties and capture resumes
        assert spool.drain(timeout=10)
        daemon._apply_budget()
        assert runner.capturing
        runner.on_frame(1, frame, 10**18 + 1)
        assert runner.capture is not None and runner.capture.current_path is not None
        spool.close(timeout=5)
        runner.capture.close()
    messages = [r.getMessage() for r in caplog.records]
    assert any("raw capture paused, normalized tables still written" in m for m in messages)
    assert any("raw capture resumed" in m for m in messages)
    assert bucket.keys(BUCKET, "budget/") == ["budget/table=book/big.parquet"]


def test_resolve_maps_each_scheme_to_its_filesystem(tmp_path: Path) -> None:
    import pyarrow.fs as pafs

    local = resolve(str(tmp_path / "data"))
    assert isinstance(local.fs, pafs.LocalFileSystem) and not local.remote
    assert local.path == (tmp_path / "data").as_posix()
    assert resolve(f"file://{tmp_path}/data").path == local.path
    lake = resolve("s3://bucket/a/b/", endpoint_url="http://127.0.0.1:9000", region="eu-west-1")
    assert isinstance(lake.fs, pafs.S3FileSystem) and lake.remote
    assert (lake.path, lake.uri, lake.fs.region) == ("bucket/a/b", "s3://bucket/a/b/", "eu-west-1")
    assert lake.join("table=book", "x.parquet") == "bucket/a/b/table=book/x.parquet"
    gs = resolve("gs://bucket/prefix", endpoint_url="http://127.0.0.1:4443")
    assert isinstance(gs.fs, pafs.GcsFileSystem) and gs.path == "bucket/prefix"
    with pytest.raises(ValueError, match="unknown scheme 'ftp'"):
        resolve("ftp://host/x")
