"""The one operator base: poll, errors and reports for plain calls and for jobs.

Every FaceForge operator is ``FaceForgeOperator`` + ``bpy.types.Operator`` and
defines either

* ``run(self, context)``: a quick, plain call (usually one public ``api``
  function); its result goes to :meth:`report_result` (a string is reported
  as it is); or
* ``make_job(self, context)``: a job generator (see ``core/jobs.py``) for long
  work.  In the UI (``invoke``) a window-manager timer steps the generator on
  the main thread; ``Offload`` work runs in a worker thread; progress shows in
  the status bar and in the panels (``window_manager.faceforge.job``); Esc
  cancels: the worker's next ``report`` raises ``Cancelled`` and the generator
  is closed, so its ``finally`` blocks leave the scene as it was.  In
  ``--background``, from scripts, or on redo (``execute``) the same generator
  runs synchronously through ``core.jobs.run_sync``.

``poll`` checks what ``needs`` says (``"MESH"``: a mesh is active, in Object
Mode; ``"OBJECT_MODE"``; ``"IDLE"``: no job running; ``None``: always) and then
:meth:`why_not`, which returns the sentence the tooltip shows when the operator
can't run.  A ``FaceForgeError`` becomes ``self.report({'ERROR'}, message)``.
"""

from __future__ import annotations

import queue
import threading
import time

import bpy

from ..core.errors import Cancelled, FaceForgeError
from ..core.jobs import Offload, Progress, run_sync, scaled_reporter


def job_state(context):
    """What the panels draw while a job runs (``FACEFORGE_PG_job``: window-manager data, not
    saved and not undone)."""
    return context.window_manager.faceforge.job


def active_mesh(context):
    obj = context.active_object
    return obj if obj is not None and obj.type == "MESH" else None


def poll_not_busy(cls, context) -> bool:
    job = job_state(context)
    if job.running:
        cls.poll_message_set(f"FaceForge is busy: {job.label} (press Esc to cancel)")
        return False
    return True


def poll_object_mode(cls, context) -> bool:
    if not poll_not_busy(cls, context):
        return False
    if context.mode != "OBJECT":
        cls.poll_message_set("Switch to Object Mode first")
        return False
    return True


def poll_active_mesh(cls, context) -> bool:
    """True when the active object is a mesh in Object Mode; else says why (tooltip)."""
    if not poll_not_busy(cls, context):
        return False
    obj = context.active_object
    if obj is None:
        cls.poll_message_set("Select the face mesh first (nothing is active)")
        return False
    if obj.type != "MESH":
        cls.poll_message_set(f"'{obj.name}' is a {obj.type.lower()}, not a mesh: select the face mesh")
        return False
    if context.mode != "OBJECT":
        cls.poll_message_set("Switch to Object Mode first")
        return False
    return True


_NEEDS = {"MESH": poll_active_mesh, "OBJECT_MODE": poll_object_mode, "IDLE": poll_not_busy,
          None: lambda cls, context: True}


def _redraw(context):
    wm = context.window_manager
    for window in wm.windows:
        for area in window.screen.areas:
            if area.type in {"VIEW_3D", "STATUSBAR"}:
                area.tag_redraw()


