"""FaceForge's headless command line.

The same subcommands run two ways, through the same code:

* ``blender --background --command faceforge <subcommand> ...``
  (registered by ``addon.register`` with ``bpy.utils.register_cli_command``)
* ``./faceforge <subcommand> ...`` - a launcher over the ``bpy`` module
  from PyPI, no Blender binary needed.

Each module in this folder that defines ``add_parser(subparsers)`` adds a
subcommand whose ``func(args) -> int`` does the work.  Exit status: 0 done,
1 something failed, 2 a user error (bad input) with a message on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from ..core.errors import FaceForgeError

# Every subcommand that opens a character file picks its face mesh the same way
# (api.character.find_character).
OBJECT_HELP = ("the face mesh's name in the character file (default: the only mesh with ARKit shape keys, "
               "else the only one with landmarks, else the only mesh)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="faceforge", description="FaceForge facial animation, headless.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "add_parser"):
            module.add_parser(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except FaceForgeError as err:
        print(f"faceforge: error: {err}", file=sys.stderr)
        return 2
