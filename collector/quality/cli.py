"""``collector quality DATASET``: one command to know how good the data is.

Exit status: 0 when the report was produced (whatever the grade: a bad grade
is an answer, not an error), 2 when the dataset cannot be read. ``--fail-under``
turns a grade into an exit status for scripts and CI. DuckDB and matplotlib are
default dependencies: the report is the product, not an extra.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import pyarrow.fs as pafs

from collector.storage import Location, is_remote, resolve


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="collector quality",
        description="Report holes, incidents, latency and a health grade (A-F) for a dataset.",
    )
    p.add_argument(
        "dataset", help="dataset root (holds table=book/, table=quality/...): a path or s3:// URI"
    )
    p.add_argument("--endpoint-url", help="S3-compatible endpoint for an s3:// dataset")
    p.add_argument("--region", help="object storage region for an s3:// dataset")
    p.add_argument("--out", type=Path, help="also write a self-contained HTML report here")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument(
        "--exchange", action="append", default=[], help="only this exchange (repeatable)"
    )
    p.add_argument("--symbol", action="append", default=[], help="only this symbol (repeatable)")
    p.add_argument(
        "--hole-seconds",
        type=float,
        default=5.0,
        help="a symbol with no data row for longer than this has a hole (default 5)",
    )
    p.add_argument(
        "--fail-under",
        choices=list("ABCDF"),
        help="exit 1 when the overall grade is worse than this letter",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    if is_remote(args.dataset):
        try:
            location = resolve(args.dataset, endpoint_url=args.endpoint_url, region=args.region)
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 2
        with tempfile.TemporaryDirectory(prefix="quality-") as scratch:
            try:
                _download(location, Path(scratch))
            except OSError as exc:
                print(f"cannot read {location.uri}: {exc}", file=sys.stderr)
                return 2
            return _report(args, Path(scratch), location.uri)
    dataset = Path(args.dataset.removeprefix("file://"))
    if not dataset.is_dir():
        print(f"no such dataset directory: {args.dataset}", file=sys.stderr)
        return 2
    return _report(args, dataset, str(dataset))


def _download(location: Location, into: Path) -> None:
    """Copy the report's tables (one complete set per partition) to local disk: the
    scan is many DuckDB queries, and DuckDB reads S3 only through an extension."""
    from collector.compact import live_files
    from collector.quality.facts import DATA_TABLES

    local = pafs.LocalFileSystem()
    for table in (*DATA_TABLES, "quality"):
        for exchange in location.list(f"table={table}"):
            for date in location.fs.get_file_info(pafs.FileSelector(exchange.path)):
                if date.type != pafs.FileType.Directory:
                    continue
                target = into / f"table={table}" / exchange.base_name / date.base_name
                target.mkdir(parents=True, exist_ok=True)
                for path in live_files(location.fs, date.path):
                    name = path.rsplit("/", 1)[-1]
                    pafs.copy_files(
                        path,
                        str(target / name),
                        source_filesystem=location.fs,
                        destination_filesystem=local,
                    )


def _report(args: argparse.Namespace, dataset: Path, shown: str) -> int:
    """The report of the local ``dataset``; ``shown`` is how messages name it."""
    if args.hole_seconds <= 0:
        print("--hole-seconds must be positive", file=sys.stderr)
        return 2
    from collector.quality.build import build_report
    from collector.quality.model import to_json_dict
    from collector.quality.scan import Scanner
    from collector.quality.terminal import print_report, progress

    show_progress = sys.stderr.isatty()
    try:
        with progress(Scanner.STEPS, enabled=show_progress) as step:
            report, facts = build_report(
                dataset,
                exchanges=args.exchange,
                symbols=args.symbol,
                hole_seconds=args.hole_seconds,
                on_step=step,
            )
    except Exception as exc:  # duckdb raises its own hierarchy for unreadable files
        if type(exc).__module__.split(".")[0] not in ("duckdb", "_duckdb"):
            raise
        print(f"cannot read {shown}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    report.dataset = shown  # the URI, not the scratch copy
    if args.out is not None:
        from collector.quality.html import write

        write(report, facts, args.out)
    if args.json:
        print(json.dumps(to_json_dict(report), sort_keys=False))
    else:
        print_report(report)
        if args.out is not None:
            print(f"HTML report: {args.out}")
    if args.fail_under and "ABCDF".index(report.grade) > "ABCDF".index(args.fail_under):
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
