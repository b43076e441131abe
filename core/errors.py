"""User-facing errors.

A :class:`FaceForgeError` carries a sentence a user can act on.  Operators
turn it into ``self.report({'ERROR'}, str(err))``; the command line prints it
and exits with status 2.  Anything else escaping a job is a bug.
"""


class FaceForgeError(Exception):
    """A problem with the user's input or scene, with an actionable message."""


class Cancelled(Exception):
    """Raised inside a job when the user pressed Esc (or a caller cancelled)."""
