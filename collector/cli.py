"""collector: record exact, normalized order books and trades from crypto exchanges to
Parquet, replay recordings into the same tables, and grade a dataset's quality."""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import msgspec


def _os_errors_in_one_line(main: Callable[[list[str] | None], int]) -> Callable[..., int]:
    """Every command: a path it cannot read or write ends in one line and exit 2.

    Caught once, here, rather than per command: any command can meet a read-only,
    immutable, missing or full destination, and a traceback says nothing more to
    the user than the path and the reason. Bugs (other exceptions) still trace.
    """

    @functools.wraps(main)
    def wrapper(argv: list[str] | None = None) -> int:
        try:
            return main(argv)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename is not None else ""
            print(f"collector: {where}{exc.strerror or exc}", file=sys.stderr)
            return 2

    return wrapper


#: ``collector replay`` exit status: every file replayed, but some were damaged (their
#: rows before the damage are published, the damage is reported). 2 = nothing usable.
REPLAY_DAMAGED = 3


@_os_errors_in_one_line
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["simulate"]:  # its own parser: every flag belongs to it
        from collector.simulator.cli import main as simulate

        return simulate(argv[1:])
    if argv[:1] == ["quality"]:
        from collector.quality.cli import main as quality

        return quality(argv[1:])
    parser = argparse.ArgumentParser(prog="collector", description=__doc__.replace("\n", " "))
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the collector daemon")
    run.add_argument(
        "--config",
        type=Path,
        required=True,
        help="TOML config: exchanges, symbols, channels, output (e.g. config/default.toml)",
    )
    run.add_argument(
        "--status",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a live table of every stream (overrides [daemon] status)",
    )
    run.add_argument(
        "--shard",
        metavar="I/N",
        help="run instance I of N (0 <= I < N): only its share of the configured symbols; "
        "default: $COLLECTOR_SHARD, else $COLLECTOR_SHARDS with I from the hostname's "
        "-<ordinal> (StatefulSet pods), else everything",
    )
    run.add_argument(
        "--metrics-listen",
        type=_listen_spec,
        metavar="HOST:PORT",
        help="serve /metrics and /health here (overrides [metrics] listen); "
        "0.0.0.0:9464 in a container, so probes and Prometheus reach it",
    )
    run.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="json: one JSON object per line on stderr, for log shippers",
    )

    sub.add_parser(
        "simulate", help="serve a local exchange (Binance protocols); collector simulate --help"
    )
    sub.add_parser("quality", help="grade a dataset's quality; collector quality --help")

    demo = sub.add_parser("demo", help="run the daemon offline against the simulator")
    demo.add_argument(
        "--config",
        type=Path,
        help="demo config (default: the one the package ships, the same as config/demo.toml); "
        "every run writes a fresh <output.dir>/<UTC time>/ dataset",
    )
    demo.add_argument(
        "--seconds",
        type=float,
        default=60.0,
        help="how long the daemon records before it is stopped (default 60)",
    )

    from collector.formats import FOREIGN_FORMATS

    rp = sub.add_parser(
        "replay",
        help="replay recordings into a Parquet dataset",
        description="Exit codes: 0 = every file replayed to its end, 2 = bad usage or a "
        "file that is not a recording, 3 = finished, but a file was damaged (its rows "
        "before the damage are published; the damage is printed and in table=quality).",
    )
    rp.add_argument(
        "files",
        nargs="+",
        type=Path,
        help="recordings: captures, corpus-v1, tardis raw, Bybit history or Binance public data",
    )
    rp.add_argument(
        "--out",
        required=True,
        help="dataset root: a directory, s3://bucket/prefix or gs://bucket/prefix "
        "(credentials and AWS_ENDPOINT_URL from the environment, as for [output] dir)",
    )
    rp.add_argument(
        "--exchange",
        help="adapter slug; needed when the file does not name one, and it overrides the "
        "file's own header (with a warning when they differ); tardis files: the tardis id",
    )
    rp.add_argument(
        "--format",
        choices=FOREIGN_FORMATS,
        help="read the files as this format instead of detecting it from their content",
    )
    rp.add_argument(
        "--url",
        help="connection URL the recording was made from, for files without one "
        "(Bybit history: wss://stream.bybit.com/v5/public/<category>)",
    )
    rp.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    rp.add_argument(
        "--snapshots",
        action="append",
        default=[],
        type=_snapshot_spec,
        metavar="DEPTHxMSms",
        help="also write book_snapshots, e.g. 25x100ms (top 25 levels every 100 ms), "
        "25x100ms+mark_price+funding_rate to carry the latest of those; repeatable",
    )
    rp.add_argument(
        "--rotate-seconds",
        type=float,
        default=3600.0,
        help="start a new Parquet file after this much receive time",
    )
    rp.add_argument(
        "--jobs",
        type=_jobs,
        default=1,
        metavar="N",
        help="replay up to N files at once, each in a process of its own (files are "
        "independent sessions: same rows, split over more Parquet files); 0 = one per CPU",
    )
    rp.add_argument(
        "--resume",
        action="store_true",
        help="finish replays that were interrupted (killed, disk full): files --out already "
        "holds rows of are replayed again and only their missing rows written; without it, "
        "such files are refused, since their rows would be written twice",
    )

    rc = sub.add_parser(
        "recover",
        help="rebuild the rows a killed daemon received but never published, from its capture",
        description="Find capture sessions a daemon left in progress (killed, out of power, "
        "or stopped while writing failed), replay each one and publish only the rows the "
        "dataset does not hold yet, then finish the capture files. Sessions a running "
        "daemon is writing are left alone. The daemon does this itself at every start; "
        "this command does it on demand. Exit 0 when done (also when nothing was left), "
        "2 on a usage or I/O error.",
    )
    rc.add_argument(
        "capture", type=Path, nargs="?", help="the daemon's [capture] dir (or use --config)"
    )
    rc.add_argument("--out", type=Path, help="the daemon's [output] dir (or use --config)")
    rc.add_argument(
        "--config",
        type=Path,
        help="take the capture and output dirs, instance, rotation and book_snapshots "
        "from the daemon's config (local dirs)",
    )
    rc.add_argument("--instance", help="only this daemon instance's sessions (default: all)")
    rc.add_argument(
        "--snapshots",
        action="append",
        default=[],
        type=_snapshot_spec,
        metavar="DEPTHxMSms",
        help="the daemon's [[book_snapshots]], e.g. 25x100ms, so those tables match too",
    )
    rc.add_argument(
        "--rotate-seconds",
        type=float,
        default=300.0,
        help="start a new Parquet file after this much receive time (the daemon's default)",
    )

    cp = sub.add_parser(
        "compact", help="merge a day's small Parquet files into large sorted ones, atomically"
    )
    cp.add_argument("dataset", help="dataset root: a path or s3://bucket/prefix")
    cp.add_argument("--date", required=True, help="UTC day to compact, YYYY-MM-DD")
    cp.add_argument(
        "--target-size",
        type=_size,
        default=256 * 2**20,
        metavar="SIZE",
        help="about this many bytes per file, e.g. 256MB, 1GiB (default 256MiB)",
    )
    cp.add_argument(
        "--table",
        action="append",
        default=[],
        metavar="TABLE",
        help="only this table (repeatable): book, trades, bbo, quality or book_snapshots_<N>x<I>ms",
    )
    cp.add_argument("--exchange", action="append", default=[], help="only this exchange")
    cp.add_argument("--endpoint-url", help="S3-compatible endpoint, e.g. http://127.0.0.1:9000")
    cp.add_argument("--region", help="object storage region")
    cp.add_argument("--json", action="store_true", help="print the result as one JSON object")

    cc = sub.add_parser(
        "contract-check",
        help="check an exchange (live, or a recording) against its contract "
        "(exit 0 pass, 1 drift, 2 error, 3 unreachable)",
        description="Without --capture: connect to the exchange (or --url), subscribe to "
        "every contracted channel (book, bbo, trades, and the derivative channels the "
        "venue serves for --symbols: derivative_ticker, liquidations, options; "
        "--channels narrows it) for --symbols, record the session "
        "as a capture and check it: every channel delivers data within --deadline, every "
        "frame matches the contract, sequence/checksum rules hold, each book syncs from "
        "its snapshot, timestamps are sane and trade sides agree with the book. With "
        "--capture FILE: the same frame and rule checks offline on a recording. "
        "Exit codes: 0 = matches the contract, 1 = drift found (a silent channel "
        "included), 2 = unreadable recording, unknown exchange or bad usage, "
        "3 = unreachable (no connection opened and no REST answer).",
    )
    cc.add_argument("exchange", help="adapter slug, e.g. bybit, okx, binance-usdm")
    cc.add_argument("--capture", type=Path, help="recording to check (capture or corpus-v1)")
    cc.add_argument("--json", action="store_true", help="print the report as one JSON object")
    cc.add_argument(
        "--symbols", nargs="+", metavar="S", help="native symbols (default: the venue's BTC/ETH)"
    )
    cc.add_argument(
        "--duration", type=_seconds, default=60.0, metavar="T", help="session length (60s)"
    )
    cc.add_argument(
        "--deadline",
        type=_seconds,
        metavar="T",
        help="a channel without data this long after connecting fails (15s, at most --duration)",
    )
    cc.add_argument(
        "--channels",
        nargs="+",
        metavar="C",
        help="check only these channels (default: every one the venue serves for --symbols)",
    )
    cc.add_argument(
        "--url",
        help="connect here instead (the simulator, e.g. http://127.0.0.1:18080): every "
        "origin the adapter uses becomes URL/<exchange>",
    )
    cc.add_argument(
        "--record", type=Path, metavar="DIR", help="keep the session's capture under DIR"
    )

    args = parser.parse_args(argv)
    if args.command == "contract-check":
        return _contract_check(args)
    if args.command == "run":
        return _run(args)  # sets up logging itself: it depends on the config's status view
    from collector.logs import setup_logging

    setup_logging("text")
    if args.command == "compact":
        return _compact(args)
    if args.command == "recover":
        return _recover(args)
    if args.command == "demo":
        from collector.config import ConfigError
        from collector.demo import DEFAULT_CONFIG, run_demo

        try:
            return run_demo(args.config or DEFAULT_CONFIG, args.seconds)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 2
    return _replay(args)


