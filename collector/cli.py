"""The ``collector`` command line."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import msgspec


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["simulate"]:  # its own parser: every flag belongs to it
        from collector.simulator.cli import main as simulate

        return simulate(argv[1:])
    if argv[:1] == ["quality"]:
        from collector.quality.cli import main as quality

        return quality(argv[1:])
    parser = argparse.ArgumentParser(prog="collector", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the collector daemon")
    run.add_argument("--config", type=Path, required=True)
    run.add_argument(
        "--status",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a live table of every stream (overrides [daemon] status)",
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
    demo.add_argument("--config", type=Path, default=Path("config/demo.toml"))
    demo.add_argument("--seconds", type=float, default=60.0)

    rp = sub.add_parser("replay", help="replay recordings into a Parquet dataset")
    rp.add_argument("files", nargs="+", type=Path, help="capture or corpus-v1 files")
    rp.add_argument("--out", type=Path, required=True, help="dataset root directory")
    rp.add_argument("--exchange", help="adapter slug when the file does not name one")
    rp.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    rp.add_argument(
        "--snapshots",
        action="append",
        default=[],
        type=_snapshot_spec,
        metavar="DEPTHxMSms",
        help="also write book_snapshots, e.g. 25x100ms (top 25 levels every 100 ms); repeatable",
    )
    rp.add_argument(
        "--rotate-seconds",
        type=float,
        default=3600.0,
        help="start a new Parquet file after this much receive time",
    )

    cc = sub.add_parser(
        "contract-check",
        help="check a recording against an exchange's contract (exit 0 pass, 1 drift, 2 error)",
        description="Validate every frame of a recording against the exchange's contract "
        "and print the drift report. Exit codes: 0 = matches the contract, 1 = drift "
        "found, 2 = unreadable recording, unknown exchange or bad usage.",
    )
    cc.add_argument("exchange", help="adapter slug, e.g. bybit, okx, binance-usdm")
    cc.add_argument("--capture", type=Path, help="recording to check (capture or corpus-v1)")
    cc.add_argument("--json", action="store_true", help="print the report as one JSON object")

    args = parser.parse_args(argv)
    if args.command == "contract-check":
        return _contract_check(args)
    if args.command == "run":
        return _run(args)  # sets up logging itself: it depends on the config's status view
    from collector.logs import setup_logging

    setup_logging("text")
    if args.command == "demo":
        from collector.config import ConfigError
        from collector.demo import run_demo

        try:
            return run_demo(args.config, args.seconds)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 2
    return _replay(args)


def _run(args: argparse.Namespace) -> int:
    from collector.config import ConfigError, load_config
    from collector.daemon import run
    from collector.logs import setup_logging

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.status is not None:  # the config structs are frozen
        daemon = msgspec.structs.replace(config.daemon, status=args.status)
        config = msgspec.structs.replace(config, daemon=daemon)
    console = None
    if config.daemon.status:
        from rich.console import Console

        console = Console(stderr=True)  # logs and the live table share it, so never clash
    setup_logging(args.log_format, console=console)
    return run(config, console)


def _replay(args: argparse.Namespace) -> int:
    from collector.replay import ReplayError, replay
    from collector.replay_report import print_summary, progress

    missing = [str(p) for p in args.files if not p.exists()]
    if missing:
        print(f"no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        with progress(args.files, enabled=not args.json and sys.stderr.isatty()) as advance:
            summary = replay(
                args.files,
                args.out,
                exchange=args.exchange,
                on_record=advance,
                rotate_seconds=args.rotate_seconds,
                snapshots=args.snapshots,
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
    return 0


def _contract_check(args: argparse.Namespace) -> int:
    from collector.contract.check import CheckError, check_recording
    from collector.contract.report import render_text, to_json

    if args.capture is None:
        print(
            "contract-check: --capture FILE is required; checking a live exchange "
            "(--duration/--url) is not implemented yet",
            file=sys.stderr,
        )
        return 2
    if not args.capture.exists():
        print(f"no such file: {args.capture}", file=sys.stderr)
        return 2
    import adapters

    if args.exchange not in adapters.REGISTRY:
        print(adapters.UnknownExchange(args.exchange), file=sys.stderr)
        return 2
    try:
        report = check_recording(args.capture, exchange=args.exchange)
    except CheckError as exc:
        print(f"contract-check failed: {exc}", file=sys.stderr)
        return 2
    print(to_json(report) if args.json else render_text(report))
    return 0 if report.passed else 1


def _snapshot_spec(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)ms", text)
    if match is None or int(match[1]) < 1 or int(match[2]) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: use DEPTHxINTERVALms, e.g. 25x100ms")
    return int(match[1]), int(match[2])


if __name__ == "__main__":
    raise SystemExit(main())
