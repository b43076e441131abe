"""What every subcommand does the same way: check its outputs before the work, lock in-place edits.

* :func:`output` - an output path (``--out``, ``--contact-sheet``...) checked for
  writability and extension before anything is loaded or computed;
* :func:`editing` - when the output is the character file itself (``emotion``
  without ``--out``, ``livelink-import`` without ``--save``, any ``--out`` equal
  to ``--character``), hold the file's lock from loading to saving, so parallel
  runs on one file take turns instead of the last one silently winning.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

from ..core import paths


def output(path, flag: str = "--out", ext=None) -> str:
    """``path`` made absolute, once it is known a file can be written there (FaceForgeError, exit 2,
    otherwise)."""
    return paths.check_output(path, flag, ext=ext)


def same_file(a, b) -> bool:
    if not a or not b:
        return False
    a, b = os.path.abspath(str(a)), os.path.abspath(str(b))
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


@contextmanager
def editing(character, out):
    """Lock ``character`` for the block when ``out`` is that same file (an in-place edit)."""
    if character and same_file(character, out) and os.path.isfile(str(character)):
        with paths.editing(os.path.abspath(str(character)), on_wait=lambda m: print(m, flush=True)):
            yield
    else:
        yield
