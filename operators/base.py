"""Shared operator machinery: poll helpers and the modal job runner.

``JobOperator`` drives a job generator (see ``core/jobs.py``):

* in the UI (``invoke``): a window-manager timer steps the generator on the
  main thread; ``Offload`` work runs in a worker thread; progress shows in
  the status bar and in the panel (``job_state``); Esc cancels: the worker's
  next ``report`` raises ``Cancelled`` and the generator is closed, so its
  ``finally`` blocks leave the scene as it was.
* in ``--background``, from scripts, or on redo (``execute``): the same
  generator runs synchronously through ``core.jobs.run_sync``.

A ``FaceForgeError`` becomes ``self.report({'ERROR'}, message)``.
"""

from __future__ import annotations

import queue
import threading
import time

import bpy

from ..core.errors import Cancelled, FaceForgeError
from ..core.jobs import Offload, Progress, _scaled_reporter, run_sync

# What the panels draw while a job runs (kept out of Blender data: no undo noise).
job_state = {"running": False, "label": "", "fraction": 0.0, "message": ""}


def active_mesh(context):
    obj = context.active_object
    return obj if obj is not None and obj.type == "MESH" else None


def poll_active_mesh(cls, context) -> bool:
    """True when the active object is a mesh; else says why (tooltip)."""
    if job_state["running"]:
        cls.poll_message_set(f"FaceForge is busy: {job_state['label']} (press Esc to cancel)")
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


def poll_not_busy(cls, context) -> bool:
    if job_state["running"]:
        cls.poll_message_set(f"FaceForge is busy: {job_state['label']} (press Esc to cancel)")
        return False
    return True


def _redraw(context):
    wm = context.window_manager
    for window in wm.windows:
        for area in window.screen.areas:
            if area.type in {"VIEW_3D", "STATUSBAR"}:
                area.tag_redraw()


class JobOperator:
    """Mixin for operators whose work is a job generator."""

    bl_options = {"REGISTER", "UNDO"}
    job_label = "Working"

    # -- to override ---------------------------------------------------------
    def make_job(self, context):
        """Return the job generator (usually one public ``api`` function)."""
        raise NotImplementedError

    def report_result(self, context, result) -> None:
        """Report a finished job's result (override for a better sentence)."""
        self.report({"INFO"}, f"{self.job_label}: done")

    # -- synchronous -----------------------------------------------------------
    def execute(self, context):
        try:
            job = self.make_job(context)
            result = run_sync(job)
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
        if bpy.app.background or context.window is None:
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
        job_state.update(running=True, label=self.job_label, fraction=0.0, message="starting")
        wm = context.window_manager
        wm.progress_begin(0, 1000)
        self._timer = wm.event_timer_add(0.05, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def _start_offload(self, item: Offload):
        kwargs = dict(item.kwargs)
        if item.report:
            kwargs["report"] = _scaled_reporter(item.span, self._progress.put, self._cancel.is_set)
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
        job_state.update(fraction=p.fraction, message=p.message)
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
        job_state.update(running=False, label="", fraction=0.0, message="")
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
