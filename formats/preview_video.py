"""Composing a preview video: rendered face frames + the driving video or audio beside them -> MP4.

Pure (OpenCV, FFmpeg as a subprocess; no Blender), so it runs in a worker
thread while Blender stays responsive.  ``api/preview.py`` renders the frames
(``f_000000.png`` ...) and calls :func:`compose_video`:

* with a driving **video**: its frames (time-matched) on the left, the face on
  the right, the video's own sound muxed in;
* with a driving **audio** file: a waveform strip with a playhead beside the
  face, and the audio muxed in;
* a caption with the take and the frame on every frame (for batch QA).

H.264 through FFmpeg when it is installed; else OpenCV writes an MPEG-4 Part 2
``.mp4`` with no sound.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np

from ..core.errors import FaceForgeError
from .audio import AUDIO_EXTENSIONS, RATE, ffmpeg_path, load_audio
from .video import VIDEO_EXTENSIONS


def side_kind(path: str) -> str:
    """What a file shown beside the face is: "video" or "audio"; FaceForgeError for anything else."""
    ext = os.path.splitext(str(path))[1].lower()
    if ext in VIDEO_EXTENSIONS:
        return "video"
    if ext in AUDIO_EXTENSIONS:
        return "audio"
    raise FaceForgeError(f"Can't show '{ext}' files beside the preview; use a video "
                         f"({', '.join(sorted(VIDEO_EXTENSIONS))}) or audio ({', '.join(sorted(AUDIO_EXTENSIONS))})")


def _sound_of(path: str, required: bool) -> np.ndarray | None:
    """Mono float32 samples at :data:`~formats.audio.RATE` of a file's sound; None when it has
    none (a silent video), FaceForgeError when ``required``."""
    try:
        return load_audio(path, check=False).samples
    except FaceForgeError:
        if required:
            raise FaceForgeError(f"Could not read the audio in {os.path.basename(path)}") from None
        return None


def waveform_panel(samples: np.ndarray, rate: int, t: float, size: tuple[int, int],
                   window: float = 3.0) -> np.ndarray:
    """A (h, w, 3) image of the audio around time ``t`` (seconds) with a playhead in the middle."""
    import cv2

    w, h = size
    img = np.full((h, w, 3), 32, np.uint8)
    half = window / 2
    start = int((t - half) * rate)
    idx = start + (np.arange(w) * window * rate / w).astype(int)
    seg_lo = np.zeros(w)
    seg_hi = np.zeros(w)
    step = max(1, int(window * rate / w))
    peak = float(np.abs(samples).max()) or 1.0
    for x, i0 in enumerate(idx):
        if 0 <= i0 < len(samples):
            chunk = samples[i0:i0 + step]
            seg_lo[x], seg_hi[x] = chunk.min() / peak, chunk.max() / peak
    mid = h // 2
    for x in range(w):
        y0, y1 = int(mid - seg_hi[x] * mid * 0.9), int(mid - seg_lo[x] * mid * 0.9)
        colour = (120, 200, 255) if x < w // 2 else (90, 110, 130)
        cv2.line(img, (x, y0), (x, max(y0, y1)), colour, 1)
    cv2.line(img, (w // 2, 0), (w // 2, h - 1), (60, 60, 255), 1)
    cv2.putText(img, f"{t:6.2f} s", (6, h - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (220, 220, 220), 1, cv2.LINE_AA)
    return img


class VideoFrames:
    """Frames of a driving video by time, read sequentially (cv2)."""

    def __init__(self, path: str):
        import cv2

        self.cap = cv2.VideoCapture(path)
        if not self.cap.isOpened():
            raise FaceForgeError(f"OpenCV could not open the driving video {os.path.basename(path)}")
        self.fps = self.cap.get(cv2.CAP_PROP_FPS) or 25.0
        self.index = -1
        self.frame = None

    def at(self, t: float):
        want = int(round(t * self.fps))
        while self.index < want:
            ok, frame = self.cap.read()
            if not ok:
                break
            self.index += 1
            self.frame = frame
        return self.frame

    def close(self):
        self.cap.release()


def compose_video(frames_dir: str, count: int, fps: float, out_path, side: str | None = None,
                  label: str = "", first_frame: int = 1, report=None) -> dict:
    """Rendered PNGs (f_000000.png ...) [+ video/audio beside] -> an MP4. Returns what was written."""
    import cv2

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    warnings = []
    kind = ""
    video = audio = None
    if side:
        kind = side_kind(side)
        if kind == "video":
            video = VideoFrames(side)
        audio = _sound_of(side, required=kind == "audio")
    first = cv2.imread(os.path.join(frames_dir, "f_000000.png"))
    h, w = first.shape[:2]
    panel_w = 0
    if video is not None:
        vf = video.at(0.0)
        panel_w = int(round(vf.shape[1] * h / vf.shape[0])) if vf is not None else w
    elif kind == "audio":
        panel_w = w
    out_w = (w + panel_w + 1) // 2 * 2
    out_h = (h + 1) // 2 * 2
    ff = ffmpeg_path()
    has_audio = audio is not None and ff is not None
    if ff is not None:
        cmd = [ff, "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{out_w}x{out_h}",
               "-r", f"{fps:.6f}", "-i", "-"]
        if has_audio:
            cmd += ["-i", side, "-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", "96k", "-shortest"]
        cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
                "-movflags", "+faststart", str(out_path)]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        sink = proc.stdin.write
    else:
        warnings.append("ffmpeg not found: wrote MPEG-4 Part 2 video without sound (OpenCV)")
        writer = cv2.VideoWriter(str(out_path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (out_w, out_h))
        sink = None
    try:
        for i in range(count):
            face = cv2.imread(os.path.join(frames_dir, f"f_{i:06d}.png"))
            if face is None:
                raise FaceForgeError(f"Preview frame {i} is missing")
            t = i / fps
            parts = []
            if video is not None:
                vf = video.at(t)
                parts.append(cv2.resize(vf, (panel_w, h), interpolation=cv2.INTER_AREA) if vf is not None
                             else np.zeros((h, panel_w, 3), np.uint8))
            elif kind == "audio":
                parts.append(waveform_panel(audio, RATE, t, (panel_w, h)))
            parts.append(face)
            canvas = np.zeros((out_h, out_w, 3), np.uint8)
            row = np.hstack(parts)
            canvas[:row.shape[0], :row.shape[1]] = row
            if label:
                text = f"{label}  frame {first_frame + i}"
                cv2.putText(canvas, text, (7, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
                cv2.putText(canvas, text, (7, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                            cv2.LINE_AA)
            if sink is not None:
                sink(canvas.tobytes())
            else:
                writer.write(canvas)
            if report is not None and (i % 10 == 0 or i == count - 1):
                report((i + 1) / count, f"encoding frame {i + 1}/{count}")
    finally:
        if video is not None:
            video.close()
        if sink is not None:
            proc.stdin.close()
            err = proc.stderr.read().decode(errors="replace")
            if proc.wait() != 0:
                raise FaceForgeError(f"ffmpeg could not encode the preview: {err.strip()[-300:]}")
        else:
            writer.release()
    return {"size": (out_w, out_h), "side": kind, "audio": has_audio, "warnings": warnings}
