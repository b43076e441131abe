"""FaceForge's tracker (MediaPipe's models on onnxruntime) against mediapipe 0.10.21.

Prints, on the same frames in one run (CPU):

* agreement with ``mp.solutions.face_mesh(refine_landmarks=True)``: frames where
  the two find a different number of faces, mean landmark difference in % of the
  inter-ocular distance (goal <= 0.5 %) - the astronaut photo, renders of the ICT
  head from five directions, every GRID clip in tracking mode and as stills;
* speed: frames/s of both on the same GRID clips in tracking mode, and on a
  512x512 upscale of them (goal >= 1.0x), with the tracker on 1 and 2 intra-op
  threads; model load times;
* the extension zips' sizes when ``dist/`` holds them (``make extension``).

    .venv/bin/python benchmarks/bench_tracker.py [--clips N]
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(os.path.dirname(ROOT), "shared", "data")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "tests"))


def iod(p):
    return float(np.linalg.norm((p[263, :2] + p[362, :2]) / 2 - (p[33, :2] + p[133, :2]) / 2))


def agreement(frames, video: bool) -> tuple[int, int, list[float]]:
    """(frames, frames with a different face count, per-frame mean difference % IOD)."""
    import mediapipe as mp

    from faceforge.inference.face_tracker import FaceTracker

    ours = FaceTracker(video=video, max_faces=1)
    ref = mp.solutions.face_mesh.FaceMesh(static_image_mode=not video, max_num_faces=1, refine_landmarks=True)
    diffs, mismatched = [], 0
    for rgb in frames:
        h, w = rgb.shape[:2]
        a = ours.process(rgb)
        r = ref.process(rgb).multi_face_landmarks or []
        if len(a) != len(r):
            mismatched += 1
        elif a:
            rp = np.array([(p.x * w, p.y * h, p.z * w) for p in r[0].landmark])
            diffs.append(float(np.linalg.norm(a[0].points[:, :2] - rp[:, :2], axis=1).mean() / iod(rp) * 100))
    ref.close()
    return len(frames), mismatched, diffs


def report(label, n, mismatched, diffs):
    print(f"{label:34s} {n:5d} frames, different faces found on {mismatched}, mean difference "
          f"{np.mean(diffs):.4f} % IOD (worst frame {np.max(diffs):.4f} %)", flush=True)


def clip_frames(path, side=None):
    import cv2

    from faceforge.formats.video import VideoReader

    frames = [rgb for _t, _i, rgb in VideoReader(path).frames()]
    if side:
        frames = [cv2.resize(f, (side, side), interpolation=cv2.INTER_LINEAR) for f in frames]
    return frames


def ict_renders():
    import pathlib

    from faceforge.api import mesh as mesh_api
    from faceforge.api import scene
    from faceforge.api.render import render_view
    from faceforge.inference.views import bounding_sphere
    from rig_fixtures import import_ict

    scene.clear_scene()
    obj = import_ict(pathlib.Path(DATA), with_landmarks=False)
    centre, radius = bounding_sphere(mesh_api.mesh_arrays(obj, world=True).verts)
    out = []
    for yaw, pitch in ((0, 0), (0.35, 0), (-0.35, 0), (0, 0.25), (0, -0.25)):
        view = (np.sin(yaw) * np.cos(pitch), np.cos(yaw) * np.cos(pitch), np.sin(pitch))
        img, _cam = render_view([obj], centre, view, (0, 0, 1), radius * 0.75, resolution=512)
        out.append(img)
    return out


def speed(frames_per_clip, threads: int) -> tuple[float, float]:
    """(ours fps, mediapipe fps) in tracking mode over the same frames, interleaved per clip."""
    import mediapipe as mp

    from faceforge.inference.face_tracker import FaceTracker

    t_ours = t_mp = 0.0
    n = 0
    for frames in frames_per_clip:
        ours = FaceTracker(video=True, max_faces=1, threads=threads)
        ref = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=True)
        ours.process(frames[0]), ref.process(frames[0])  # warm-up (first inference allocates)
        ours.reset()
        ref.close()
        ref = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=True)
        t0 = time.perf_counter()
        for f in frames:
            ours.process(f)
        t_ours += time.perf_counter() - t0
        t0 = time.perf_counter()
        for f in frames:
            ref.process(f)
        t_mp += time.perf_counter() - t0
        ref.close()
        n += len(frames)
    return n / t_ours, n / t_mp


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=0, help="GRID clips to use (0: all)")
    args = ap.parse_args()
    import launch

    ff = launch.load_package()
    ff.register()
    from skimage import data

    from faceforge.inference import face_tracker

    clips = sorted(glob.glob(os.path.join(DATA, "video", "grid", "*.mpg")))
    if args.clips:
        clips = clips[:args.clips]
    grid = [clip_frames(c) for c in clips]

    print("== agreement with mediapipe 0.10.21 (goal: mean <= 0.5 % of IOD, same faces found)")
    report("astronaut photo", *agreement([data.astronaut()], video=False))
    report("ICT head renders (5 views)", *agreement(ict_renders(), video=False))
    per = [agreement(f, video=True) for f in grid]
    report(f"GRID, tracking ({len(grid)} clips)", sum(p[0] for p in per), sum(p[1] for p in per),
           [d for p in per for d in p[2]])
    per = [agreement(f, video=False) for f in grid]
    report(f"GRID, stills ({len(grid)} clips)", sum(p[0] for p in per), sum(p[1] for p in per),
           [d for p in per for d in p[2]])

    print("== speed, CPU, tracking mode, same frames, one run (goal >= 1.0x)")
    from faceforge.inference import onnx_session

    t0 = time.perf_counter()
    for path in (face_tracker.DETECTOR_PATH, face_tracker.LANDMARKS_PATH):
        onnx_session._load(path, "CPU", 1)  # uncached: what the first detector of a session pays
    print(f"tracker model load {time.perf_counter() - t0:.2f} s (once per Blender session)")
    for label, frames in (("GRID 360x288", grid), ("GRID upscaled 512x512", [clip_frames(c, 512) for c in clips])):
        for threads in (1, 2):
            ours, ref = speed(frames, threads)
            print(f"{label:24s} threads={threads}: tracker {ours:6.1f} fps, mediapipe {ref:6.1f} fps -> "
                  f"{ours / ref:.2f}x", flush=True)

    zips = sorted(glob.glob(os.path.join(ROOT, "dist", "faceforge-*.zip")))
    if zips:
        print("== extension zips (dist/)")
        for z in zips:
            print(f"{os.path.basename(z):48s} {os.path.getsize(z) / 2**20:6.1f} MiB")
    ff.unregister()
    return 0


if __name__ == "__main__":
    sys.exit(main())
