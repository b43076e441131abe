"""Headless batch: many takes against one character, in parallel processes.

:func:`run_batch` (the parent; its process pool is ``core/batch.py``) starts
one fresh worker process per take, at most ``plan.jobs`` at a time: the
``./faceforge`` launcher over the bpy module, or ``blender --background
--command faceforge`` when a Blender binary is given (the extension must be
installed there).  Each worker runs
:func:`run_take`: open the character .blend, animate the take with the stage
for its kind (:data:`TAKE_STAGES`), export FBX/glb, render a preview, and
write ``<out>/<take>/report.json`` - also when it fails.  One broken take
never stops the others; ``<out>/batch_report.json`` sums up and the exit
status is 0 only when every take succeeded.

A stage is ``fn(obj, take_path, spec) -> job generator`` whose result is a
dict with at least ``action`` (the baked Action's name) and optionally
``frames``, ``faces_found``, ``solve_residuals``, ``warnings``.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from types import MappingProxyType
from typing import Callable, Mapping

from ..core import batch as pool
from ..core import limits, paths
from ..core.batch import write_json
from ..core.errors import FaceForgeError
from ..core.jobs import scaled
from ..formats.jobfile import BatchPlan, TakeSpec
from .character import find_character
from .scene import open_blend, scene_fps


# --- stages (by take kind) --------------------------------------------------------------

def _livelink_stage(obj, path, spec):
    from .livelink import import_livelink_job

    result = yield from import_livelink_job(obj, path, start_frame=1, action_name=spec.name)
    return {"action": result.action, "frames": result.frames, "source_fps": result.source_fps,
            "source_rows": result.source_rows, "warnings": result.warnings}


def _video_stage(obj, path, spec):
    from .animate_video import animate_from_video_job

    result = yield from animate_from_video_job(obj, path, add_reference=False, action_name=spec.name)
    residual = result.get("residual")
    return {**result, "solve_residuals": residual}


def _image_stage(obj, path, spec):
    import bpy

    from .actions import bake_shape_keys
    from .animate_video import animate_from_image_job

    result = yield from animate_from_image_job(obj, path, key=False)
    names = list(result["weights"])
    action = bake_shape_keys(obj, names, [1], [[result["weights"][n] for n in names]], spec.name)
    bpy.context.scene.frame_start = bpy.context.scene.frame_end = 1
    return {"action": action.name, "frames": 1, "solve_residuals": result.get("residual_iod")}


def _speech_stage(obj, path, spec):
    import bpy

    from .lipsync import lipsync_job

    result = yield from lipsync_job(obj, path, add_sound=False)
    # The take is named after the take (its files and the glTF clip carry this name), not the object.
    action = bpy.data.actions.get(result["action"])
    if action is not None and action.name != spec.name:
        action.name = spec.name
        result = dict(result, action=action.name)
    return result


def _text_stage(obj, path, spec):
    from .expressions import read_timeline_file, timeline_job

    result = yield from timeline_job(obj, read_timeline_file(path), action_name=spec.name)
    return result


# kind -> fn(obj, path, TakeSpec) -> job returning a dict (see the module docstring).
TAKE_STAGES: Mapping[str, Callable] = MappingProxyType({
    "livelink": _livelink_stage,
    "video": _video_stage,
    "image": _image_stage,
    "speech": _speech_stage,
    "text": _text_stage,
})


# --- the worker: one take ---------------------------------------------------------------

def run_take(plan: BatchPlan, take: TakeSpec) -> dict:
    """Animate, export and preview one take in this process; writes and returns its report."""
    import bpy

    from ..core.jobs import run_sync

    out_dir = paths.inside(plan.out, take.name)  # never outside the batch's folder
    os.makedirs(out_dir, exist_ok=True)
    report = {"take": take.name, "source": take.path, "kind": take.kind, "status": "failed", "error": "",
              "character": plan.character, "object": plan.object, "frames": 0, "fps": None,
              "faces_found": None, "solve_residuals": None, "outputs": {}, "timings": {},
              "warnings": [], "pid": os.getpid()}
    timings = report["timings"]
    t_all = time.perf_counter()
    try:
        t = time.perf_counter()
        open_blend(plan.character)  # its scripts never run (use_scripts=False)
        obj = find_character(plan.object, "the character file")
        report["object"] = obj.name
        report["fps"] = scene_fps()
        timings["load"] = time.perf_counter() - t

        t = time.perf_counter()
        stage = TAKE_STAGES.get(take.kind)
        if stage is None:
            raise FaceForgeError(f"No stage animates '{take.kind}' takes")
        result = run_sync(stage(obj, take.path, take), on_progress=None) or {}
        action = bpy.data.actions.get(result.get("action", ""))
        if action is None:
            raise FaceForgeError(f"The {take.kind} stage baked no action for {take.name}")
        from .actions import assign_action

        assign_action(obj.data.shape_keys, action)
        for key in ("frames", "faces_found", "solve_residuals"):
            if result.get(key) is not None:
                report[key] = result[key]
        if isinstance(report["frames"], (list, tuple)) and len(report["frames"]) == 2:  # (first, last)
            report["frames"] = int(report["frames"][1]) - int(report["frames"][0]) + 1
        report["stage"] = {k: v for k, v in result.items() if k not in ("warnings",)}
        report["warnings"] += list(result.get("warnings", []))
        timings["animate"] = time.perf_counter() - t

        delivered = run_sync(deliver_job(obj, out_dir, take.name, plan.formats, plan.preset, action,
                                         preview=plan.preview, preview_size=plan.preview_size,
                                         side_by_side=take.path if take.kind in ("video", "speech") else None),
                             on_progress=None)
        report["outputs"] = delivered["outputs"]
        report["warnings"] += delivered["warnings"]
        timings.update(delivered["timings"])
        if "preview_engine" in delivered:
            report["preview_engine"] = delivered["preview_engine"]
        report["status"] = "ok"
    except FaceForgeError as err:
        report["error"] = str(err)
    except Exception as exc:  # a bug, but still this take's own failure
        report["error"] = f"internal error: {type(exc).__name__}: {exc}"
        report["traceback"] = traceback.format_exc()
    timings["total"] = time.perf_counter() - t_all
    write_json(os.path.join(out_dir, "report.json"), report)
    return report


def deliver_job(obj, out_dir: str, name: str, formats=("fbx", "glb"), preset: str = "default", take=None,
                preview: bool = True, preview_size: int = 256, side_by_side=None):
    """Job: write ``<out_dir>/<name>.<fmt>`` for each format (+ ``<name>_preview.mp4``) of one take.

    The one call the main pipeline and the batch make after animating:
    returns ``{"outputs": {fmt: [paths], "preview": [path]}, "timings": {...}, "warnings": [...]}``.
    ``take``: an Action (default: the current one) - only that take is exported.
    """
    from . import export, preview as _preview

    key = obj.data.shape_keys
    if take is None and key is not None and key.animation_data is not None:
        take = key.animation_data.action
    takes = [take.name] if take is not None else "ACTIVE"
    out = {"outputs": {}, "timings": {}, "warnings": []}
    os.makedirs(out_dir, exist_ok=True)
    steps = len(formats) + (1 if preview else 0)
    for i, fmt in enumerate(formats):
        t = time.perf_counter()
        # the extension is given: a name with a dot ("take.v2") must not lose its end to with_suffix
        target = os.path.join(out_dir, f"{name}.{fmt.lower()}")
        res = yield from scaled(export.export_job(obj, target, fmt.upper(), preset.upper(), takes=takes),
                                i / steps, (i + 1) / steps)
        out["outputs"][fmt.lower()] = [str(p) for p in res.files]
        out["warnings"] += res.warnings
        out["timings"][f"export_{fmt.lower()}"] = time.perf_counter() - t
    if preview and take is not None:
        t = time.perf_counter()
        res = yield from scaled(_preview.render_preview_job(obj, os.path.join(out_dir, f"{name}_preview.mp4"),
                                                             side_by_side=side_by_side, take=take,
                                                             size=preview_size), (steps - 1) / steps, 1.0)
        out["outputs"]["preview"] = [str(res.path)]
        out["preview_engine"] = res.engine
        out["warnings"] += res.warnings
        out["timings"]["preview"] = time.perf_counter() - t
    return out


def read_spec(spec_path: str) -> tuple[BatchPlan, TakeSpec]:
    """A worker's spec file (written by the parent) -> (plan, take); FaceForgeError for a missing,
    unreadable or malformed one."""
    name = os.path.basename(str(spec_path))
    try:
        with open(spec_path, "rb") as fh:
            spec = json.loads(fh.read().decode("utf-8"))
    except FileNotFoundError:
        raise FaceForgeError(f"Batch take spec not found: {spec_path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise FaceForgeError(f"Can't read the batch take spec {name} (it is written by 'faceforge batch'): "
                             f"{getattr(exc, 'strerror', None) or exc}") from None
    try:
        plan = BatchPlan(**{**spec["plan"], "takes": []})
        take = TakeSpec(**spec["take"])
    except (TypeError, KeyError) as exc:
        raise FaceForgeError(f"The batch take spec {name} is not one 'faceforge batch' wrote ({exc})") from None
    if not all(isinstance(v, str) for v in (plan.out, plan.character, take.name, take.path, take.kind)):
        raise FaceForgeError(f"The batch take spec {name} is not one 'faceforge batch' wrote")
    return plan, take


def run_worker(spec_path: str) -> int:
    """Entry of a worker process (``faceforge batch-take --spec FILE``): exit 0 ok, 1 failed,
    2 a spec it can't read.  The plan's limits apply (``core/limits.py``)."""
    plan, take = read_spec(spec_path)
    with limits.using(**(plan.limits or {})):
        report = run_take(plan, take)
    return 0 if report["status"] == "ok" else 1




# --- the parent: many takes, several processes (core/batch.py) -------------------------

def run_batch(plan: BatchPlan, blender: str | None = None, on_event: Callable[[str], None] = print,
              timeout: float | None = None, ray=None, auto_jobs: bool = False) -> dict:
    """Run every take of ``plan`` in worker processes (``blender``: a Blender binary with the
    extension installed, else this Python with the bpy module); returns (and writes) the
    batch report (see :func:`core.batch.run_batch`).  ``ray``: a ``core.batch_ray.RayOptions`` to
    run each take as a Ray task instead of a local process (``auto_jobs``: as many at once as the
    cluster holds); the same command, reports and summary."""
    import bpy

    cmd = pool.worker_command(blender, module=bool(getattr(bpy.app, "module", True)),
                              binary=bpy.app.binary_path)
    if ray is not None:
        from ..core import batch_ray

        return batch_ray.run_batch(plan, cmd, ray, on_event=on_event, timeout=timeout, auto_jobs=auto_jobs)
    return pool.run_batch(plan, cmd, on_event=on_event, timeout=timeout)
