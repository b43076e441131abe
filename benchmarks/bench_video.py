"""Animate from video: throughput, solve time, the issue's check figures, memory.

Prints, for a 512x512 clip and a 1920x1080 clip (made from a GRID clip with ffmpeg in a
temp folder), in one run:

* end-to-end frames/s of ``animate_from_video_job`` (decode, tracking and the face-model
  solve, each in its own thread, then the bake) on the fixture character;
* the face tracker alone on the same clip (frames decoded in their own thread, only the
  time inside ``FaceMeshDetector.detect`` counted, called as the job calls it), MediaPipe's
  legacy Face Mesh alone (the test reference in ``.venv``, when installed; only the time inside
  ``process`` counted, frames decoded, downscaled to 1280 and converted to RGB outside the
  timer) and MediaPipe's pipeline (the same decode thread feeding ``process``, wall time), and
  the end-to-end ratios to each (goal >= 1.0 against MediaPipe alone); ``--repeat`` rounds,
  ours and MediaPipe interleaved, each with the load average, and the CPU time a frame (all
  threads) of the job and of MediaPipe's pipeline (less sensitive to a busy machine);
* the solve: the solver thread's time per frame, and how long the job waited for it after
  the last frame was tracked.

Then ``fit_take`` alone per frame, the check figures on every GRID clip (jawOpen vs the
lip gap, antagonists, popping while still, saturation), peak memory (RSS, fresh
subprocess) of the whole job streaming a long 1080p clip (``--minutes``), and the solve +
bake of a 10-minute take.

    .venv/bin/python benchmarks/bench_video.py [--minutes 10] [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
from common import DATA, ROOT, load, peak_rss_mb, timed  # noqa: E402

GRID = os.path.join(DATA, "video", "grid", "bbaf2n.mpg")


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", *map(str, args)], check=True)


def make_clips(tmp: str, seconds: float) -> dict:
    loops = max(0, int(seconds // 3) - 1)
    out = {}
    out["512"] = os.path.join(tmp, "clip512.mp4")
    ffmpeg("-stream_loop", loops, "-i", GRID, "-vf", "scale=512:-2,pad=512:512:0:(oh-ih)/2", "-c:v", "libx264",
           "-preset", "ultrafast", "-an", out["512"])
    out["1080"] = os.path.join(tmp, "clip1080.mp4")
    ffmpeg("-stream_loop", loops, "-i", GRID, "-vf", "scale=-2:1080,pad=1920:1080:(ow-iw)/2:0", "-c:v", "libx264",
           "-preset", "veryfast", "-an", out["1080"])
    return out


def fixture(ff):
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from pathlib import Path

    import test_video

    return test_video.fixture_character(Path(DATA))


def tracker_alone(clip: str, mediapipe: bool = False) -> tuple[float, int]:
    """Frames/s of a tracker alone on ``clip``, only the time inside its per-frame call counted
    (frames decoded in their own thread, outside the timer).  Ours is fed what the job feeds it
    (full decoded BGR frames, ``detect(bgr, with_score=False)``: no detector on tracked frames);
    ``mediapipe``: MediaPipe's legacy Face Mesh ``process`` on the frames it needs (RGB, longer
    side at most 1280, converted outside the timer)."""
    from faceforge.formats.video import VideoReader
    from faceforge.inference.face_mesh import FaceMeshDetector

    if mediapipe:
        import mediapipe as mp

        det = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=True)
        detect, kw = det.process, {"max_side": 1280}
    else:
        det = FaceMeshDetector(video=True, max_faces=1)
        detect, kw = (lambda img: det.detect(img, with_score=False, bgr=True)), {"bgr": True}
    spent, n = 0.0, 0
    try:
        with VideoReader(clip) as r:
            for _t, _i, img in r.frames(**kw):
                t0 = time.perf_counter()
                detect(img)
                spent += time.perf_counter() - t0
                n += 1
    finally:
        det.close()
    return n / spent, n


def mediapipe_pipeline(clip: str) -> tuple[float, float]:
    """(frames/s wall time, CPU ms a frame) of MediaPipe's legacy Face Mesh fed by the same decode
    thread (``VideoReader.frames(max_side=1280)``: decode, downscale, BGR -> RGB in that thread)."""
    import mediapipe as mp

    from faceforge.formats.video import VideoReader

    det = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=True)
    n = 0
    try:
        t0, c0 = time.perf_counter(), cpu_seconds()
        with VideoReader(clip) as r:
            for _t, _i, rgb in r.frames(max_side=1280):
                det.process(rgb)
                n += 1
        return n / (time.perf_counter() - t0), 1e3 * (cpu_seconds() - c0) / n
    finally:
        det.close()


def cpu_seconds() -> float:
    """CPU time of this process, all threads (user + system)."""
    t = os.times()
    return t.user + t.system


def throughput(ff, clip: str) -> dict:
    """One round, interleaved: the job end to end, our tracker alone, MediaPipe alone (time inside
    ``process`` only) and MediaPipe's pipeline (decode thread + ``process``, wall time)."""
    from faceforge.animation import solve
    from faceforge.api import animate_video, scene
    from faceforge.core.jobs import run_sync

    scene.clear_scene()
    obj = fixture(ff)
    waited = {"finish": 0.0}
    orig_finish = solve.TakeSolver.finish

    def timed_finish(self, *a, **k):
        t0 = time.perf_counter()
        try:
            return orig_finish(self, *a, **k)
        finally:
            waited["finish"] += time.perf_counter() - t0

    load0 = os.getloadavg()[0]
    solve.TakeSolver.finish = timed_finish
    try:
        t0, c0 = time.perf_counter(), cpu_seconds()
        res = run_sync(animate_video.animate_from_video_job(obj, clip, add_reference=False), on_progress=None)
        total, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    finally:
        solve.TakeSolver.finish = orig_finish
    n = res["video_frames"]
    own, _ = tracker_alone(clip)
    try:
        mp_fps, _ = tracker_alone(clip, mediapipe=True)
        mp_pipe, mp_cpu = mediapipe_pipeline(clip)
    except ImportError:
        mp_fps = mp_pipe = mp_cpu = float("nan")
    e2e = n / total
    return {"frames": n, "end_to_end_fps": round(e2e, 1), "tracker_fps": round(own, 1), "ratio": round(e2e / own, 3),
            "mediapipe_fps": round(mp_fps, 1), "ratio_mediapipe": round(e2e / mp_fps, 3),
            "mediapipe_pipeline_fps": round(mp_pipe, 1), "ratio_pipeline": round(e2e / mp_pipe, 3),
            "solve_ms_per_frame": res["solve_ms_per_frame"], "solve_tail_s": round(waited["finish"], 3),
            "cpu_ms": round(1e3 * cpu / n, 2), "mediapipe_pipeline_cpu_ms": round(mp_cpu, 2),
            "total_s": round(total, 2), "load": f"{load0:.2f}-{os.getloadavg()[0]:.2f}"}


