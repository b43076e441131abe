"""Paths built from user data, outputs written whole, temporary folders removed (pure).

The one place for file-system safety; every module that writes follows it:

* :func:`safe_filename` - a user's name (object, action, take) as one file name;
* :func:`inside` - a path built from user data, proven to stay in its folder
  (``"../../x"`` and absolute names are refused, not written);
* :func:`check_output` / :func:`check_output_dir` - an output path checked for
  writability *before* the work starts (a folder, a path under a file,
  ``/proc``, a read-only folder: one clear sentence, exit status 2);
* :func:`writing` (one file) / :func:`writing_files` (a main file plus its
  companions, such as a ``.gltf`` with its ``.bin``) - the writer writes a
  temporary file beside the target, which is renamed over it only when the
  writer finished: a failed or cancelled write leaves the old file as it was
  and nothing half-written.  Temporary files carry this process's id, so
  ones left by a killed process are removed by the next write in that folder;
* :func:`temp_dir` - a temporary folder removed on every exit path;
* :func:`editing` - an exclusive lock on a file edited in place, so two
  processes changing the same ``.blend`` take turns instead of one silently
  losing the other's work.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
import time
from contextlib import contextmanager

from .errors import FaceForgeError, FaceForgeFailure

_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
MAX_NAME = 120  # characters kept of a name (file systems allow 255 bytes; room for suffixes)
_TMP_TAG = ".faceforge-tmp-"
_TMP_RE = re.compile(r"^\..*\.faceforge-tmp-(\d+)-")


def safe_filename(name: str, fallback: str = "untitled") -> str:
    """``name`` as one file name on every system: every character but letters, digits, ``-``,
    ``_`` and ``.`` becomes ``_`` (``"Face take 1/2"`` -> ``"Face_take_1_2"``); leading dots go
    (no hidden files, no ``..``), Windows device names get a ``_``, the length is capped;
    an empty result is ``fallback``."""
    out = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name))
    out = out.lstrip(".")[:MAX_NAME].rstrip(". ")
    if out.split(".")[0].upper() in _RESERVED:
        out = "_" + out
    return out or fallback


def _real(path: str) -> str:
    return os.path.realpath(os.path.abspath(os.path.expanduser(str(path))))


def inside(folder: str, *parts: str) -> str:
    """``folder/part/...`` when it stays inside ``folder`` (symbolic links followed); a
    FaceForgeError for parts that climb out (``..``) or are absolute."""
    base = _real(folder)
    path = os.path.normpath(os.path.join(base, *[str(p) for p in parts]))
    real = _real(path)
    if os.path.commonpath([base, real]) != base or any(os.path.isabs(str(p)) for p in parts):
        raise FaceForgeError(f"'{os.path.join(*[str(p) for p in parts])}' would be written outside "
                             f"{folder}: names used for files must stay inside the output folder")
    return path


def _existing_ancestor(path: str) -> str:
    folder = path
    while not os.path.lexists(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return folder


def _probe_folder(folder: str) -> str | None:
    """Why nothing can be created in the existing folder ``folder``, or None."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".faceforge-probe-", dir=folder)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    try:
        os.remove(probe)
    except OSError:
        pass
    return None


def _dir_problem(folder: str) -> str | None:
    """Why no file can be written in ``folder`` (which may not exist yet), or None."""
    if os.path.lexists(folder) and not os.path.isdir(folder):
        return f"{folder} is a file, not a folder"
    existing = _existing_ancestor(folder)
    if not os.path.isdir(existing):
        return f"{existing} is a file, not a folder"
    why = _probe_folder(existing)
    if why:
        return f"nothing can be created in {existing} ({why})"
    return None


def check_output_dir(folder: str, what: str = "The output folder") -> str:
    """The absolute folder, when it is (or can be created as) a folder this process can write in;
    a FaceForgeError saying why not, before any work is done.  Creates nothing."""
    folder = os.path.abspath(os.path.expanduser(str(folder)))
    problem = _dir_problem(folder)
    if problem:
        raise FaceForgeError(f"{what} {folder} can't be written: {problem}; choose another place")
    return folder


def check_output(path: str, what: str = "The output file", ext: str | tuple[str, ...] | None = None) -> str:
    """The absolute output path, when a file can be written there; a FaceForgeError otherwise
    (a folder, a path under a file, a read-only place, a wrong extension).  Call it before the
    work starts; creates nothing.  ``what`` starts the message (``"--out"``, ``"The .blend file"``)."""
    if path is None or not str(path).strip():
        raise FaceForgeError(f"{what} is not set: give a file name")
    path = os.path.abspath(os.path.expanduser(str(path)))
    if os.path.isdir(path):
        raise FaceForgeError(f"{what} {path} is a folder: give a file name inside it")
    if ext:
        exts = (ext,) if isinstance(ext, str) else tuple(ext)
        if not path.lower().endswith(tuple(e.lower() for e in exts)):
            raise FaceForgeError(f"{what} {path} should end in {' or '.join(exts)}")
    if os.path.lexists(path) and not os.path.isfile(path):
        raise FaceForgeError(f"{what} {path} exists and is not a regular file")
    if os.path.isfile(path) and not os.access(path, os.W_OK):
        raise FaceForgeError(f"{what} {path} is read-only: choose another name or make it writable")
    problem = _dir_problem(os.path.dirname(path))
    if problem:
        raise FaceForgeError(f"{what} {path} can't be written: {problem}; choose another place")
    return path


