"""Driving video or photo -> ARKit weights, head pose and gaze, through the scan-based face model.

The actor is tracked on the face model (``facemodel/``), not on the character: the fitted
weights mean what ARKit's names say, so they drive any character's ARKit shape keys
directly, whatever its mesh.  Pure numpy; the Blender side (``api/animate_video.py``)
only bakes.

Pipeline (:class:`TakeSolver`; :func:`solve_take` runs it on a finished :class:`Track`):

1. **Track** (:func:`track`, :func:`track_file`): FaceForge's face tracker in video mode,
   (F, 478, 3) image points (NaN: no face).  With a solver attached, every frame is
   handed to it as it is tracked; the solver works in its own thread.
2. **Identity**: among the first :data:`ID_WINDOW` frames with a face (all of a shorter
   take; the chosen neutral frame joins them), the calmest :data:`ID_FRAMES` frames
   (``neutral.neutral_scores``: closed mouth, open eyes, near the take's median shape)
   fix the actor's head (``facemodel.fit_identity``: identity, with each frame's own
   pose and expression).
3. **Expression** (``facemodel.sequence.fit_take``): per frame pose + 52 weights on that
   head, with the model's priors (bounds, sparsity, antagonists exclusive, gaze coupled,
   ``mouthClose <= jawOpen``) and the temporal prior inside the solve
   (:func:`temporal_prior` of the smoothing control); frames in chunks of :data:`CHUNK`,
   each chunk linked to the last frame of the one before.  The image points are used as
   they are, under a pinhole camera (:func:`default_camera`: focal length
   :data:`FOCAL_GUESS` x the image's longer side unless known).  What the tracker sees
   well counts most: the lids' and inner lips' openings are matched as such
   (``gaps`` in :data:`FIT_SETTINGS`), the interior points weigh :data:`INTERIOR_WEIGHT`,
   an iris fades out as its lids close (:func:`point_weights`) and that eye's gaze then
   costs more (:func:`shape_costs`); the temporal prior is quadratic up to
   :data:`TEMPORAL_JUMP` a frame, linear beyond (a blink stays sharp).
4. **Neutral calibration**: the actor's rest (the chosen neutral frame, or the frame the
   fit finds most at rest) is subtracted per shape: ``(w - w_rest) / (1 - w_rest)`` (the jaw
   only for a neutral the user chose).
5. **Correction** (:mod:`.correction`): what the tracker under-reads (brows, squints,
   frowns...) is corrected by a map learned from renders of the face model with known
   weights (``scripts/train_solve_correction.py``); antagonists stay exclusive after it.
6. Head rotation (relative to the chosen neutral frame; Auto: to the frame at rest that faces
   the camera most) and eye rotations (from the fitted gaze),
   frames without a face bridged, head and eyes smoothed (One Euro, :mod:`.filters`).

:func:`solve_image` runs the same fit on one photo (identity and expression from that
photo, or the identity from a rest photo of the same person).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from ..core import blas
from ..core.arkit import ARKIT_NAMES, INDEX
from ..core.errors import FaceForgeError
from . import filters, neutral, pose

NUM_POINTS = 478
ID_WINDOW = 100  # frames with a face the identity is chosen from
ID_FRAMES = 12  # calm frames the identity is fitted on
CHUNK = 32  # frames fitted at once (a chunk links to the one before)
FOCAL_GUESS = 2.0  # focal length / the image's longer side when the camera is unknown (~70 mm full frame)
REST_MAX = 0.6  # the most of a shape the neutral calibration removes
REST_PERCENTILE = 5.0  # Auto neutral: a shape on in more than 95 % of the frames is the actor's rest
REST_TIE = 0.15  # Auto neutral: calm frames this close to the least total weight count as at rest (the most frontal wins)
UNCALIBRATED = (INDEX["jawOpen"], INDEX["mouthClose"])
# The face model's fitting settings for tracked points (``facemodel.fit.Settings``).
# ``gaps``: the lids' and inner lips' openings matched as such (``facemodel.fit.GAP_PAIRS``): a real eye
# closes on another line than the scans' and the lips part on another than the jaw's alone.
FIT_SETTINGS = {"sparsity": 10.0, "gaps": 2.0}
# The temporal prior's Huber threshold (``fit_take``'s ``jump``): a change up to this per frame costs
# quadratically (one shape taking over from another is smoothed), beyond it linearly (a blink stays).
TEMPORAL_JUMP = 0.2
HIDDEN_MOTION = 0.04  # a shape that moves no image point this far (eye distances) at full weight...
HIDDEN_SPARSITY = 4.0  # ...costs this many times the sparsity: a camera barely sees it (jawForward, tongueOut)
# The weight of the tracker's interior points (cheeks, between the features) in the expression fits: they
# are mostly its shape prior's guess between the lids, lips, brows, nose and outline it does see, and
# there are 298 of them against 180 feature points: at full weight they outvote the features.
INTERIOR_WEIGHT = 0.3
# An iris under a closing lid is the tracker's guess: the iris points' weight falls from 1 to 0 as the eye's
# opening (mean lid gap / the eye's width) falls from IRIS_OPEN to IRIS_SHUT (open eyes read 0.2-0.3, shut ~0.05).
IRIS_OPEN, IRIS_SHUT = 0.2, 0.08
# ...and that eye's gaze shapes then cost this much more (L1, units of the data term): with no iris to go by,
# the fit would turn the eye to shape the closing lids (eyeLookUp on blinks); the temporal prior holds the gaze.
BLIND_GAZE_COST = 40.0
_LOOKS = tuple(tuple(INDEX[f"eyeLook{d}{side}"] for d in ("Up", "Down", "In", "Out"))
               for side in ("Left", "Right"))
# Image frame (x right, y down, z away) -> camera frame (x right = the subject's left, y up, z toward the lens).
_TO_CAMERA = np.diag([1.0, -1.0, -1.0])


def default_camera(image_size, focal_px: float | None = None) -> tuple[float, float, float]:
    """(focal_px, cx, cy) of a pinhole camera for an image of ``image_size`` (w, h) pixels."""
    w, h = (float(v) for v in image_size)
    if w <= 0 or h <= 0:
        raise FaceForgeError(f"the image size {image_size} is not a size")
    return (float(focal_px) if focal_px else FOCAL_GUESS * max(w, h), w / 2.0, h / 2.0)


def temporal_prior(smoothing: float) -> float:
    """The solve's temporal smoothness (units of the data term) for the smoothing control 0..1."""
    s = float(np.clip(smoothing, 0.0, 1.0))
    return 160.0 * s * s


