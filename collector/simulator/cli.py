"""``collector simulate``: run the local exchange until SIGINT/SIGTERM.

Prints exactly one line on stdout, ``simulator listening on http://HOST:PORT``
(with the real port when ``--port 0``), once it accepts connections, so a
parent process can wait for that line and then connect. Everything else goes
to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

from collector.capture.records import CaptureFormatError
from collector.simulator.config import ALL_EXCHANGES, SimulatorConfig
from collector.simulator.faults import Faults, parse_faults
from collector.simulator.recording import RecordingError
from collector.simulator.server import Simulator


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="collector simulate",
        description="A local Binance-family exchange (websocket + REST) with fault injection.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=18080, help="0 picks a free port")
    p.add_argument(
        "--recording",
        action="extend",
        nargs="+",
        default=[],
        metavar="FILE",
        help="serve these recordings (corpus .jsonl.gz or capture) for their exchanges; "
        "each websocket connection replays from the beginning",
    )
    p.add_argument("--speed", type=float, default=1.0, help="recording pace; 0 = no waiting")
    p.add_argument("--loop", action="store_true", help="restart recordings at their end")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated books")
    p.add_argument("--interval-ms", type=float, default=100.0, help="depth event interval")
    p.add_argument("--symbols", help="comma-separated symbols for every generated exchange")
    p.add_argument(
        "--send-stamps",
        action="store_true",
        help='start every market-data frame with {"sent":<ns>, (latency benchmarks)',
    )
    p.add_argument(
        "--exchanges",
        help=f"comma-separated generated exchanges (default: all of {', '.join(ALL_EXCHANGES)}, "
        "or none when --recording is given)",
    )
    p.add_argument(
        "--faults",
        help='fault knobs as JSON, e.g. \'{"drop_after_frames": 100, "rest_status": [429]}\', '
        "or @FILE; change them at runtime with POST /_faults",
    )
    return p


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """Raises ``ValueError`` with a message fit for the user on a bad flag value."""
    faults = Faults()
    if args.faults:
        text = Path(args.faults[1:]).read_text() if args.faults.startswith("@") else args.faults
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--faults is not JSON: {exc}") from exc
        faults, _ = parse_faults(doc)
    config = SimulatorConfig(
        host=args.host,
        port=args.port,
        exchanges=_split(args.exchanges),
        symbols=_split(args.symbols),
        recordings=tuple(args.recording),
        speed=args.speed,
        loop=args.loop,
        seed=args.seed,
        interval_ms=args.interval_ms,
        send_stamps=args.send_stamps,
        faults=faults,
    )
    config.check()
    return config


def _split(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(s.strip() for s in text.split(",") if s.strip())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    missing = [f for f in config.recordings if not Path(f).exists()]
    if missing:
        print(f"no such file: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    return asyncio.run(_serve(config))


async def _serve(config: SimulatorConfig) -> int:
    try:
        sim = Simulator(config)
    except (RecordingError, CaptureFormatError, ValueError) as exc:  # e.g. a drift it refuses
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await sim.start()
    except OSError as exc:
        print(f"simulate: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 2
    served = ", ".join(
        f"{slug} ({'generated' if slug in sim.generated else 'recording'})" for slug in sim.sources
    )
    print(f"serving {served}", file=sys.stderr)
    print(f"simulator listening on {sim.url}", flush=True)
    try:
        await stop.wait()
    finally:
        await sim.stop()
    return 0
