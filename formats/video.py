"""Streaming video (and still image) reading over OpenCV's FFmpeg backend.

Never holds the whole video in memory: :meth:`VideoReader.frames` yields one
``(t_seconds, index, rgb)`` at a time, ``rgb`` an ``(H, W, 3)`` uint8 array,
optionally downscaled so its longer side is at most ``max_side`` (landmark
detection does not need 4K pixels; decoding does the heavy lifting once).

* Phone rotation metadata is applied (``CAP_PROP_ORIENTATION_AUTO``): a
  portrait phone clip comes out portrait.
* Variable frame rate: ``t_seconds`` is each frame's presentation time
  (``CAP_PROP_POS_MSEC``), not ``index / fps``; it is forced to increase.
* Decoding runs in a background thread one small queue ahead of the caller
  (OpenCV releases the GIL), so decode overlaps with landmark detection.

Missing, empty, corrupt, audio-only and unreadable files raise
:class:`~core.errors.FaceForgeError` with a sentence a user can act on.
"""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..core.errors import FaceForgeError

VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".mpg", ".mpeg", ".webm", ".wmv", ".flv",
                    ".mts", ".m2ts", ".3gp", ".ogv")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def _cv2():
    try:
        import cv2
    except Exception as exc:  # pragma: no cover - depends on the install
        raise FaceForgeError(f"OpenCV could not be loaded ({exc}). Reinstall the FaceForge extension.") from exc
    return cv2


@dataclass
class VideoInfo:
    path: str
    width: int  # after rotation, before any downscale
    height: int
    fps: float  # nominal frame rate (the container's); timestamps are authoritative
    frame_count: int  # the container's estimate (may be approximate or 0)
    rotation: int  # degrees of rotation metadata that was applied (0/90/180/270)

    @property
    def duration(self) -> float:
        return self.frame_count / self.fps if self.fps > 0 else 0.0


def _check_file(path: str, kind: str = "video") -> str:
    path = os.path.abspath(os.path.expanduser(str(path)))
    if not os.path.exists(path):
        raise FaceForgeError(f"The {kind} file was not found: {path}")
    if os.path.isdir(path):
        raise FaceForgeError(f"{path} is a folder: choose a {kind} file")
    if os.path.getsize(path) == 0:
        raise FaceForgeError(f"{os.path.basename(path)} is empty (0 bytes): the {kind} was not saved or copied "
                             "completely; export it again")
    return path


def scaled_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """``(width, height)`` of an image downscaled so its longer side is at most ``max_side``
    (unchanged when it already is, or without ``max_side``): the size :func:`scale_to_max_side` gives."""
    if not max_side:
        return int(width), int(height)
    s = max_side / max(height, width)
    if s >= 1.0:
        return int(width), int(height)
    return max(1, round(width * s)), max(1, round(height * s))


def scale_to_max_side(rgb: np.ndarray, max_side: int | None) -> np.ndarray:
    h, w = rgb.shape[:2]
    size = scaled_size(w, h, max_side)
    if size == (w, h):
        return rgb
    cv2 = _cv2()
    # INTER_AREA is the better filter for big reductions but ~4x slower at non-integer ratios.
    interp = cv2.INTER_LINEAR if max_side / max(h, w) > 0.5 else cv2.INTER_AREA
    return cv2.resize(rgb, size, interpolation=interp)