def _model(model=None):
    from ..facemodel import load_model

    return model if model is not None else load_model()


_settings_cache: dict = {}


def fit_settings(model) -> dict:
    """:data:`FIT_SETTINGS` for ``model``, the sparsity one per shape: :data:`HIDDEN_SPARSITY` times
    higher for the shapes that move the image points less than :data:`HIDDEN_MOTION` (the fit
    would otherwise use them to soak up noise in depth: jawForward on open mouths)."""
    key = (id(model), tuple(sorted((k, str(v)) for k, v in FIT_SETTINGS.items())))
    if key not in _settings_cache:
        base, _, e = model.landmark_basis(None, detector=False)
        motion = np.linalg.norm(e[:, :2, :], axis=1).max(axis=0) / float(pose.interocular(base))
        sparsity = np.full(e.shape[2], float(FIT_SETTINGS.get("sparsity", 0.0)))
        sparsity[motion < HIDDEN_MOTION] *= HIDDEN_SPARSITY
        _settings_cache[key] = (model, dict(FIT_SETTINGS, sparsity=sparsity))  # the model kept: its id stays its
    return dict(_settings_cache[key][1])


def expression_weights() -> np.ndarray:
    """(478,) per-point weights of the expression fits on tracked points: 1, the interior points
    :data:`INTERIOR_WEIGHT` (``facemodel.fit.REGIONS["cheeks"]``)."""
    from ..facemodel.fit import REGIONS

    w = np.ones(NUM_POINTS)
    w[REGIONS["cheeks"]] = INTERIOR_WEIGHT
    return w


def iris_seen(points: np.ndarray) -> np.ndarray:
    """(F, 2) how much of each iris (the subject's left, right) the tracker sees in F frames of
    points (F, 478, 3), 0..1, from the eyes' openings (``neutral.eye_open_ratio``:
    :data:`IRIS_OPEN` -> 1, :data:`IRIS_SHUT` -> 0)."""
    return np.clip((np.nan_to_num(neutral.eye_open_ratio(points)) - IRIS_SHUT) / (IRIS_OPEN - IRIS_SHUT), 0.0, 1.0)


