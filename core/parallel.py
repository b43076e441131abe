"""Pure work beside the caller, on a second core (pure, standard library only).

numpy's array loops, scipy's sparse factorisations and solves and its k-d trees release the
GIL for their heavy part, so two threads of ours keep two cores busy where OpenBLAS's own
threads mostly wait (a scan rig's LAPACK calls are small).  :func:`beside` gives the block a
``submit`` for work that does not depend on what the block computes meanwhile.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor

from . import blas


@contextlib.contextmanager
def beside():
    """``with beside() as submit:`` - ``submit(fn, *args, **kwargs)`` runs ``fn`` in one worker
    thread and returns its ``Future`` (``.result()`` waits, and raises what ``fn`` raised).
    Inside the block OpenBLAS runs on one thread (:func:`blas.single_threaded`); leaving the
    block waits for everything submitted.  Submitted work must not report progress (the
    caller's thread does) nor touch ``bpy``."""
    with blas.single_threaded(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="faceforge-beside") as pool:
        yield pool.submit
