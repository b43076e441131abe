"""User-facing errors and the exit statuses they map to.

A :class:`FaceForgeError` carries one sentence a user can act on.  Operators
turn it into ``self.report({'ERROR'}, str(err))``; the command line prints it
on one line of stderr and exits with the error's :attr:`exit_status`:

* 2 (:data:`EXIT_BAD_INPUT`) - :class:`FaceForgeError`: the input, the
  arguments or the scene were wrong (a missing file, a number out of range,
  an output path that can't be written, a take longer than the limits);
* 1 (:data:`EXIT_FAILURE`) - :class:`FaceForgeFailure`: the input was fine
  but the work failed (the disk filled up while saving, a batch take or a
  worker process failed).  Anything else escaping a job is a bug, which the
  command line also reports on one line with status 1.

0 (:data:`EXIT_OK`) means done.
"""

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class FaceForgeError(Exception):
    """A problem with the user's input or scene, with an actionable message (exit status 2)."""

    exit_status = EXIT_BAD_INPUT


class FaceForgeFailure(FaceForgeError):
    """The input was fine but the work could not be finished (exit status 1): writing an output
    failed half-way (disk full, the folder vanished), a worker process died."""

    exit_status = EXIT_FAILURE


class Cancelled(Exception):
    """Raised inside a job when the user pressed Esc (or a caller cancelled)."""