def point_weights(seen: np.ndarray) -> np.ndarray:
    """(F, 478) weights of the expression fit for F frames whose irises are ``seen`` (F, 2)
    (:func:`iris_seen`): :func:`expression_weights`, each iris times how much of it is seen."""
    from ..rigging import regions as R

    w = np.repeat(expression_weights()[None], len(seen), axis=0)
    w[:, list(R.IRIS_LEFT)] *= seen[:, :1]
    w[:, list(R.IRIS_RIGHT)] *= seen[:, 1:]
    return w


def shape_costs(seen: np.ndarray) -> np.ndarray:
    """(F, 52) extra L1 cost per frame and shape for F frames whose irises are ``seen`` (F, 2): an
    eye's gaze shapes cost :data:`BLIND_GAZE_COST` times how little of its iris is seen."""
    cost = np.zeros((len(seen), 52))
    for k, ids in enumerate(_LOOKS):
        cost[:, list(ids)] = BLIND_GAZE_COST * (1.0 - seen[:, k:k + 1])
    return cost


# --- tracking ------------------------------------------------------------------------------


@dataclass
class Track:
    """Landmarks of a take: times (F,) s, frame indices (F,), points (F, 478, 3) image pixels (NaN = no face)."""
    times: np.ndarray
    indices: np.ndarray
    points: np.ndarray
    image_size: tuple = (0, 0)
    fps: float = 0.0
    source: str = ""

    @property
    def found(self) -> np.ndarray:
        return np.isfinite(self.points[:, 0, 0])


def track(frames, detector, total: int = 0, report=None, source: str = "", fps: float = 0.0, solver=None,
          bgr: bool = False, max_side: int | None = None) -> Track:
    """Run ``detector.detect`` over an iterable of ``(t, index, rgb)``; never keeps the images.

    ``report(fraction, message)`` is called per frame (it may raise Cancelled); ``solver``
    (a :class:`TakeSolver`) is handed every frame as it is tracked.  ``bgr``: the frames are
    BGR (as decoded; the detector converts only its small inputs).  ``max_side``: the frames
    are tracked at their own size but the points are given (and ``image_size`` set) as if each
    frame had been downscaled so its longer side is at most ``max_side``
    (:func:`formats.video.scaled_size`): no full-frame resize, the same units.
    """
    from ..formats.video import scaled_size

    times, indices = [], []
    size = (0, 0)
    shape, scale = None, None
    kw = {"bgr": True} if bgr else {}
    # Preallocated from the container's (possibly wrong) frame count, capped; grown by doubling.
    buf = np.full((min(max(int(total), 16), 20000), NUM_POINTS, 3), np.nan, dtype=np.float32)
    n = 0
    for n, (t, index, rgb) in enumerate(frames, start=1):
        if rgb.shape[:2] != shape:
            shape = rgb.shape[:2]
            size = scaled_size(shape[1], shape[0], max_side)
            sx, sy = size[0] / shape[1], size[1] / shape[0]
            scale = None if size == (shape[1], shape[0]) else np.array([sx, sy, sx], np.float32)
        lm = detector.detect(rgb, with_score=False, **kw)
        if lm is not None and scale is not None:
            lm.points = lm.points * scale
        times.append(t)
        indices.append(index)
        if n > len(buf):
            grown = np.full((2 * len(buf), NUM_POINTS, 3), np.nan, dtype=np.float32)
            grown[:len(buf)] = buf
            buf = grown
        ok = lm is not None and len(lm.points) >= NUM_POINTS
        if ok:
            buf[n - 1] = lm.points[:NUM_POINTS]
        if solver is not None:
            solver.add(t, index, buf[n - 1] if ok else None, size)
        if report is not None:  # a steady message: the headless printer then writes ~4 lines a second
            frac = n / total if total else 0.0
            report(min(frac, 1.0), f"tracking the face in {total} frames" if total else "tracking the face")
    if n == 0:
        raise FaceForgeError(f"{source or 'The video'} has no frames in the chosen range")
    points = buf[:n] if n == len(buf) or n > 0.9 * len(buf) else buf[:n].copy()
    return Track(np.asarray(times, np.float64), np.asarray(indices, np.int64), points, size, fps, source)


