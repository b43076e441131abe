"""Animate-from-video throughput and memory.

Prints, for a 512x512 clip and a 1920x1080 clip (made from a GRID clip with
ffmpeg in a temp folder):

* end-to-end frames/s of ``animate_from_video_job`` (decode + landmarks +
  solve + bake) on the fixture character,
* the face tracker's own rate on the same frames in the same run (time
  spent inside ``FaceMeshDetector.detect``), and the ratio (goal >= 80 %),
* the solve's share.

Then peak memory (RSS, fresh subprocess) of the whole job streaming a long
1080p clip: ``--minutes`` (default 1; 10 for the full check) made by looping
the clip without re-encoding, plus the solve + bake of a 10-minute take
(15000 frames of tracked landmarks) measured directly, since only that part
grows with the length (decoding and tracking stream frame by frame).

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


def throughput(ff, clip: str) -> dict:
    from faceforge.animation import solve
    from faceforge.api import animate_video, scene
    from faceforge.core.jobs import run_sync
    from faceforge.inference import face_mesh

    scene.clear_scene()
    obj = fixture(ff)
    spent = {"detect": 0.0, "solve": 0.0, "n": 0, "load": 0.0}
    orig_detect, orig_solve = face_mesh.FaceMeshDetector.detect, solve.solve_take
    orig_init = face_mesh.FaceMeshDetector.__init__

    def timed_init(self, *a, **k):
        t0 = time.perf_counter()
        try:
            return orig_init(self, *a, **k)
        finally:
            spent["load"] += time.perf_counter() - t0

    def timed_detect(self, image, with_score=True):
        t0 = time.perf_counter()
        try:
            return orig_detect(self, image, with_score)
        finally:
            spent["detect"] += time.perf_counter() - t0
            spent["n"] += 1

    def timed_solve(*a, **k):
        t0 = time.perf_counter()
        try:
            return orig_solve(*a, **k)
        finally:
            spent["solve"] += time.perf_counter() - t0

    face_mesh.FaceMeshDetector.detect = timed_detect
    face_mesh.FaceMeshDetector.__init__ = timed_init
    solve.solve_take = timed_solve
    try:
        t0 = time.perf_counter()
        res = run_sync(animate_video.animate_from_video_job(obj, clip, add_reference=False), on_progress=None)
        total = time.perf_counter() - t0
    finally:
        face_mesh.FaceMeshDetector.detect = orig_detect
        face_mesh.FaceMeshDetector.__init__ = orig_init
        solve.solve_take = orig_solve
    n = res["video_frames"]
    e2e = n / total
    mp = spent["n"] / spent["detect"]
    steady = n / (total - spent["load"])
    return {"frames": n, "end_to_end_fps": round(e2e, 1), "tracker_fps": round(mp, 1),
            "ratio": round(e2e / mp, 3), "solve_s": round(spent["solve"], 3), "total_s": round(total, 2),
            "model_load_s": round(spent["load"], 2), "steady_fps": round(steady, 1),
            "steady_ratio": round(steady / mp, 3)}


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
        basis, frame = animate_video.rig_basis(obj)
        take = solve.solve_take(long, basis)
        animate_video.bake_take(obj, take, frame)
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
    args = ap.parse_args()
    if args.child:
        return memory_child(args)
    ff = load()
    from faceforge.animation import solve

    rng = np.random.default_rng(0)
    a, d = rng.normal(size=(478 * 3, 52)), rng.normal(size=(2000, 478 * 3))
    with timed("bounded least squares alone, 2000 frames x 52 shapes x 1434 coordinates"):
        solve.solve_bounded(a, d)
    with tempfile.TemporaryDirectory(prefix="ff-bench-video-") as tmp:
        clips = make_clips(tmp, args.seconds)
        from faceforge.inference import face_mesh

        face_mesh.FaceMeshDetector(video=True, max_faces=1).close()  # import onnxruntime once
        for name in ("512", "1080"):
            r = throughput(ff, clips[name])
            print(f"{name}p clip: {r['frames']} frames, end-to-end {r['end_to_end_fps']} fps, the tracker alone "
                  f"{r['tracker_fps']} fps -> {r['ratio'] * 100:.0f}% of the tracker's rate "
                  f"(solve {r['solve_s']} s, model load {r['model_load_s']} s, of {r['total_s']} s); "
                  f"without the one-off model load {r['steady_fps']} fps = {r['steady_ratio'] * 100:.0f}%",
                  flush=True)
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