class FaceForgeOperator:
    """Base of every FaceForge operator (see the module docstring)."""

    bl_options = {"REGISTER", "UNDO"}
    needs: str | None = "MESH"
    job_label = "Working"

    # -- to override ---------------------------------------------------------
    @classmethod
    def why_not(cls, context) -> str | None:
        """Why the operator can't run now (the tooltip), or None when it can."""
        return None

    def run(self, context):
        """A plain call; its result is reported by :meth:`report_result`."""
        raise NotImplementedError

    make_job = None  # or a method returning the job generator (usually one public ``api`` function)

    def report_result(self, context, result) -> None:
        """Report a finished call's result (override for a better sentence)."""
        if isinstance(result, str) and result:
            self.report({"INFO"}, result)
        elif self.make_job is not None:
            self.report({"INFO"}, f"{self.job_label}: done")

    # -- poll ------------------------------------------------------------------
    @classmethod
    def poll(cls, context):
        if not _NEEDS[cls.needs](cls, context):
            return False
        reason = cls.why_not(context)
        if reason:
            cls.poll_message_set(reason)
            return False
        return True

    # -- synchronous -----------------------------------------------------------
    def execute(self, context):
        try:
            result = run_sync(self.make_job(context)) if self.make_job is not None else self.run(context)
        except FaceForgeError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        except Cancelled:
            self.report({"WARNING"}, f"{self.job_label}: cancelled, nothing was changed")
            return {"CANCELLED"}
        self.report_result(context, result)
        return {"FINISHED"}

    # -- modal -----------------------------------------------------------------
    def invoke(self, context, event):
        if self.make_job is None or bpy.app.background or context.window is None:
            return self.execute(context)
        try:
            self._job = self.make_job(context)
        except FaceForgeError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        self._send = None
        self._throw = None
        self._thread = None
        self._outcome = None
        self._progress = queue.Queue()
        self._cancel = threading.Event()
        job = job_state(context)
        job.running, job.label, job.fraction, job.message = True, self.job_label, 0.0, "starting"
        wm = context.window_manager
        wm.progress_begin(0, 1000)
        self._timer = wm.event_timer_add(0.05, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def _start_offload(self, item: Offload):
        kwargs = dict(item.kwargs)
        if item.report:
            kwargs["report"] = scaled_reporter(item.span, self._progress.put, self._cancel.is_set)
        box = {}

        def work():
            try:
                box["value"] = item.fn(*item.args, **kwargs)
            except BaseException as exc:  # handed back to the job on the main thread
                box["error"] = exc

        self._outcome = box
        self._thread = threading.Thread(target=work, name="faceforge-job", daemon=True)
        self._thread.start()

    def _show(self, context, p: Progress):
        job = job_state(context)
        job.fraction, job.message = p.fraction, p.message
        context.window_manager.progress_update(int(p.fraction * 1000))
        if context.workspace:
            context.workspace.status_text_set(
                f"FaceForge: {self.job_label} {p.fraction * 100:.0f}% {p.message}  (Esc to cancel)")
        _redraw(context)

    def _end(self, context):
        wm = context.window_manager
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        if context.workspace:
            context.workspace.status_text_set(None)
        job = job_state(context)
        job.running, job.label, job.fraction, job.message = False, "", 0.0, ""
        _redraw(context)

    def modal(self, context, event):
        if event.type == "ESC":
            self._cancel.set()
            if self._thread is not None:
                self._thread.join(timeout=5.0)
            self._job.close()  # runs the job's finally blocks: scene restored
            self._end(context)
            self.report({"WARNING"}, f"{self.job_label}: cancelled, nothing was changed")
            return {"CANCELLED"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        while not self._progress.empty():
            self._show(context, self._progress.get_nowait())
        if self._thread is not None:
            if self._thread.is_alive():
                return {"RUNNING_MODAL"}
            self._thread = None
            if "error" in self._outcome:
                self._throw = self._outcome["error"]
            else:
                self._send = self._outcome.get("value")
        deadline = time.monotonic() + 0.05
        while time.monotonic() < deadline:
            try:
                if self._throw is not None:
                    exc, self._throw = self._throw, None
                    item = self._job.throw(exc)
                else:
                    send, self._send = self._send, None
                    item = self._job.send(send)
            except StopIteration as stop:
                self._end(context)
                self.report_result(context, stop.value)
                return {"FINISHED"}
            except FaceForgeError as err:
                self._end(context)
                self.report({"ERROR"}, str(err))
                return {"CANCELLED"}
            except Cancelled:
                self._end(context)
                self.report({"WARNING"}, f"{self.job_label}: cancelled, nothing was changed")
                return {"CANCELLED"}
            except BaseException:
                self._end(context)
                raise
            if isinstance(item, Progress):
                self._show(context, item)
            elif isinstance(item, Offload):
                self._start_offload(item)
                return {"RUNNING_MODAL"}
            else:
                self._end(context)
                raise TypeError(f"a job yielded {item!r}")
        return {"RUNNING_MODAL"}
