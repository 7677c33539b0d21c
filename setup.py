"""The optional compiled core (``collector/native/_core.pyx``); everything else is in pyproject.

The extension is built from source on install (Cython comes from the build
requirements). A machine where it cannot be built (no compiler, no Python
headers) still installs: the build failure is reported and skipped, and the
collector runs on the pure-Python reference path, saying so once at start.
"""

from __future__ import annotations

import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

NATIVE = "collector.native._core"


class OptionalBuildExt(build_ext):
    """``build_ext`` that turns a failed compile into a warning instead of a failed install."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # no compiler at all: distutils raises before compiling
            self._skip(exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # CompileError, LinkError, a missing header...
            self._skip(exc)

    @staticmethod
    def _skip(exc: Exception) -> None:
        print(
            f"WARNING: {NATIVE} not built ({type(exc).__name__}: {exc}); "
            "the collector will run on the pure-Python reference path",
            file=sys.stderr,
        )


def _extensions() -> list[Extension]:
    try:
        from Cython.Build import cythonize
    except ImportError:  # only outside build isolation, without Cython installed
        print(f"WARNING: Cython not found, {NATIVE} not built", file=sys.stderr)
        return []
    ext = Extension(
        NATIVE,
        ["collector/native/_core.pyx"],
        depends=["collector/native/core.h"],
        include_dirs=["collector/native"],
        extra_compile_args=["-O2"],
    )
    try:
        return cythonize([ext], language_level=3, quiet=True)
    except Exception as exc:
        OptionalBuildExt._skip(exc)
        return []


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
