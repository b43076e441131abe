"""Jobs: long work that never freezes Blender, and runs the same headless.

A *job* is a generator.  It runs its Blender-touching steps itself (on the
main thread) and hands pure, heavy work to the runner by yielding
:class:`Offload`; it reports progress by yielding :class:`Progress`; its
``return`` value is the job's result.  Two runners drive the same generator:

* :func:`run_sync` - a plain loop (``--background``, the command line,
  scripts, tests);
* ``operators.base.FaceForgeOperator`` - a modal timer in the UI: offloaded work
  runs in a worker thread, the panel shows a progress bar, and Esc closes the
  generator so its ``finally`` blocks restore the scene as it was.

Offloaded functions must not touch ``bpy``.  With ``Offload(..., report=True)``
the runner passes ``report=callable(fraction, message)``; calling it raises
:class:`~core.errors.Cancelled` once the user has cancelled, so long pure
loops stop promptly.

Convention: a job applies its changes to Blender data only at the end (or
undoes them in ``finally`` when closed early), so a cancelled or failed run
leaves the scene untouched.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Generator

from .errors import Cancelled


@dataclass
class Progress:
    fraction: float  # 0..1 of the whole job
    message: str = ""


@dataclass
class Offload:
    fn: Callable[..., Any]
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    report: bool = False  # pass report=callable(fraction, message) to fn
    span: tuple[float, float] = (0.0, 1.0)  # where fn's 0..1 falls in the job's progress


Job = Generator[Any, Any, Any]


def sub_report(report, lo: float, hi: float):
    """The ``report(fraction, message)`` for one step of a longer piece of work: the step's 0..1
    mapped into ``lo..hi`` of ``report``'s (None stays None)."""
    if report is None:
        return None
    return lambda fraction, message="": report(lo + (hi - lo) * fraction, message)


def scaled_reporter(span, sink, cancelled: Callable[[], bool]):
    """The ``report(fraction, message)`` an offloaded function gets: maps its 0..1 into ``span`` of
    the job, passes :class:`Progress` to ``sink``, raises Cancelled once ``cancelled()``."""
    lo, hi = span

    def report(fraction: float, message: str = "") -> None:
        if cancelled():
            raise Cancelled("cancelled by the user")
        sink(Progress(lo + (hi - lo) * max(0.0, min(1.0, fraction)), message))

    return report


class ProgressPrinter:
    """The headless progress sink: one line on stderr per new message, else at most ~4 a second."""

    def __init__(self, interval: float = 0.25):
        self.interval = interval
        self.last_time = 0.0
        self.last_message: str | None = None

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if p.message != self.last_message or now - self.last_time > self.interval or p.fraction >= 1.0:
            self.last_time, self.last_message = now, p.message
            print(f"[faceforge] {p.fraction * 100:5.1f}%  {p.message}", file=sys.stderr, flush=True)


PRINT = "print"  # run_sync's default: a fresh ProgressPrinter for each run


def run_sync(job: Job, on_progress: Callable[[Progress], None] | None | str = PRINT,
             cancelled: Callable[[], bool] = lambda: False) -> Any:
    """Drive a job to completion on this thread and return its result.

    ``on_progress``: called with each :class:`Progress`; None for silence; by default
    progress lines go to stderr (:class:`ProgressPrinter`)."""
    if on_progress == PRINT:
        on_progress = ProgressPrinter()
    sink = on_progress or (lambda p: None)
    send: Any = None
    throw: BaseException | None = None
    while True:
        try:
            item = job.throw(throw) if throw is not None else job.send(send)
        except StopIteration as stop:
            return stop.value
        send, throw = None, None
        if isinstance(item, Progress):
            sink(item)
        elif isinstance(item, Offload):
            kwargs = dict(item.kwargs)
            if item.report:
                kwargs["report"] = scaled_reporter(item.span, sink, cancelled)
            try:
                send = item.fn(*item.args, **kwargs)
            except Exception as exc:  # hand it to the job so its finally/except runs
                throw = exc
        else:
            raise TypeError(f"a job yielded {item!r}; expected Progress or Offload")


def scaled(job: Job, lo: float, hi: float) -> Job:
    """Run a sub-job inside a job (``yield from scaled(sub, lo, hi)``), mapping its
    progress - and its offloaded work's progress - into [lo, hi] of the outer job.
    Errors from offloaded work are thrown into the sub-job, as the runners do."""
    send: Any = None
    throw: BaseException | None = None
    while True:
        try:
            item = job.throw(throw) if throw is not None else job.send(send)
        except StopIteration as stop:
            return stop.value
        send, throw = None, None
        if isinstance(item, Progress):
            yield Progress(lo + (hi - lo) * item.fraction, item.message)
        elif isinstance(item, Offload):
            a, b = item.span
            try:
                send = yield Offload(item.fn, item.args, item.kwargs, item.report,
                                     (lo + (hi - lo) * a, lo + (hi - lo) * b))
            except Exception as exc:
                throw = exc
        else:
            send = yield item