def _run(args: argparse.Namespace) -> int:
    import logging
    import os
    import socket

    from collector.config import ConfigError, load_config
    from collector.daemon import run
    from collector.logs import setup_logging
    from collector.sharding import ShardError, describe, resolve_shard, shard_config

    try:
        config = load_config(args.config)
        shard = resolve_shard(args.shard, os.environ, socket.gethostname())
    except (ConfigError, ShardError) as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.status is not None:  # the config structs are frozen
        daemon = msgspec.structs.replace(config.daemon, status=args.status)
        config = msgspec.structs.replace(config, daemon=daemon)
    if args.metrics_listen is not None:
        metrics = msgspec.structs.replace(config.metrics, listen=args.metrics_listen)
        config = msgspec.structs.replace(config, metrics=metrics)
    whole = config
    if shard is not None:
        config = shard_config(config, shard)
    console = None
    if config.daemon.status:
        from rich.console import Console

        console = Console(stderr=True)  # logs and the live table share it, so never clash
    setup_logging(args.log_format, console=console)
    if shard is not None:
        level = logging.INFO if config.exchanges else logging.WARNING
        logging.getLogger("collector.sharding").log(level, "%s", describe(whole, shard))
    return run(config, console)


def _replay(args: argparse.Namespace) -> int:
    from collector.replay import ReplayError, replay
    from collector.replay_report import print_summary, progress

    missing = [str(p) for p in args.files if not p.exists()]
    if missing:
        print(f"no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.exchange:
        _warn_exchange_override(args.files, args.exchange)
    try:
        with progress(args.files, enabled=not args.json and sys.stderr.isatty()) as advance:
            summary = replay(
                args.files,
                args.out,
                exchange=args.exchange,
                on_record=advance,
                rotate_seconds=args.rotate_seconds,
                snapshots=args.snapshots,
                fmt=args.format,
                url=args.url,
                jobs=args.jobs,
                resume=args.resume,
            )
    except ReplayError as exc:
        print(f"replay failed: {exc}", file=sys.stderr)
        return 2
    if args.json:
        doc = {
            "out": summary.out,
            "parquet_files": summary.parquet_files,
            "exchanges": msgspec.to_builtins(summary.by_exchange()),
            "files": msgspec.to_builtins(summary.files),
        }
        print(json.dumps(doc, indent=None, sort_keys=True))
    else:
        print_summary(summary)
    for f in summary.damaged:  # one line each; its rows before the damage are published
        print(f"collector replay: damaged input: {f.damage}", file=sys.stderr)
    return REPLAY_DAMAGED if summary.damaged else 0


def _recover(args: argparse.Namespace) -> int:
    from collector.recover import recover_dataset

    if args.config is not None:
        from collector.config import ConfigError, load_config

        try:
            config = load_config(args.config)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 2
        args.capture = args.capture or Path(config.capture.dir)
        args.out = args.out or Path(config.output.dir)
        args.instance = args.instance or config.daemon.instance
        args.rotate_seconds = config.output.rotate_seconds
        args.snapshots = args.snapshots or config.snapshot_specs
    if args.capture is None or args.out is None:
        print("collector recover: give CAPTURE and --out, or --config", file=sys.stderr)
        return 2
    if not args.capture.is_dir():
        print(f"collector recover: {args.capture}: no such capture folder", file=sys.stderr)
        return 2
    summary = recover_dataset(
        args.capture,
        args.out,
        instance=args.instance,
        rotate_seconds=args.rotate_seconds,
        snapshots=args.snapshots,
        # Another process of the instance may be writing: its unfinished files are
        # never deleted here (the daemon removes its own at start).
        remove_orphans=False,
    )
    print(f"recovered {summary.rows} rows: {summary.line()}")
    return 0


def _warn_exchange_override(files: list[Path], exchange: str) -> None:
    """Say so when ``--exchange`` contradicts the exchange a file's header names: the
    flag wins, which is right for a mislabelled file and wrong for a typo."""
    from collector.capture.reader import open_recording
    from collector.capture.records import CaptureFormatError

    for path in files:
        try:
            named = open_recording(path)[0].exchange
        except (CaptureFormatError, OSError):  # the replay itself says what is wrong
            continue
        import adapters

        if named and adapters.canonical(named) != adapters.canonical(exchange):
            print(
                f"warning: {path} names its exchange {named!r}; replaying it as {exchange!r} "
                "(--exchange overrides the header)",
                file=sys.stderr,
            )


def _listen_spec(text: str) -> str:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: use HOST:PORT, e.g. 0.0.0.0:9464")
    return text


def _compact(args: argparse.Namespace) -> int:
    import pyarrow.fs as pafs

    from collector.compact import CompactError, compact
    from collector.storage import redact, resolve

    try:
        root = resolve(args.dataset, endpoint_url=args.endpoint_url, region=args.region)
        if root.fs.get_file_info(root.path).type == pafs.FileType.NotFound:
            print(f"compact: no such dataset: {root.uri}", file=sys.stderr)
            return 2
        results = compact(
            root,
            args.date,
            target_bytes=args.target_size,
            tables=args.table,
            exchanges=args.exchange,
        )
    except (CompactError, ValueError, OSError) as exc:
        print(f"compact {redact(args.dataset)}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"dataset": root.uri, "partitions": [vars(r) for r in results]}))
        return 0
    if not results:
        print(f"no partitions of {args.date} under {root.uri}")
    for r in results:
        if r.skipped:
            print(f"{r.path}: {r.originals} files, {r.skipped}")
        else:
            sizes = ", ".join(f"{size / 2**20:.1f} MiB" for _, size in r.outputs)
            print(f"{r.path}: {r.originals} files -> {len(r.outputs)} ({sizes}), {r.rows} rows")
    return 0


_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20}
_UNITS |= {"gib": 2**30, "k": 2**10, "m": 2**20, "g": 2**30}


def _size(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]*)", text.strip())
    if match is None or match[2].lower() not in _UNITS:
        raise argparse.ArgumentTypeError(f"{text!r}: use a size such as 256MB, 512MiB or 1GiB")
    return int(float(match[1]) * _UNITS[match[2].lower()])


