"""What one received websocket frame costs the client, by library and event loop.

A server in a child process (on another core when there is one) sends
``--frames`` copies of a frame as fast as it can over loopback; the client reads
them one by one, as the daemon's receive loop does, and this process's CPU time
per frame is printed for each combination of client library (``websockets``,
``aiohttp``), event loop (``asyncio``, ``uvloop``) and frame (a Binance
bookTicker, a 20-level depth update), in two modes:

* ``live``: the client reads as the frames come, so most wake-ups find one frame
  (a daemon keeping up with its feed);
* ``backlog``: the client stops reading for half a second first, so the socket
  buffers are full and each wake-up finds many frames (a daemon behind its feed).

``websockets-direct`` is a prototype, not what the daemon does: a ``websockets``
connection whose ``process_event`` takes each whole data frame as the socket read
that completed it is parsed, and hands it on there (decoded as ``recv`` would), with
no message queue and no ``recv`` call, future or task wake-up per frame. It measures
what delivering frames from ``data_received`` would save.

The server's work is not counted. No permessage-deflate on either side (the
simulator does not offer it; Binance does not either).

It answers: what is the floor of the daemon's per-frame CPU before any decoding,
and what does the websocket client library contribute to it.

Usage::

    python benchmarks/ws_receive_cost.py [--frames 100000] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
import uvloop
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import Event

QUOTE = (
    '{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":4987361726712,'
    '"s":"BTCUSDT","b":"56832.10","B":"3.164","a":"56832.20","A":"8.417",'
    '"T":1723075200123,"E":1723075200124}}'
)
_LEVELS = ",".join(f'["{56800 + i}.10","{i}.{i:03d}"]' for i in range(10))
DEPTH = (
    '{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723075200124,'
    '"T":1723075200123,"s":"BTCUSDT","U":4987361726700,"u":4987361726712,'
    f'"pu":4987361726699,"b":[{_LEVELS}],"a":[{_LEVELS}]}}}}'
)
FRAMES = {"bookTicker": QUOTE, "depth20": DEPTH}

_SERVER = """
import asyncio, sys
from websockets.asyncio.server import serve

frame, count = sys.argv[1], int(sys.argv[2])

async def handler(ws):
    await ws.recv()  # "go"
    for _ in range(count):
        await ws.send(frame)
    await ws.close()

async def main():
    async with serve(handler, "127.0.0.1", 0, compression=None, max_queue=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

asyncio.run(main())
"""


async def with_websockets(url: str, backlog: bool) -> int:
    n = 0
    async with websockets.connect(url, compression=None, max_size=2**24) as ws:
        await ws.send("go")
        if backlog:
            time.sleep(_BACKLOG_S)  # blocks the loop: the socket buffers fill meanwhile
        try:
            while True:
                await ws.recv()
                n += 1
        except websockets.ConnectionClosed:
            pass
    return n


class _Direct(ClientConnection):
    """Counts whole data frames where they are parsed, instead of queueing them."""

    received = 0

    def process_event(self, event: Event) -> None:
        if (
            self.response is not None  # the handshake's answer comes first
            and isinstance(event, Frame)
            and event.fin
            and event.opcode in (Opcode.TEXT, Opcode.BINARY)
        ):
            data = event.data.decode() if event.opcode is Opcode.TEXT else bytes(event.data)
            self.received += data is not None
            return
        super().process_event(event)


async def with_websockets_direct(url: str, backlog: bool) -> int:
    async with websockets.connect(
        url, compression=None, max_size=2**24, create_connection=_Direct
    ) as ws:
        await ws.send("go")
        if backlog:
            time.sleep(_BACKLOG_S)
        await ws.wait_closed()
    return ws.received


async def with_aiohttp(url: str, backlog: bool) -> int:
    n = 0
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, compress=0, max_msg_size=2**24) as ws,
    ):
        await ws.send_str("go")
        if backlog:
            time.sleep(_BACKLOG_S)
        while True:
            msg = await ws.receive()
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            n += 1
    return n


#: How long a ``backlog`` client stops reading after asking for the frames.
_BACKLOG_S = 0.5

CLIENTS: dict[str, Callable[[str, bool], Awaitable[int]]] = {
    "websockets": with_websockets,
    "aiohttp": with_aiohttp,
    "websockets-direct": with_websockets_direct,
}


def _server_cores() -> None:
    """The server off the client's core, when there is another: it must not take turns."""
    cores = os.sched_getaffinity(0) | set(_ALL_CORES)
    others = cores - {min(cores)}
    if others:
        os.sched_setaffinity(0, others)


_ALL_CORES = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def measure(client: str, loop: str, frame: str, count: int, backlog: bool) -> float:
    """CPU microseconds of this process per frame received (the backlog's sleep excluded:
    ``time.sleep`` takes no CPU)."""
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER, frame, str(count)],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=_server_cores,
    )
    try:
        assert server.stdout is not None
        url = f"ws://127.0.0.1:{server.stdout.readline().strip()}/"
        run = uvloop.run if loop == "uvloop" else asyncio.run
        start = time.process_time()
        got = run(CLIENTS[client](url, backlog))
        seconds = time.process_time() - start
    finally:
        server.kill()
        server.wait()
    if got != count:
        raise SystemExit(f"{client}/{loop}: {got} of {count} frames arrived")
    return seconds / count * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):  # one core, as the replay harnesses
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    rows = []
    for frame_name, frame in FRAMES.items():
        for loop in ("asyncio", "uvloop"):
            for client in CLIENTS:
                row = {"frame": frame_name, "bytes": len(frame), "loop": loop, "client": client}
                for mode, backlog in (("live", False), ("backlog", True)):
                    best = min(
                        measure(client, loop, frame, args.frames, backlog)
                        for _ in range(args.repeat)
                    )
                    row[f"{mode}_cpu_us_per_frame"] = round(best, 2)
                rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'frame':<12}{'loop':<9}{'client':<19}{'live us/frame':>15}{'backlog us/frame':>18}")
    for r in rows:
        print(
            f"{r['frame']:<12}{r['loop']:<9}{r['client']:<19}"
            f"{r['live_cpu_us_per_frame']:>15.2f}{r['backlog_cpu_us_per_frame']:>18.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
