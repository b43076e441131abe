"""FaceForge's headless command line.

The same subcommands run two ways, through the same code:

* ``blender --background --command faceforge <subcommand> ...``
  (registered by ``addon.register`` with ``bpy.utils.register_cli_command``)
* ``./faceforge <subcommand> ...`` - a launcher over the ``bpy`` module
  from PyPI, no Blender binary needed.

Each module in this folder that defines ``add_parser(subparsers)`` adds a
subcommand whose ``func(args) -> int`` does the work.

Exit status (``core/errors.py``): 0 done; 1 something failed (the input was
fine: a take failed, writing failed half-way, a bug); 2 the input was bad
(arguments, files, numbers out of range, an output that can't be written).
Every error is one line on stderr, ``faceforge <command>: error: ...``,
never a traceback (``FACEFORGE_DEBUG=1`` adds it for bugs).  Numbers are
read with the ranges of ``core/params.py``; outputs are checked before the
work starts (``cli/common.py``); temporary files go on every exit path,
SIGTERM included; ``--max-seconds`` / ``--max-frames`` raise the take limits
(``core/limits.py``) for one run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import signal
import sys
import threading
import traceback
from contextlib import contextmanager

from ..core import limits, params
from ..core.errors import EXIT_BAD_INPUT, EXIT_FAILURE, FaceForgeError

# Every subcommand that opens a character file picks its face mesh the same way
# (api.character.find_character).
OBJECT_HELP = ("the face mesh's name in the character file (default: the only mesh with ARKit shape keys, "
               "else the only one with landmarks, else the only mesh)")


class _ParserExit(Exception):
    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit status 2) that return from :func:`main` instead of
    ending the process (Blender's ``--command`` and in-process callers keep running)."""

    def error(self, message):
        print(f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)", file=sys.stderr)
        raise _ParserExit(EXIT_BAD_INPUT)

    def exit(self, status=0, message=None):
        if message:
            print(one_line(message), file=sys.stderr)
        raise _ParserExit(status)


def one_line(text) -> str:
    return " ".join(str(text).split())


def _add_limits(p):
    g = p.add_argument_group("limits")
    params.argument(g, "--max-seconds", "limit.seconds", default=None,
                    help=f"the longest take to bake or render, in seconds (default {limits.current().seconds:g})")
    params.argument(g, "--max-frames", "limit.frames", default=None,
                    help=f"the most frames in one take (default {limits.current().frames:,})")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="faceforge", description="FaceForge facial animation, headless.",
                    epilog="Exit status: 0 done, 1 failed, 2 bad input (one line on stderr says what to change).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "add_parser"):
            module.add_parser(sub)
    for name, p in sub.choices.items():
        if name != "batch-take":
            _add_limits(p)
    return parser


@contextmanager
def _terminate_cleanly():
    """SIGTERM (``kill``, a batch timeout) ends the run through the normal exit path, so every
    ``finally`` removes its temporary files; the previous handler comes back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, _frame):
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except (ValueError, OSError):  # not allowed here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv=None) -> int:
    """Run one subcommand; returns its exit status (0 done, 1 failed, 2 bad input)."""
    parser = build_parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    except _ParserExit as stop:
        return stop.status
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    prog = f"faceforge {args.command}"
    try:
        with _terminate_cleanly(), limits.using(getattr(args, "max_seconds", None),
                                                getattr(args, "max_frames", None)):
            return int(args.func(args) or 0)
    except FaceForgeError as err:
        print(f"{prog}: error: {one_line(err)}", file=sys.stderr)
        return err.exit_status
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; nothing was saved", file=sys.stderr)
        return 130
    except SystemExit as stop:  # SIGTERM (see _terminate_cleanly)
        code = stop.code if isinstance(stop.code, int) else EXIT_FAILURE
        print(f"{prog}: stopped (signal); nothing was saved", file=sys.stderr)
        return code
    except MemoryError:
        print(f"{prog}: error: out of memory; try a shorter take or smaller sizes", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:  # a bug: still one line (and the traceback on request)
        if os.environ.get("FACEFORGE_DEBUG"):
            traceback.print_exc()
        print(f"{prog}: internal error: {type(exc).__name__}: {one_line(exc)} (this is a bug in FaceForge; "
              "FACEFORGE_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_FAILURE
