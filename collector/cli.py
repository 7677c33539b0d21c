"""The ``collector`` command line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import msgspec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="collector", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the collector daemon")
    run.add_argument("--config", type=Path, required=True)

    rp = sub.add_parser("replay", help="replay recordings into a Parquet dataset")
    rp.add_argument("files", nargs="+", type=Path, help="capture or corpus-v1 files")
    rp.add_argument("--out", type=Path, required=True, help="dataset root directory")
    rp.add_argument("--exchange", help="adapter slug when the file does not name one")
    rp.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    rp.add_argument(
        "--rotate-seconds",
        type=float,
        default=3600.0,
        help="start a new Parquet file after this much receive time",
    )

    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.command == "run":
        return _run(args)
    return _replay(args)


def _run(args: argparse.Namespace) -> int:
    print(
        f"collector run --config {args.config}: the live daemon is not built yet "
        "(tracked in the daemon issue). Today the collector replays recordings: "
        "collector replay FILE... --out DIR",
        file=sys.stderr,
    )
    return 2


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


if __name__ == "__main__":
    raise SystemExit(main())