def _contract_check(args: argparse.Namespace) -> int:
    from collector.contract.check import CheckError, check_recording
    from collector.contract.report import render_text, to_json

    if args.capture is None:
        return _contract_check_live(args)
    if not args.capture.exists():
        print(f"no such file: {args.capture}", file=sys.stderr)
        return 2
    import adapters

    if adapters.canonical(args.exchange) not in adapters.REGISTRY:
        print(adapters.UnknownExchange(args.exchange), file=sys.stderr)
        return 2
    try:
        report = check_recording(args.capture, exchange=args.exchange)
    except CheckError as exc:
        print(f"contract-check failed: {exc}", file=sys.stderr)
        return 2
    print(to_json(report) if args.json else render_text(report))
    return 0 if report.passed else 1


def _contract_check_live(args: argparse.Namespace) -> int:
    from collector.contract.check import CheckError
    from collector.contract.live import USAGE, LiveCheckError, exit_code, live_check
    from collector.contract.report import render_text, to_json

    try:
        report = live_check(
            args.exchange,
            args.symbols,
            duration_s=args.duration,
            url=args.url,
            record_dir=args.record,
            deadline_s=args.deadline,
            channels=args.channels,
        )
    except (LiveCheckError, CheckError) as exc:
        print(f"contract-check: {exc}", file=sys.stderr)
        return USAGE
    print(to_json(report) if args.json else render_text(report))
    return exit_code(report)


def _jobs(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: use a number of processes, 0 for one per CPU")
    return int(text)


def _seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h)?", text.strip())
    if match is None or float(match[1]) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: use a duration such as 60s, 2m or 500ms")
    scale = {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[match[2]]
    return float(match[1]) * scale


def _snapshot_spec(text: str) -> tuple[int, int, tuple[str, ...]]:
    """``25x100ms``, or ``25x100ms+mark_price+funding_rate`` as ``[[book_snapshots]] with``."""
    from collector.book.engine import SNAPSHOT_WITH

    spec, *extra = text.split("+")
    match = re.fullmatch(r"(\d+)x(\d+)ms", spec)
    bad = [e for e in extra if e not in SNAPSHOT_WITH]
    if match is None or int(match[1]) < 1 or int(match[2]) < 1 or bad:
        raise argparse.ArgumentTypeError(
            f"{text!r}: use DEPTHxINTERVALms, e.g. 25x100ms, optionally with "
            f"+{'+'.join(SNAPSHOT_WITH)}"
        )
    return int(match[1]), int(match[2]), tuple(extra)


if __name__ == "__main__":
    raise SystemExit(main())