# --- the solved take --------------------------------------------------------------------------


@dataclass
class Take:
    """A solved take.  F frames at ``times``; K = 52 channels ``names`` (ARKit order)."""
    times: np.ndarray  # (F,) seconds
    indices: np.ndarray  # (F,) video frame indices
    names: tuple
    weights: np.ndarray  # (F, K) in [0, 1]
    head_rotation: np.ndarray  # (F, 3, 3) relative to the chosen neutral frame (Auto: the frame at rest facing the camera most), camera frame
    eye_rotation: np.ndarray  # (F, 2, 2) [left, right] x [yaw toward the subject's left, pitch up] radians
    found: np.ndarray  # (F,) bool: a face was detected (else bridged)
    neutral_index: int  # video frame index used as the actor's neutral
    neutral_auto: bool
    residual: np.ndarray  # (F,) mean landmark misfit (image plane) of the fitted head, IOD units (NaN = bridged)
    stats: dict = field(default_factory=dict)
    identity: np.ndarray | None = None  # (K,) the actor's head in the face model

    @property
    def missing(self) -> int:
        return int((~self.found).sum())


def _bridge(values: np.ndarray, found: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Fill rows where ``found`` is False by linear interpolation in time (held at the ends)."""
    if found.all():
        return values
    out = values.copy()
    flat = out.reshape(len(out), -1)
    src = flat[found]
    for c in range(flat.shape[1]):
        flat[~found, c] = np.interp(times[~found], times[found], src[:, c])
    return out


def calm_frames(points: np.ndarray, count: int = ID_FRAMES, must: int | None = None, gap: int = 2,
                share: float = 0.3) -> np.ndarray:
    """Up to ``count`` of the calmest frames of (F, 478, 3) image points: ``neutral.neutral_scores``
    on the points aligned to the first frame, plus how far the eyes look away from straight ahead
    and from the take's usual height (a head fitted on frames that look aside takes some of the
    gaze for its shape), among the calmest ``share`` of the frames, at least ``gap`` frames apart;
    ``must`` (a row) is always in."""
    cam = pose.to_camera_frame(points)
    ref, _, _ = pose.normalise(cam[must if must is not None else 0])
    aligned = pose.align(cam, ref).points
    gaze = pose.eye_gaze(aligned).mean(axis=1)  # (F, 2) yaw, pitch (radians, both eyes)
    scores = neutral.neutral_scores(aligned) + 0.1 * (np.abs(gaze[:, 0]) + np.abs(gaze[:, 1] - np.median(gaze[:, 1])))
    chosen = [] if must is None else [int(must)]
    order = np.argsort(scores, kind="stable")[:max(1, int(np.ceil(share * len(scores))))]
    for i in order:
        if len(chosen) >= count:
            break
        if all(abs(int(i) - c) >= gap for c in chosen):
            chosen.append(int(i))
    return np.array(sorted(chosen))


def exclusive(w: np.ndarray) -> np.ndarray:
    """Weights (F, 52) with the face model's hard priors: the weaker of each antagonist pair off,
    ``mouthClose <= jawOpen``, all in [0, 1]."""
    from ..facemodel.fit import ANTAGONISTS

    w = np.clip(np.asarray(w, np.float64), 0.0, 1.0)
    for a, b in ANTAGONISTS:
        ia, ib = INDEX[a], INDEX[b]
        lose_b = w[:, ia] >= w[:, ib]
        w[:, ib] = np.where(lose_b, 0.0, w[:, ib])
        w[:, ia] = np.where(lose_b, w[:, ia], 0.0)
    w[:, INDEX["mouthClose"]] = np.minimum(w[:, INDEX["mouthClose"]], w[:, INDEX["jawOpen"]])
    return w


def calibrate(w: np.ndarray, rest: np.ndarray, jaw: bool = False) -> np.ndarray:
    """Per-actor neutral: ``(w - rest) / (1 - rest)`` per shape, ``rest`` capped at :data:`REST_MAX`.
    Unless ``jaw`` (a neutral the user chose), the jaw is left alone (:data:`UNCALIBRATED`): the
    tracker sees the lips meet, and an actor who rests with the lips apart does rest with the jaw
    a little open."""
    rest = np.clip(np.asarray(rest, np.float64), 0.0, REST_MAX).copy()
    if not jaw:
        rest[..., list(UNCALIBRATED)] = 0.0
    return np.clip((w - rest) / (1.0 - rest), 0.0, 1.0)


def rest_frame(w: np.ndarray, window: int = 2, turn: np.ndarray | None = None, tie: float = REST_TIE) -> int:
    """The row of (F, 52) fitted weights most at rest: the least total weight, over +-``window`` frames.
    ``turn`` (F,): how far the head is turned from the camera (radians); among the rows within
    ``tie`` of the least weight, the one facing the camera most (the head's rest: the take's head
    turns are measured from the neutral frame)."""
    energy = np.asarray(w).sum(axis=1)
    if window > 0 and len(energy) > 2 * window + 1:
        pad = np.pad(energy, window, mode="edge")
        energy = np.max(np.lib.stride_tricks.sliding_window_view(pad, 2 * window + 1), axis=1)
    if turn is None:
        return int(np.argmin(energy))
    near = np.flatnonzero(energy <= energy.min() + tie)
    return int(near[np.argmin(np.asarray(turn)[near])])


def _gaze(w: np.ndarray) -> np.ndarray:
    from ..facemodel.model import gaze_angles

    return np.stack([gaze_angles(x) for x in w]) if len(w) else np.zeros((0, 2, 2))


class TakeSolver:
    """Frames in (as they are tracked), a :class:`Take` out.

    ``add(t, index, points, size)`` one frame (``points`` (478, 3) image pixels or None);
    ``finish()`` -> :class:`Take`.  With ``threaded`` the fitting runs in a worker thread
    while frames keep coming (call :meth:`close` if the take is abandoned).  The result does
    not depend on the timing: the identity is fitted once the first :data:`ID_WINDOW` frames
    with a face are in, chunks of :data:`CHUNK` frames after that.
    """

    def __init__(self, neutral_frame: int | None = None, smoothing: float = 0.5, correction: bool = True,
                 model=None, focal_px: float | None = None, source: str = "", threaded: bool = False,
                 settings: dict | None = None):
        self.settings = None if settings is None else dict(settings)
        self.neutral_frame = None if neutral_frame is None else int(neutral_frame)
        self.smoothing = float(smoothing)
        self.correction = correction
        self.focal_px = focal_px
        self.source = source or "the video"
        self._model = model
        self.times: list = []
        self.indices: list = []
        self.size = None
        self._pts = np.full((256, NUM_POINTS, 3), np.nan, np.float32)
        self._rows: list = []  # take rows with a face
        self.identity = None
        self._id_rows = None
        self._fits: list = []  # TakeFit per chunk
        self._n_fitted = 0
        self._link = None
        self.solve_seconds = 0.0
        self._queue = None
        self._thread = None
        self._error = None
        if threaded:
            self._queue = queue.Queue(maxsize=512)
            self._thread = threading.Thread(target=self._work, name="faceforge-solve", daemon=True)
            self._thread.start()

    # -- input --
    def add(self, t: float, index: int, points, size=None) -> None:
        if self._queue is not None:
            if self._error is not None:
                raise self._error
            self._queue.put((t, index, None if points is None else np.array(points, np.float32), size))
        else:
            self._take(t, index, points, size)
            self._pump(final=False)

    def _take(self, t, index, points, size):
        n = len(self.times)
        if n >= len(self._pts):
            grown = np.full((2 * len(self._pts), NUM_POINTS, 3), np.nan, np.float32)
            grown[:n] = self._pts[:n]
            self._pts = grown
        self.times.append(float(t))
        self.indices.append(int(index))
        if size is not None:
            self.size = tuple(size)
        if points is not None:
            self._pts[n] = points
            self._rows.append(n)

    def _work(self):
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                self._take(*item)
                if self._queue.empty():
                    self._pump(final=False)
        except BaseException as exc:  # surfaced by finish()
            self._error = exc
            while self._queue.get() is not None:  # drain so add() never blocks
                pass

    def close(self) -> None:
        """Stop the worker thread (a cancelled take)."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._thread = None

    # -- fitting --
    def _settings(self) -> dict:
        return self.settings if self.settings is not None else fit_settings(_model(self._model))

    def _camera(self):
        if self.size is None:
            raise FaceForgeError(f"{self.source}: the frames have no size")
        return default_camera(self.size, self.focal_px)

    def _identity_ready(self, final: bool) -> bool:
        if self.identity is not None or not self._rows:
            return False
        if self.neutral_frame is not None:
            if self.neutral_frame not in self.indices:
                return final
            k = self.indices.index(self.neutral_frame)
            if k not in self._rows and not final:
                return False
        return final or len(self._rows) >= ID_WINDOW

    def _fit_identity(self):
        from ..facemodel import fit_identity
        from ..facemodel.fit import IMAGE_DEPTH_WEIGHT

        rows = np.array(self._rows[:ID_WINDOW])
        must = None
        if self.neutral_frame is not None and self.neutral_frame in self.indices:
            k = self.indices.index(self.neutral_frame)
            if k in self._rows:
                if k not in rows:
                    rows = np.append(rows, k)
                must = int(np.flatnonzero(rows == k)[0])
        pick = calm_frames(self._pts[rows], must=must) if len(rows) > 1 else np.array([0])
        self._id_rows = rows[pick]
        fit = fit_identity(_model(self._model), self._pts[self._id_rows], depth_weight=IMAGE_DEPTH_WEIGHT,
                           camera=self._camera(), **self._settings())
        self.identity = fit.identity

    def _fit_chunk(self, rows):
        from ..facemodel.fit import IMAGE_DEPTH_WEIGHT
        from ..facemodel.sequence import fit_take

        pts = self._pts[rows]
        seen = iris_seen(pts)
        fit = fit_take(_model(self._model), pts, identity=self.identity, weights=point_weights(seen),
                       cost=shape_costs(seen), depth_weight=IMAGE_DEPTH_WEIGHT, camera=self._camera(),
                       smooth=temporal_prior(self.smoothing), jump=TEMPORAL_JUMP, link=self._link,
                       **self._settings())
        self._fits.append(fit)
        self._link = fit.last()
        self._n_fitted += len(rows)

    def _pump(self, final: bool):
        t0 = time.perf_counter()
        with blas.single_threaded():  # many small LAPACK calls, beside the tracker: no thread hand-offs
            if self.identity is None and self._identity_ready(final):
                self._fit_identity()
            if self.identity is not None:
                while len(self._rows) - self._n_fitted >= CHUNK or (final and len(self._rows) > self._n_fitted):
                    rows = self._rows[self._n_fitted:self._n_fitted + CHUNK]
                    self._fit_chunk(np.array(rows))
        self.solve_seconds += time.perf_counter() - t0

    # -- output --
    def finish(self, report=None) -> Take:
        """Fit what is left, calibrate, correct: the :class:`Take`."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
            if self._error is not None:
                raise self._error
        f_all = len(self.times)
        if f_all == 0:
            raise FaceForgeError(f"{self.source} has no frames in the chosen range")
        indices = np.asarray(self.indices, np.int64)
        times = np.asarray(self.times, np.float64)
        found = np.zeros(f_all, bool)
        found[self._rows] = True
        if not found.any():
            raise FaceForgeError(f"No face was found in any of the {f_all} frames of {self.source}: use a take where "
                                 "the face is visible, lit and turned toward the camera")
        k_row = None
        if self.neutral_frame is not None:
            hits = np.flatnonzero(indices == self.neutral_frame)
            if not len(hits):
                raise FaceForgeError(f"Neutral frame {self.neutral_frame} is outside the solved range "
                                     f"{int(indices[0])}-{int(indices[-1])}: choose a frame inside it")
            if not found[hits[0]]:
                raise FaceForgeError(f"No face was found on neutral frame {self.neutral_frame}: choose another frame "
                                     "(or Auto)")
            k_row = int(hits[0])
        if report:
            report(0.2, f"fitting the face model to {len(self._rows)} frames")
        self._pump(final=True)
        t0 = time.perf_counter()
        rows = np.array(self._rows)
        w = np.concatenate([f.expression for f in self._fits])
        rot = np.concatenate([f.rotation for f in self._fits])
        res = np.concatenate([f.residual for f in self._fits])
        # the actor's rest
        if k_row is not None:
            k = int(np.flatnonzero(rows == k_row)[0])
        else:  # among the calm frames the head was fitted on, the one the fit finds most at rest
            calm = np.flatnonzero(np.isin(rows, self._id_rows))
            k = int(calm[rest_frame(w[calm], window=0)]) if len(calm) else rest_frame(w)
        auto = k_row is None
        k_head = k
        if auto:  # the head's rest: of the frames at rest, the one facing the camera most
            turn = np.linalg.norm(pose.matrix_to_rotvec(np.einsum("ij,fjk->fik", _TO_CAMERA, rot)), axis=1)
            k_head = rest_frame(w, window=0, turn=turn, tie=float(w[k].sum()) + REST_TIE - float(w.sum(1).min()))
        rest = w[k]
        if auto and REST_PERCENTILE is not None and len(w) >= 20:
            # what an actor keeps on through nearly all of a take is their face, not an expression
            rest = np.maximum(rest, np.percentile(w, REST_PERCENTILE, axis=0))
        w = calibrate(w, rest, jaw=not auto)
        if self.correction:
            from .correction import load_correction

            corr = load_correction()
            if corr is not None:
                w = corr.apply(w, "video")
        w = exclusive(w)
        if report:
            report(0.8, "head and eyes")
        cam_rot = np.einsum("ij,fjk->fik", _TO_CAMERA, rot)
        head = np.einsum("fij,kj->fik", cam_rot, cam_rot[k_head])
        eyes = _gaze(w)

        def expand(x, fill=0.0):
            out = np.full((f_all,) + x.shape[1:], fill, dtype=np.float64)
            out[found] = x
            return out

        weights = _bridge(expand(w), found, times)
        rv = _bridge(expand(pose.matrix_to_rotvec(head)), found, times)
        eye = _bridge(expand(eyes), found, times)
        if self.smoothing > 0:
            both = filters.smooth(np.concatenate([rv, eye.reshape(f_all, -1)], axis=1), times, self.smoothing)
            rv, eye = both[:, :3], both[:, 3:].reshape(eye.shape)
        residual = expand(res, np.nan)
        self.solve_seconds += time.perf_counter() - t0
        id_frames = [int(indices[r]) for r in (self._id_rows if self._id_rows is not None else [])]
        stats = {"video_frames": f_all, "faces_found": int(found.sum()), "bridged": int((~found).sum()),
                 "residual_median_iod": float(np.nanmedian(residual)),
                 "residual_p95_iod": float(np.nanpercentile(residual, 95)),
                 "neutral_frame": int(indices[rows[k]]), "neutral_auto": auto,
                 "head_rest_frame": int(indices[rows[k_head]]), "identity_frames": id_frames,
                 "solve_seconds": round(self.solve_seconds, 3),
                 "solve_ms_per_frame": round(1e3 * self.solve_seconds / max(len(rows), 1), 3)}
        if report:
            report(1.0, "solved")
        return Take(times, indices, tuple(ARKIT_NAMES), weights, pose.rotvec_to_matrix(rv), eye, found,
                    int(indices[rows[k]]), auto, residual, stats, identity=np.array(self.identity))


def solve_take(trk: Track, neutral_frame: int | None = None, smoothing: float = 0.5, correction: bool = True,
               model=None, focal_px: float | None = None, report=None, settings: dict | None = None) -> Take:
    """Solve a tracked take (see the module docstring).

    neutral_frame: a video frame index to use as the actor's neutral, or None to find it.
    smoothing: 0..1, the temporal prior in the solve and the One Euro strength on head and eyes
    (0 = every frame on its own).  correction: apply the learned correction.
    """
    solver = TakeSolver(neutral_frame, smoothing, correction, model, focal_px, trk.source, settings=settings)
    solver.size = tuple(trk.image_size)
    found = trk.found
    for i in range(len(trk.times)):
        solver._take(trk.times[i], trk.indices[i], trk.points[i] if found[i] else None, None)
    return solver.finish(report)


def solve_image(points: np.ndarray, image_size, neutral_points: np.ndarray | None = None, correction: bool = True,
                model=None, focal_px: float | None = None,
                settings: dict | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One face -> (weights (52,), head rotation (3, 3) camera frame, eyes (2, 2), residual IOD).

    points: (478, 3) image pixels of a photo of ``image_size`` (w, h).  Without
    ``neutral_points`` the actor's head and expression are fitted from this photo alone
    (a face shape the model cannot tell from an expression reads as a little of it); a rest
    photo of the same person (``neutral_points``, same camera) fixes the head and is
    subtracted as the actor's neutral.  The head rotation is relative to facing the camera.
    """
    from ..facemodel.fit import IMAGE_DEPTH_WEIGHT

    m = _model(model)
    cam = default_camera(image_size, focal_px)
    kw = dict(fit_settings(m) if settings is None else settings, depth_weight=IMAGE_DEPTH_WEIGHT, camera=cam)
    pts = np.asarray(points, np.float64)[:NUM_POINTS]
    with blas.single_threaded():
        w, fit, kind = _fit_image(m, pts, neutral_points, kw)
    if correction:
        from .correction import load_correction

        corr = load_correction()
        if corr is not None:
            w = corr.apply(w, kind)
    w = exclusive(w)
    head = _TO_CAMERA @ fit.pose.rotation
    return w[0], head, _gaze(w)[0], float(fit.residual["all"])