class VideoReader:
    """Open a video for streaming.  Use as a context manager or call :meth:`close`."""

    def __init__(self, path: str):
        cv2 = _cv2()
        self.path = _check_file(path)
        name = os.path.basename(self.path)
        cap = cv2.VideoCapture(self.path, cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            raise FaceForgeError(
                f"{name} could not be opened as a video: it is damaged, has no picture (audio only), or is "
                f"not a format FFmpeg reads (use mp4/mov/avi/mkv/mpg/webm)")
        w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))  # as stored (before rotation)
        h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
        if w <= 0 or h <= 0:
            cap.release()
            raise FaceForgeError(f"{name} has no video track (audio only?): choose a file with picture")
        rotation = int(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0) % 360
        if rotation in (90, 270):
            w, h = h, w
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not np.isfinite(fps) or fps <= 0 or fps > 1000:
            fps = 0.0
        count = int(max(0, cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
        self._cap = cap
        self._started = False
        self.info = VideoInfo(self.path, w, h, fps, count, rotation)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _stop_decoder(self):
        """Stop the decode thread, if one runs: drain its queue until it has ended."""
        stop, thread, q = getattr(self, "_decoder", (None, None, None))
        if thread is not None:
            stop.set()
            while thread.is_alive():
                try:
                    q.get(timeout=0.05)
                except queue.Empty:
                    pass
            thread.join()
            self._decoder = (None, None, None)

    def close(self):
        """Stop the decode thread (if a frames() generator was abandoned mid-way) and release the file."""
        self._stop_decoder()
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def frames(self, start: int = 0, end: int | None = None, max_side: int | None = None,
               prefetch: int = 4, bgr: bool = False) -> Iterator[tuple[float, int, np.ndarray]]:
        """Yield ``(t_seconds, frame_index, rgb)`` for frames ``start <= index < end``.

        ``bgr``: yield the frames as OpenCV decodes them (BGR), without the colour conversion
        (for consumers that read only small parts of each frame, such as the face tracker).

        Frames before ``start`` are decoded and dropped (exact with variable
        frame rate; seeking is not).  Raises FaceForgeError when the file
        yields no frame at all (corrupt data behind a valid header).
        """
        if self._started:
            raise RuntimeError("VideoReader.frames() can be iterated once; open the file again")
        self._started = True
        cv2 = _cv2()
        cap = self._cap
        name = os.path.basename(self.path)
        q: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
        stop = threading.Event()
        fps = self.info.fps or 25.0

        def produce():
            last_t = -1.0
            index = 0
            try:
                while not stop.is_set():
                    ok = cap.grab()
                    if not ok:
                        break
                    if index < start:
                        index += 1
                        continue
                    if end is not None and index >= end:
                        break
                    ok, frame = cap.retrieve()
                    if not ok or frame is None:
                        break
                    t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                    if not np.isfinite(t) or t <= last_t:  # missing or non-increasing timestamps
                        t = (last_t + 1.0 / fps) if last_t >= 0 else index / fps
                    last_t = t
                    img = scale_to_max_side(frame, max_side)
                    rgb = img if bgr else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
                    while not stop.is_set():
                        try:
                            q.put((t, index, rgb), timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    index += 1
            except Exception as exc:  # pragma: no cover - surfaced to the consumer
                q.put(exc)
            finally:
                q.put(None)

        thread = threading.Thread(target=produce, name="faceforge-decode", daemon=True)
        self._decoder = (stop, thread, q)
        thread.start()
        got = 0
        try:
            while True:
                item = q.get()
                if item is None:
                    break
                if isinstance(item, Exception):
                    raise FaceForgeError(f"Decoding {name} failed: {item}") from item
                got += 1
                yield item
        finally:
            self._stop_decoder()
        if got == 0:
            if start > 0:
                raise FaceForgeError(f"{name} has no frames from frame {start} on: choose an earlier start frame")
            raise FaceForgeError(f"{name} contains no readable video frames: the file is damaged or incomplete")


def probe(path: str) -> VideoInfo:
    """Open, read the header, close."""
    with VideoReader(path) as r:
        return r.info


def is_image_path(path: str) -> bool:
    return os.path.splitext(str(path))[1].lower() in IMAGE_EXTENSIONS


def read_image(path: str, max_side: int | None = None) -> np.ndarray:
    """A still image as RGB uint8 (EXIF orientation applied)."""
    cv2 = _cv2()
    path = _check_file(path, "image")
    data = np.fromfile(path, dtype=np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        # A video given as the "image": take its first frame.
        try:
            with VideoReader(path) as r:
                for _t, _i, rgb in r.frames(end=1, max_side=max_side):
                    return rgb
        except FaceForgeError:
            pass
        raise FaceForgeError(f"{os.path.basename(path)} is not an image OpenCV can read (use PNG or JPEG)")
    return scale_to_max_side(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), max_side)
