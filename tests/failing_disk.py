"""Inject I/O errors (ENOSPC, EIO, EACCES) into the collector's writers, in-process.

Tests run as root, for whom permissions never fail, and not every machine lets a
test mount a small filesystem; so the errors a full or broken disk produces are
raised here, at the same calls the kernel would fail: opening a file for
writing, ``write``, ``fsync`` and ``rename`` of paths below one folder. Reads
and everything outside the folder are untouched. ``tests/e2e`` also fills a real
tmpfs where the machine allows it.
"""

from __future__ import annotations

import builtins
import errno as errno_module
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow.fs as pafs
import pytest

from collector import recover
from collector.capture import writer as capture_writer
from collector.sinks import parquet as parquet_sink

_WRITE_MODES = set("wxa+")


class _FailingFile:
    """A file whose writes raise while the disk is failing; everything else delegates."""

    def __init__(self, file: Any, disk: FailingDisk, path: str) -> None:
        self._file = file
        self._disk = disk
        self._path = path

    def write(self, data: Any) -> int:
        self._disk.check(self._path, named=False)
        return self._file.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)

    def __enter__(self) -> _FailingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()


class FailingDisk:
    """While ``errno`` is set, writes below ``root`` fail with it; ``failures`` counts them."""

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, root: Path, *, modules: tuple[ModuleType, ...] = ()
    ) -> None:
        """``modules``: more modules whose ``open`` writes below ``root`` (the sink, the
        capture writer and recovery always)."""
        self.root = str(Path(root).resolve())
        self.errno: int | None = None
        self.failures = 0
        real_open, real_fsync, real_replace = builtins.open, os.fsync, os.replace

        def fake_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            writing = bool(_WRITE_MODES & set(mode))
            if writing and self.ours(file):
                self.check(str(file))
                return _FailingFile(real_open(file, mode, *args, **kwargs), self, str(file))
            return real_open(file, mode, *args, **kwargs)

        def fake_fsync(fd: Any) -> None:
            fileno = fd if isinstance(fd, int) else fd.fileno()
            path = os.readlink(f"/proc/self/fd/{fileno}")
            if self.ours(path):
                self.check(path, named=False)
            real_fsync(fd)

        def fake_replace(src: Any, dst: Any, **kwargs: Any) -> None:
            if self.ours(dst):
                self.check(str(dst))
            real_replace(src, dst, **kwargs)

        for module in (parquet_sink, capture_writer, recover, *modules):
            monkeypatch.setattr(module, "open", fake_open, raising=False)
        monkeypatch.setattr(os, "fsync", fake_fsync)
        monkeypatch.setattr(os, "replace", fake_replace)

    def filesystem(self) -> pafs.LocalFileSystem:
        """A local pyarrow filesystem whose changes below ``root`` fail with the disk:
        for code that renames, deletes and writes through pyarrow, not ``open``."""
        disk = self

        class FailingFileSystem(pafs.LocalFileSystem):
            def move(self, src: str, dest: str) -> None:
                disk.check_ours(dest)
                super().move(src, dest)

            def delete_file(self, path: str) -> None:
                disk.check_ours(path)
                super().delete_file(path)

            def open_output_stream(self, path: str, *args: Any, **kwargs: Any) -> Any:
                disk.check_ours(path)
                return super().open_output_stream(path, *args, **kwargs)

        return FailingFileSystem()

    def check_ours(self, path: Any) -> None:
        if self.ours(path):
            self.check(str(path))

    def ours(self, path: Any) -> bool:
        return os.path.abspath(os.fspath(path)).startswith(self.root)

    def check(self, path: str, *, named: bool = True) -> None:
        """Fail while the disk is failing. ``named``: the error names ``path``, as
        ``open`` and ``os.replace`` errors do; ``write(2)`` and ``fsync(2)`` errors
        name no file, and a writer must say which file it was writing itself."""
        if self.errno is not None:
            self.failures += 1
            if named:
                raise OSError(self.errno, os.strerror(self.errno), path)
            raise OSError(self.errno, os.strerror(self.errno))

    def fail(self, code: int) -> None:
        self.errno = code

    def heal(self) -> None:
        self.errno = None


ERRNOS = {
    "ENOSPC": errno_module.ENOSPC,
    "EIO": errno_module.EIO,
    "EACCES": errno_module.EACCES,
}