def grid_figures() -> dict:
    """The issue's checks on every GRID clip (tracked once each, solved as the job solves them)."""
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import glob

    import video_checks

    from faceforge.animation import solve

    out = {}
    for clip in sorted(glob.glob(os.path.join(DATA, "video", "grid", "*.mpg"))):
        trk = solve.track_file(clip)
        take = solve.solve_take(trk)
        out[os.path.basename(clip)[:-4]] = video_checks.figures(take.weights, trk.points)
    return out


def strips(ff, out_dir: str) -> list[str]:
    """Side-by-side pictures (the actor's frame | two characters posed from the solve) for a smile, an
    "O", a blink, raised brows, a wink and surprise: the actor a rendered face-model head (a seed the
    correction never saw), the characters the photo head (``api.photo_face``: a face-model head
    built from a photo, its 52 keys from the model) and the ICT head re-meshed (decimated: other
    vertices, other triangles) and rigged by the rig stage (:func:`remeshed_ict`)."""
    import cv2

    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import rig_fixtures
    from solve_training import POSES, render_take

    from faceforge.animation import solve
    from faceforge.api import binding, scene
    from faceforge.api.render import render_view
    from faceforge.core.arkit import ARKIT_NAMES, INDEX
    from faceforge.facemodel import load_model
    from faceforge.inference.views import face_sphere

    model = load_model()
    scene.clear_scene()
    events = [("rest", {}), ("smile", POSES["broad_smile"]), ("O", POSES["o"]), ("blink", POSES["blink"]),
              ("brows up", POSES["brows_up"]), ("wink (left)", POSES["wink_left"]), ("surprise", POSES["surprise"]),
              ("talk: ah", {"jawOpen": 0.4, "mouthLowerDownLeft": 0.2, "mouthLowerDownRight": 0.2})]
    w, peaks = [], []
    for name, pose_ in events:
        for k in range(8):
            row = np.zeros(52)
            amt = [0.3, 0.7, 1, 1, 1, 0.7, 0.3, 0][k] if pose_ else 0.0
            for n, v in pose_.items():
                row[INDEX[n]] = v * amt
            w.append(row)
        peaks.append((name, len(w) - 5))
    w = np.array(w)
    f = len(w)
    t = np.arange(f)
    angles = np.stack([8 * np.sin(t / 20.0), 3 * np.sin(t / 13.0), 2 * np.sin(t / 17.0)], axis=1)
    look = {"studio_light": "studio.sl", "rotate_z": 0.5, "shadows": True, "cavity": False, "skin": [0.72, 0.52, 0.42],
            "brows": [0.1, 0.07, 0.05], "lips": [0.6, 0.37, 0.3], "background": [0.25] * 3, "lens_mm": 50.0,
            "zoom": 1.3, "resolution": 512, "noise": 2.0, "blur": 0.6, "seed": 3}
    tk = render_take(model, model.random_identity(np.random.default_rng(1001)), w, angles, look, keep_images=f)
    trk = solve.Track(t / 25.0, t, tk["points"], (512, 512), 25.0, "actor")
    take = solve.solve_take(trk)
    heads = {"photo head": photo_head(tempfile.mkdtemp(prefix="ff_strips_")),
             "ICT head re-meshed, rig stage": remeshed_ict(rig_fixtures)}
    for obj in heads.values():
        obj.location = (0.0, 0.0, 0.0)
    rows = []
    for label, fr in peaks:
        cells = [cv2.resize(tk["images"][fr], (320, 320))]
        for obj in heads.values():
            kbs = obj.data.shape_keys.key_blocks
            for n in ARKIT_NAMES:
                if n in kbs:
                    kbs[n].value = float(take.weights[fr, INDEX[n]])
            bpy_update()
            lm = binding.landmark_positions(obj, world=True)
            centre, radius = face_sphere(lm[:468])
            img, _ = render_view([obj], centre, (0, 1, 0), (0, 0, 1), radius, resolution=320)
            cells.append(img)
        row = np.concatenate(cells, axis=1)
        top = ", ".join(f"{ARKIT_NAMES[i]} {take.weights[fr, i]:.2f}" for i in np.argsort(-take.weights[fr])[:3]
                        if take.weights[fr, i] > 0.05) or "rest"
        cv2.putText(row, f"{label}: {top}", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        rows.append(row)
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for i in range(0, len(rows), 4):
        path = os.path.join(out_dir, f"strips_{i // 4}.png")
        cv2.imwrite(path, cv2.cvtColor(np.concatenate(rows[i:i + 4], axis=0), cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths


def photo_head(tmp: str):
    """The photo head of a stock photo (scikit-image's astronaut), at rest (its photo's Action unassigned)."""
    import bpy
    import cv2
    from skimage import data as skdata

    from faceforge.api import photo_face

    path = os.path.join(tmp, "astronaut.png")
    cv2.imwrite(path, cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR))
    return bpy.data.objects[photo_face.face_from_photo(path, name="PhotoHead")["object"]]


def remeshed_ict(rig_fixtures, ratio: float = 0.35):
    """The ICT head decimated to ``ratio`` of its faces (a new mesh: nothing shared with the face
    model's vertex order), its landmarks bound again to the nearest surface, the rig stage's 52 keys."""
    import bpy

    from faceforge.api import binding, mesh
    from faceforge.api.shape_keys import generate_shape_keys_job
    from faceforge.core.jobs import run_sync
    from faceforge.rigging.binding import Binding, closest_on_triangles, mesh_parts
    from pathlib import Path

    ict = rig_fixtures.import_ict(Path(DATA))
    lm = binding.landmark_positions(ict)
    mod = ict.modifiers.new("remesh", "DECIMATE")
    mod.ratio = ratio
    deps = bpy.context.evaluated_depsgraph_get()
    me = bpy.data.meshes.new_from_object(ict.evaluated_get(deps))
    obj = bpy.data.objects.new("ICT re-meshed", me)
    obj.matrix_world = ict.matrix_world
    bpy.context.scene.collection.objects.link(obj)
    bpy.data.objects.remove(ict)
    arr = mesh.mesh_arrays(obj)
    skin = mesh_parts(arr.verts, arr.tris).skin_mask()
    tri = np.empty(len(lm), int)
    bary = np.empty((len(lm), 3))
    tri[:468], bary[:468] = closest_on_triangles(lm[:468], arr.verts, arr.tris, np.flatnonzero(skin))
    tri[468:], bary[468:] = closest_on_triangles(lm[468:], arr.verts, arr.tris, np.flatnonzero(~skin))
    binding.write_binding(obj, Binding(arr.tris[tri].astype(np.int32), bary, np.ones(len(lm))), source="MANUAL")
    run_sync(generate_shape_keys_job(obj), on_progress=None)
    rig_fixtures.paint_eyes(obj)
    return obj


def bpy_update():
    import bpy

    bpy.context.view_layer.update()


def memory_child(args) -> None:
    """Run in a fresh process: the whole job on a long clip, or the solve+bake of a long take."""
    ff = load()
    from faceforge.api import animate_video
    from faceforge.core.jobs import run_sync

    obj = fixture(ff)
    base = peak_rss_mb()
    t0 = time.perf_counter()
    if args.child == "job":
        res = run_sync(animate_video.animate_from_video_job(obj, args.clip, add_reference=False), on_progress=None)
        frames = res["video_frames"]
    else:  # solve + bake of a long take from tiled real landmarks
        import numpy as np

        from faceforge.animation import solve

        trk = solve.track_file(args.clip)
        reps = int(np.ceil(args.frames / len(trk.times)))
        pts = np.tile(trk.points, (reps, 1, 1))[:args.frames]
        times = np.arange(args.frames) / 25.0
        long = solve.Track(times, np.arange(args.frames), pts, trk.image_size, 25.0, "long")
        del trk, pts
        take = solve.solve_take(long)
        animate_video.bake_take(obj, take, animate_video.face_axes(obj)[0])
        frames = args.frames
    print(json.dumps({"frames": frames, "seconds": round(time.perf_counter() - t0, 1),
                      "peak_rss_mb": round(peak_rss_mb(), 1), "baseline_rss_mb": round(base, 1)}))


def child(kind: str, **kw) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", kind]
    for k, v in kw.items():
        cmd += [f"--{k}", str(v)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0, help="length of the throughput clips")
    ap.add_argument("--minutes", type=float, default=1.0, help="length of the long 1080p clip for memory")
    ap.add_argument("--child")
    ap.add_argument("--clip")
    ap.add_argument("--frames", type=int, default=15000)
    ap.add_argument("--repeat", type=int, default=2, help="throughput rounds (each interleaves ours and MediaPipe)")
    ap.add_argument("--only", choices=("solve", "grid", "strips", "throughput", "memory"), action="append",
                    help="run only these parts (repeatable; default: all)")
    ap.add_argument("--strips-dir", default=os.path.join(ROOT, "out", "bench_video"))
    args = ap.parse_args()
    parts = set(args.only or ("solve", "grid", "strips", "throughput", "memory"))
    if args.child:
        return memory_child(args)
    ff = load()
    from faceforge.animation import solve

    from faceforge.facemodel import load_model
    from faceforge.facemodel.fit import IMAGE_DEPTH_WEIGHT
    from faceforge.facemodel.sequence import fit_take

    model = load_model()
    trk = solve.track_file(GRID)
    take = solve.solve_take(trk)
    pts = np.tile(trk.points, (4, 1, 1)).astype(np.float64)
    cam = solve.default_camera(trk.image_size)
    for chunk in ((solve.CHUNK, len(pts)) if "solve" in parts else ()):
        t0 = time.perf_counter()
        for c0 in range(0, len(pts), chunk):
            fit_take(model, pts[c0:c0 + chunk], identity=take.identity, depth_weight=IMAGE_DEPTH_WEIGHT, camera=cam,
                     smooth=solve.temporal_prior(0.5), **solve.fit_settings(model))
        dt = time.perf_counter() - t0
        print(f"fit_take alone, {len(pts)} frames in chunks of {chunk}: {1e3 * dt / len(pts):.2f} ms a frame", flush=True)
    figs = grid_figures() if "grid" in parts else {}
    for name, f in figs.items():
        print(f"GRID {name}: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                           for k, v in f.items()), flush=True)
    vals = {k: [f[k] for f in figs.values()] for k in ("jaw_gap_r", "antagonists", "still_jump_rate", "saturated")}
    if figs:
        print("GRID, all clips (min / mean / max): " + "; ".join(
        f"{k} {min(v):.3f} / {np.mean(v):.3f} / {max(v):.3f}" for k, v in vals.items())
            + f"; still-frame jumps {sum(f['still_jumps'] for f in figs.values())} in "
              f"{sum(f['still_frames'] for f in figs.values())} still frames", flush=True)
    if "strips" in parts:
        for path in strips(ff, args.strips_dir):
            print(f"side-by-side strips (actor | photo head | ICT head re-meshed): {path}", flush=True)
    if not parts & {"throughput", "memory"}:
        ff.unregister()
        return
    with tempfile.TemporaryDirectory(prefix="ff-bench-video-") as tmp:
        clips = make_clips(tmp, args.seconds)
        from faceforge.inference import face_mesh

        face_mesh.FaceMeshDetector(video=True, max_faces=1).close()  # import onnxruntime once
        for rep in range(args.repeat if "throughput" in parts else 0):
            for name in ("512", "1080"):
                r = throughput(ff, clips[name])
                print(f"{name}p clip, round {rep + 1} (load average {r['load']} on {os.cpu_count()} cores): "
                      f"{r['frames']} frames, end-to-end {r['end_to_end_fps']} fps ({r['total_s']} s); our tracker "
                      f"alone {r['tracker_fps']} fps -> ratio {r['ratio']:.2f}; MediaPipe alone (time inside process "
                      f"only) {r['mediapipe_fps']} fps -> ratio {r['ratio_mediapipe']:.2f}; MediaPipe pipeline (the "
                      f"same decode thread + process, wall time) {r['mediapipe_pipeline_fps']} fps -> ratio "
                      f"{r['ratio_pipeline']:.2f}; CPU (all threads, less sensitive to the load) {r['cpu_ms']} ms "
                      f"a frame end to end, {r['mediapipe_pipeline_cpu_ms']} ms MediaPipe pipeline; solve "
                      f"{r['solve_ms_per_frame']} ms a frame in its thread, {r['solve_tail_s']} s after the last frame",
                      flush=True)
        if "memory" in parts:
            long = os.path.join(tmp, "long1080.mp4")
            loops = max(0, int(round(args.minutes * 60 / args.seconds)) - 1)
            ffmpeg("-stream_loop", loops, "-i", clips["1080"], "-c", "copy", long)
            r = child("job", clip=long)
            print(f"whole job streaming a {args.minutes:g}-minute 1080p clip ({r['frames']} frames, {r['seconds']} s): "
                  f"peak RSS {r['peak_rss_mb']} MB (FaceForge+Blender loaded: {r['baseline_rss_mb']} MB)", flush=True)
            r = child("take", clip=clips["512"], frames=15000)
            print(f"solve + bake of a 10-minute take (15000 frames at 25 fps): {r['seconds']} s, peak RSS "
                  f"{r['peak_rss_mb']} MB (FaceForge+Blender loaded: {r['baseline_rss_mb']} MB)", flush=True)
    ff.unregister()


if __name__ == "__main__":
    main()
