"""Start ``collector simulate`` as a child process and learn its port.

The demo, the process-level tests and the memory benchmark all need a real
simulator process; this is the one place that starts it and reads the line it
prints when listening, with a deadline so a child that never starts cannot
hang its parent.
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from pathlib import Path

READY = "simulator listening on http://"


class SimulatorDidNotStart(RuntimeError):
    pass


def start_simulator(
    args: list[str], *, log: Path | None = None, timeout_s: float = 30.0
) -> tuple[subprocess.Popen[str], int]:
    """Run ``collector simulate ARGS``; return the child and the port it listens on.

    stderr goes to ``log`` when given (it is where the simulator logs), else it
    is inherited. The child is killed if it does not report ready in time.
    """
    command = [sys.executable, "-m", "collector.cli", "simulate", *args]
    err = log.open("wb") if log is not None else None
    try:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True)
    finally:
        if err is not None:
            err.close()
    line = _first_line(proc, timeout_s).strip()
    if not line.startswith(READY):
        proc.kill()
        proc.wait(10)
        where = f"; see {log}" if log is not None else ""
        raise SimulatorDidNotStart(f"simulator did not start within {timeout_s} s: {line!r}{where}")
    return proc, int(line.rsplit(":", 1)[1])


def stop(proc: subprocess.Popen[str], timeout_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it does not exit in time."""
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout_s)


def _first_line(proc: subprocess.Popen[str], timeout_s: float) -> str:
    """The child's first stdout line, or '' after ``timeout_s`` (readline alone may block)."""
    lines: queue.Queue[str] = queue.Queue()
    stdout = proc.stdout
    assert stdout is not None
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout_s)
    except queue.Empty:
        return ""