def _fit_image(m, pts, neutral_points, kw):
    from ..facemodel import fit_expression, fit_identity

    if neutral_points is None:
        fit = fit_identity(m, pts, **kw).frame(0)
        w = fit.expression[None]
        kind = "image"
    else:
        both = np.stack([np.asarray(neutral_points, np.float64)[:NUM_POINTS], pts])
        ident = fit_identity(m, both, **kw)
        weights = point_weights(iris_seen(both))
        fit = fit_expression(m, pts, identity=ident.identity, weights=weights[1], **kw)
        rest = fit_expression(m, both[0], identity=ident.identity, weights=weights[0], **kw)
        w = calibrate(fit.expression[None], rest.expression, jaw=True)
        kind = "video"
    return w, fit, kind


# --- files -------------------------------------------------------------------------


def track_file(path: str, start: int = 0, end: int | None = None, max_side: int | None = 1280,
               report=None, detector=None, solver: TakeSolver | None = None) -> Track:
    """Decode ``path`` (streaming, in its own thread) and track its face: frames ``start <= index < end``.

    One tracker in video mode for the whole take (or ``detector``, which must take ``bgr=True``);
    ``solver`` gets every frame.  The points are in pixels of the frame downscaled so its longer
    side is at most ``max_side`` (``Track.image_size``), though the tracker reads the full frame.
    """
    from ..formats.video import VideoReader
    from ..inference.face_mesh import FaceMeshDetector

    with VideoReader(path) as reader:
        info = reader.info
        total = info.frame_count
        if total:
            total = max(0, min(total, end if end is not None else total) - start)
        own = detector is None
        det = FaceMeshDetector(video=True, max_faces=1) if own else detector
        # Full frames as decoded (BGR): the tracker reads only its small crops from them, and
        # scales the points to the ``max_side`` image: no full-frame resize or colour conversion.
        frames = reader.frames(start=start, end=end, bgr=True)
        try:
            return track(frames, det, total=total, report=report, source=os.path.basename(info.path),
                         fps=info.fps, solver=solver, bgr=True, max_side=max_side)
        finally:
            frames.close()  # stops the decode thread before the file is released (cancel, errors)
            if own:
                det.close()


def track_and_solve_file(path: str, start: int = 0, end: int | None = None, max_side: int | None = 1280,
                         neutral_frame: int | None = None, smoothing: float = 0.5, correction: bool = True,
                         report=None, detector=None) -> tuple[Track, Take]:
    """Decode, track and solve at once: decoding, tracking and fitting each run in their own
    thread, so the take is solved about when the last frame is tracked.  Returns (Track, Take)."""
    solver = TakeSolver(neutral_frame, smoothing, correction, source=os.path.basename(str(path)), threaded=True)
    try:
        trk = track_file(path, start=start, end=end, max_side=max_side, report=report, detector=detector,
                         solver=solver)
        if report is not None:
            report(1.0, "fitting the last frames")
        return trk, solver.finish()
    finally:
        solver.close()
