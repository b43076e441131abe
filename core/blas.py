"""How many threads numpy's and scipy's OpenBLAS use, for a stretch of work (pure, ctypes only).

The face-model solve makes many small LAPACK calls (7x7 and 52x52 systems) in its own thread
while the face tracker runs beside it.  OpenBLAS's default of one thread per core turns every
such call into a hand-off between threads: on a busy 2-core machine a batched 7x7 solve took
6 ms instead of 0.13 ms, and the solve of a take ran 4x slower.  :func:`single_threaded`
lowers OpenBLAS to one thread for the duration and restores it after.

OpenBLAS is found as numpy and scipy ship it (their wheels' ``numpy.libs`` / ``.libs`` /
``.dylibs`` folders); where it is not found (another BLAS) this does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import threading

_lock = threading.Lock()
_users = 0
_saved: list = []
_libs: list | None = None


def _find() -> list:
    """[(get, set)] for each OpenBLAS numpy and scipy loaded."""
    global _libs
    if _libs is not None:
        return _libs
    found = []
    for pkg in ("numpy", "scipy"):
        try:
            mod = __import__(pkg)
        except ImportError:
            continue
        here = os.path.dirname(mod.__file__)
        paths = []
        for folder in (os.path.join(os.path.dirname(here), f"{pkg}.libs"), os.path.join(here, ".libs"),
                       os.path.join(here, ".dylibs")):
            paths += glob.glob(os.path.join(folder, "*openblas*"))
        for path in paths:
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for prefix in ("", "scipy_"):
                for suffix in ("64_", ""):
                    get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
                    put = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
                    if get is not None and put is not None:
                        get.restype = ctypes.c_int
                        put.argtypes = [ctypes.c_int]
                        found.append((get, put))
                        break
                else:
                    continue
                break
    _libs = found
    return found


@contextlib.contextmanager
def single_threaded():
    """OpenBLAS (numpy's and scipy's) on one thread inside the block (nested and concurrent
    blocks share it; the first in sets it, the last out restores it)."""
    global _users, _saved
    with _lock:
        if _users == 0:
            libs = _find()
            _saved = [(put, get()) for get, put in libs]
            for put, _n in _saved:
                put(1)
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                for put, n in _saved:
                    put(n)
                _saved = []


def threads() -> list[int]:
    """The thread count of each OpenBLAS found (for tests)."""
    return [get() for get, _put in _find()]