# --- writing whole files ------------------------------------------------------------------------

def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def remove_stale(folder: str) -> list[str]:
    """Remove temporary files and folders (:func:`writing`) that processes which no longer run
    left in ``folder``; returns what was removed."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        m = _TMP_RE.match(name)
        if not m or _pid_alive(int(m.group(1))):
            continue
        full = os.path.join(folder, name)
        try:
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full)
            else:
                os.remove(full)
            removed.append(full)
        except OSError:
            pass
    return removed


def _tmp_name(path: str, folder_too: bool = False) -> str:
    base = os.path.basename(path)
    stem, ext = os.path.splitext(base)
    token = f"{os.getpid()}-{os.urandom(4).hex()}"
    return f".{stem}{_TMP_TAG}{token}" + ("" if folder_too else ext)


def _prepare(path: str) -> tuple[str, str]:
    path = os.path.abspath(os.path.expanduser(str(path)))
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise FaceForgeError(f"Can't create the folder {folder}: {exc.strerror or exc}") from None
    if os.path.isdir(path):
        raise FaceForgeError(f"{path} is a folder: give a file name inside it")
    remove_stale(folder)
    return path, folder


def _failed(path: str, exc: OSError) -> FaceForgeFailure:
    return FaceForgeFailure(f"Could not write {path}: {exc.strerror or exc}")


@contextmanager
def writing(path: str):
    """Write one file whole: yields a temporary path beside ``path`` (same extension); when the
    block ends normally and the writer wrote it, it is renamed over ``path``.  On any error (or
    when nothing was written) the temporary file goes and ``path`` is left as it was."""
    path, folder = _prepare(path)
    tmp = os.path.join(folder, _tmp_name(path))
    try:
        yield tmp
        if not os.path.isfile(tmp):
            raise FaceForgeFailure(f"Nothing was written to {path}")
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise _failed(path, exc) from None
    except OSError as exc:
        raise _failed(path, exc) from None
    finally:
        for leftover in (tmp, tmp + "@"):  # "@": Blender's own temporary name for a .blend
            if os.path.lexists(leftover):
                try:
                    os.remove(leftover)
                except OSError:
                    pass


@contextmanager
def writing_files(path: str):
    """Write a main file and its companions whole (a ``.gltf`` with its ``.bin`` and textures, an
    FBX per take): yields a temporary path named like ``path`` in a hidden folder beside it.  When
    the block ends normally every file written there moves into ``path``'s folder, the main file
    last; on any error nothing moves and the folder goes."""
    path, folder = _prepare(path)
    tmp_dir = os.path.join(folder, _tmp_name(path, folder_too=True))
    os.makedirs(tmp_dir)
    try:
        yield os.path.join(tmp_dir, os.path.basename(path))
        main = os.path.basename(path)
        names = sorted(os.listdir(tmp_dir), key=lambda n: n == main)
        if main not in names:
            raise FaceForgeFailure(f"Nothing was written to {path}")
        try:
            for name in names:
                dest = os.path.join(folder, name)
                if os.path.isdir(dest):
                    raise FaceForgeFailure(f"Could not write {dest}: a folder has that name")
                os.replace(os.path.join(tmp_dir, name), dest)
        except OSError as exc:
            raise _failed(path, exc) from None
    except OSError as exc:
        raise _failed(path, exc) from None
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def write_text(path: str, text: str) -> str:
    """Write a small text file whole (:func:`writing`); returns the path."""
    with writing(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    return os.path.abspath(path)


# --- temporary folders ----------------------------------------------------------------------------

@contextmanager
def temp_dir(prefix: str = "faceforge-"):
    """A fresh temporary folder, removed with everything in it however the block ends."""
    path = tempfile.mkdtemp(prefix=prefix)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --- in-place edits -------------------------------------------------------------------------------

@contextmanager
def editing(path: str, wait: float = 600.0, on_wait=None):
    """Hold an exclusive lock on ``path`` (an existing file edited in place: read, changed, saved
    over) for the block, so another FaceForge process editing it waits its turn; a
    FaceForgeFailure after ``wait`` seconds.  ``on_wait(message)`` is told once when it waits.
    The lock is the file's own (no lock file is left behind) and survives its replacement by
    :func:`writing`: a waiter that wakes on the replaced file locks the new one."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; edits run as they come
        yield path
        return
    path = os.path.abspath(path)
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            yield path  # nothing to protect yet
            return
        except OSError as exc:
            raise FaceForgeError(f"Can't open {path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            fh.close()
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                yield path  # the file system has no locks (some network mounts)
                return
            if time.monotonic() > deadline:
                raise FaceForgeFailure(f"{path} is still being changed by another FaceForge process after "
                                       f"{wait:.0f} s: try again when it has finished") from None
            if not told and on_wait is not None:
                on_wait(f"waiting: another FaceForge process is changing {os.path.basename(path)}")
                told = True
            time.sleep(0.1)
            continue
        try:
            same = os.path.exists(path) and os.stat(path).st_ino == os.fstat(fh.fileno()).st_ino
        except OSError:
            same = False
        if not same:  # replaced while we waited: lock the new file
            fh.close()
            continue
        try:
            yield path
        finally:
            fh.close()  # releases the lock
        return
