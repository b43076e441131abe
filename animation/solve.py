"""Driving video -> ARKit weights solved against the character's own rig.

Pipeline (all pure numpy; the Blender side only reads the rig and bakes):

1. :func:`track` - stream frames through MediaPipe Face Mesh in tracking
   mode (one model for the take): (F, 478, 3) landmarks, NaN where no face.
2. :func:`solve_take` - head pose separated from expression
   (:mod:`.pose`), the actor's neutral frame picked (:mod:`.neutral`) or
   given, the actor's displacement from *their* neutral retargeted to the
   character (similarity + per-region scale), then per frame the bounded,
   lightly regularised least squares

       min_w  || A w - d_f ||^2 + lambda ||w||^2,   0 <= w <= 1

   where column k of ``A`` is the landmark displacement shape key k produces
   on the character's bound landmarks (:class:`RigBasis`).  Solved for all
   frames at once by :func:`solve_bounded` (accelerated projected gradient on
   the K x K normal equations: a few matrix products over (F, K)).
3. Missing frames bridged (interpolated; held at the ends), One Euro
   smoothing (:mod:`.filters`), head and eye rotations.

Units: landmark geometry is normalised to the actor's inter-ocular distance
(IOD) at the neutral frame, so residuals read as fractions of the IOD.
Image-plane x, y count fully; MediaPipe's depth z with ``z_weight``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.errors import FaceForgeError
from . import filters, neutral, pose

NUM_POINTS = 478


# --- the rig -----------------------------------------------------------------

@dataclass
class RigBasis:
    """What each shape key does to the character's bound landmarks.

    names: K shape-key names (ARKit spelling); neutral: (L, 3) landmark
    positions on the character's base mesh in *camera-frame axes* (x = the
    character's left, y up, z out of the face; any scale/offset); deltas: (K, L, 3)
    landmark displacement of each shape key at weight 1; confidence: (L,)
    per-landmark trust from the binding (None = all 1).  Landmark i is Face
    Mesh landmark i (L = 468 or 478).
    """
    names: tuple
    neutral: np.ndarray
    deltas: np.ndarray
    confidence: np.ndarray | None = None

    def __post_init__(self):
        self.neutral = np.asarray(self.neutral, dtype=np.float64)
        self.deltas = np.asarray(self.deltas, dtype=np.float64)
        k, l_, _ = self.deltas.shape
        if len(self.names) != k or self.neutral.shape != (l_, 3):
            raise ValueError(f"RigBasis: {len(self.names)} names, deltas {self.deltas.shape}, "
                             f"neutral {self.neutral.shape} do not match")
        if l_ < 468:
            raise ValueError(f"RigBasis needs the 468 Face Mesh landmarks, got {l_}")

    def evaluate(self, weights: np.ndarray) -> np.ndarray:
        """Landmarks (F, L, 3) of the character posed with weights (F, K)."""
        return self.neutral[None] + np.einsum("fk,kld->fld", np.atleast_2d(weights), self.deltas)


# --- the bounded least-squares solve ------------------------------------------

def solve_bounded(a: np.ndarray, d: np.ndarray, prior: float = 1e-3, lo: float = 0.0, hi: float = 1.0,
                  iters: int = 500, tol: float = 1e-6, chunk: int = 4096) -> np.ndarray:
    """min ||a w - d_f||^2 + prior * sum_k ||a_k||^2 w_k^2 with lo <= w <= hi, for every row d_f of d.

    a: (M, K); d: (F, M) -> (F, K).  The prior is relative to each shape's own
    strength (column norm), so a small shape (a blink) is shrunk no more than
    a big one (the jaw): about ``1 / (1 + prior)`` for an isolated shape.  FISTA (projected
    accelerated gradient) on the normal equations, vectorised over frames;
    stops when no weight moves more than ``tol``.
    """
    a = np.asarray(a, dtype=np.float64)
    d = np.atleast_2d(np.asarray(d, dtype=np.float64))
    k = a.shape[1]
    g = a.T @ a
    g += np.diag(prior * np.maximum(np.diag(g), 1e-12 * max(float(np.diag(g).max()), 1e-12)))
    lip = float(np.linalg.eigvalsh(g)[-1])
    step = 1.0 / lip
    out = np.empty((len(d), k))
    for c0 in range(0, len(d), chunk):
        b = d[c0:c0 + chunk] @ a  # (f, K)
        # Warm start: the unconstrained solution, clipped.
        w = np.clip(np.linalg.solve(g, b.T).T, lo, hi)
        y = w.copy()
        tk = 1.0
        for _ in range(iters):
            w_new = np.clip(y - (y @ g - b) * step, lo, hi)
            t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * tk * tk))
            moved = np.abs(w_new - w).max()
            y = w_new + ((tk - 1.0) / t_new) * (w_new - w)
            w, tk = w_new, t_new
            if moved < tol:
                break
        out[c0:c0 + chunk] = w
    return out


# --- tracking ------------------------------------------------------------------

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


def track(frames, detector, total: int = 0, report=None, source: str = "", fps: float = 0.0) -> Track:
    """Run ``detector.detect`` over an iterable of ``(t, index, rgb)``; never keeps the images.

    ``report(fraction, message)`` is called per frame (it may raise Cancelled).
    """
    times, indices = [], []
    size = (0, 0)
    # Preallocated from the container's (possibly wrong) frame count, capped; grown by doubling.
    buf = np.full((min(max(int(total), 16), 20000), NUM_POINTS, 3), np.nan, dtype=np.float32)
    n = 0
    for n, (t, index, rgb) in enumerate(frames, start=1):
        size = (rgb.shape[1], rgb.shape[0])
        lm = detector.detect(rgb, with_score=False)
        times.append(t)
        indices.append(index)
        if n > len(buf):
            grown = np.full((2 * len(buf), NUM_POINTS, 3), np.nan, dtype=np.float32)
            grown[:len(buf)] = buf
            buf = grown
        if lm is not None and len(lm.points) >= NUM_POINTS:
            buf[n - 1] = lm.points[:NUM_POINTS]
        if report is not None:  # a steady message: the headless printer then writes ~4 lines a second
            frac = n / total if total else 0.0
            report(min(frac, 1.0), f"tracking the face in {total} frames" if total else "tracking the face")
    if n == 0:
        raise FaceForgeError(f"{source or 'The video'} has no frames in the chosen range")
    points = buf[:n] if n == len(buf) or n > 0.9 * len(buf) else buf[:n].copy()
    return Track(np.asarray(times, np.float64), np.asarray(indices, np.int64), points, size, fps, source)


# --- retargeting -----------------------------------------------------------------

@dataclass
class Take:
    """A solved take.  F frames at ``times``; K channels ``names``."""
    times: np.ndarray  # (F,) seconds
    indices: np.ndarray  # (F,) video frame indices
    names: tuple
    weights: np.ndarray  # (F, K) in [0, 1]
    head_rotation: np.ndarray  # (F, 3, 3) relative to the neutral frame, camera frame
    eye_rotation: np.ndarray  # (F, 2, 2) [left, right] x [yaw, pitch] radians
    found: np.ndarray  # (F,) bool: a face was detected (else bridged)
    neutral_index: int  # video frame index used as the actor's neutral
    neutral_auto: bool
    residual: np.ndarray  # (F,) RMS landmark misfit (x, y) of the solved rig, in IOD units (NaN = bridged)
    stats: dict = field(default_factory=dict)

    @property
    def missing(self) -> int:
        return int((~self.found).sum())


def _landmark_count(basis: RigBasis) -> int:
    return min(len(basis.neutral), NUM_POINTS)


def _region_gains(char: np.ndarray, actor: np.ndarray) -> np.ndarray:
    """Per-landmark, per-axis displacement gain (L, 3): character / actor extent of each region.

    x and y separately (a wider mouth, a taller eye); z takes their mean.
    Clipped to 0.5..2 so a bad detection cannot blow a region up.
    """
    gains = np.ones((len(char), 3))
    for idx in pose.REGIONS.values():
        c = char[idx] - char[idx].mean(axis=0)
        a = actor[idx] - actor[idx].mean(axis=0)
        ratio = np.sqrt((c[:, :2] ** 2).sum(axis=0) / np.maximum((a[:, :2] ** 2).sum(axis=0), 1e-12))
        ratio = np.clip(ratio, 0.5, 2.0)
        gains[idx, :2] = ratio
        gains[idx, 2] = ratio.mean()
    return gains


@dataclass
class _Retarget:
    a: np.ndarray  # (M, K) design matrix
    coord_w: np.ndarray  # (L, 3) per-coordinate weights
    gains: np.ndarray  # (L, 3)
    char_neutral: np.ndarray  # (L, 3) character neutral in the reference frame
    deltas: np.ndarray  # (K, L, 3) in the reference frame


def _retarget(basis: RigBasis, reference: np.ndarray, z_weight: float, region_scale: bool) -> _Retarget:
    """Express the rig in the actor's normalised reference frame."""
    n = _landmark_count(basis)
    sim = pose.similarity(basis.neutral[pose.STABLE], reference[pose.STABLE])
    s, r, t = sim.scale[0], sim.rotation[0], sim.translation[0]
    char_neutral = s * basis.neutral[:n] @ r.T + t
    deltas = s * np.einsum("kld,ed->kle", basis.deltas[:, :n], r)
    gains = _region_gains(char_neutral, reference[:n]) if region_scale else np.ones((n, 3))
    conf = np.ones(n) if basis.confidence is None else np.clip(np.asarray(basis.confidence[:n], float), 0, 1)
    coord_w = conf[:, None] * np.array([1.0, 1.0, z_weight])[None]
    # The actor's displacement is scaled by the gains; fit it with the rig's.
    a = (deltas * coord_w[None]).reshape(len(basis.names), -1).T
    return _Retarget(a, coord_w, gains, char_neutral, deltas)


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


def _rotations_to_rotvec(rot: np.ndarray) -> np.ndarray:
    return pose.matrix_to_rotvec(rot)


def _rotvec_to_rotations(rv: np.ndarray) -> np.ndarray:
    return pose.rotvec_to_matrix(rv)


@dataclass
class _Prepared:
    rt: _Retarget
    dmat: np.ndarray  # (F, 3L) float32 weighted, retargeted displacement from the neutral
    head_rotation: np.ndarray | None  # (F, 3, 3)
    eyes: np.ndarray | None  # (F, 2, 2)


def _prepare(pts: np.ndarray, k: int, rows, basis: RigBasis, z_weight: float, region_scale: bool,
             want_pose: bool, chunk: int = 2048) -> _Prepared:
    """Displacements of frames ``rows`` of ``pts`` (image frame) from frame ``k``, in chunks (bounded memory)."""
    ref, _, _ = pose.normalise(pose.to_camera_frame(pts[k]))
    rt = _retarget(basis, ref, z_weight, region_scale)
    n = len(rt.gains)
    rows = np.arange(len(pts)) if rows is None else np.asarray(rows)
    dmat = np.empty((len(rows), 3 * n), dtype=np.float32)
    head = np.empty((len(rows), 3, 3)) if want_pose else None
    eyes = np.empty((len(rows), 2, 2)) if want_pose else None
    for c0 in range(0, len(rows), chunk):
        r = rows[c0:c0 + chunk]
        al = pose.align(pose.to_camera_frame(pts[r]), ref)
        disp = (al.points[:, :n] - ref[None, :n]) * rt.gains[None]
        dmat[c0:c0 + len(r)] = (disp * rt.coord_w[None]).reshape(len(r), -1)
        if want_pose:
            head[c0:c0 + len(r)] = al.head_rotation
            eyes[c0:c0 + len(r)] = pose.eye_gaze(al.points, ref)
    return _Prepared(rt, dmat, head, eyes)


def _residual(rt: _Retarget, w: np.ndarray, dmat: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Per-frame RMS (x, y) misfit of the solved rig, in IOD units (confidence-weighted)."""
    out = np.empty(len(w))
    n = len(rt.gains)
    for c0 in range(0, len(w), chunk):
        diff = (w[c0:c0 + chunk] @ rt.a.T - dmat[c0:c0 + chunk]).reshape(-1, n, 3)[..., :2]
        out[c0:c0 + chunk] = np.sqrt((diff ** 2).sum(-1).mean(-1))
    return out


def _refine_neutral(k0: int, sample: np.ndarray, geo_scores: np.ndarray, setup, prior: float,
                    candidates: int = 6, fit_frames: int = 120) -> int:
    """Pick the rest frame the rig explains best.

    Candidates: the best frames by the geometric score, and by weights solved
    (unbounded below) relative to the provisional neutral ``k0`` - see
    :func:`neutral.pick_neutral_from_weights`.  For each candidate the take's
    displacements from it are solved with 0 <= w <= 1: from the true rest
    frame every frame is reachable with non-negative weights, from a frame
    showing an expression (a pucker, a half blink) the others need negative
    ones and leave a residual.  The candidate with the smallest mean
    residual wins.
    """
    prep = setup(k0, rows=sample)
    rel = solve_bounded(prep.rt.a, prep.dmat, prior=max(prior, 1e-2), lo=-1.5, hi=1.5, iters=200)
    low = np.percentile(rel, 2.0, axis=0)
    rel_scores = np.clip(rel - low, 0, None).sum(axis=1)
    cands = [sample[i] for i in np.argsort(geo_scores)[:candidates]]
    cands += [sample[i] for i in np.argsort(rel_scores)[:candidates]]
    cands = list(dict.fromkeys(int(c) for c in cands + [k0]))
    fit_rows = sample[np.linspace(0, len(sample) - 1, min(fit_frames, len(sample))).round().astype(int)]
    best, best_err = k0, np.inf
    for c in cands:
        p = setup(c, rows=fit_rows)
        w = solve_bounded(p.rt.a, p.dmat, prior=prior, iters=200)
        err = float(_residual(p.rt, w, p.dmat).mean())
        if err < best_err:
            best, best_err = c, err
    return best


def solve_take(trk: Track, basis: RigBasis, neutral_frame: int | None = None, smoothing: float = 0.5,
               prior: float = 1e-3, z_weight: float = 0.3, region_scale: bool = True, report=None) -> Take:
    """Solve a tracked take against the rig.

    neutral_frame: a video frame index to use as the actor's neutral, or
    None to pick the most neutral frame automatically.  smoothing: One Euro
    strength 0..1 (0 = raw).
    """
    found = trk.found
    src = trk.source or "the video"
    if not found.any():
        raise FaceForgeError(f"No face was found in any of the {len(found)} frames of {src}: use a take where "
                             "the face is visible, lit and turned toward the camera")
    if report:
        report(0.0, "separating head pose")
    pts = trk.points[found]  # (F', 478, 3) float32, image frame
    # Provisional reference: the first face; score neutrality on (a sample of) shapes aligned to it.
    ref0, _, _ = pose.normalise(pose.to_camera_frame(pts[0]))
    sample = np.linspace(0, len(pts) - 1, min(len(pts), 2000)).round().astype(int)
    geo = neutral.neutral_scores(pose.align(pose.to_camera_frame(pts[sample]), ref0).points)
    if neutral_frame is None:
        k_neutral = int(sample[np.argmin(geo)])
        auto = True
    else:
        hits = np.flatnonzero(trk.indices[found] == int(neutral_frame))
        if not len(hits):
            if not np.any(trk.indices == int(neutral_frame)):
                raise FaceForgeError(f"Neutral frame {neutral_frame} is outside the solved range "
                                     f"{int(trk.indices[0])}-{int(trk.indices[-1])}: choose a frame inside it")
            raise FaceForgeError(f"No face was found on neutral frame {neutral_frame}: choose another frame "
                                 "(or Auto)")
        k_neutral = int(hits[0])
        auto = False

    def setup(k, rows=None, want_pose=False):
        return _prepare(pts, k, rows, basis, z_weight, region_scale, want_pose)

    if auto and len(pts) > 2:
        k_neutral = _refine_neutral(k_neutral, sample, geo, setup, prior)
    prep = setup(k_neutral, want_pose=True)
    rt, dmat = prep.rt, prep.dmat
    if report:
        report(0.3, f"solving {len(basis.names)} shapes on {len(dmat)} frames")
    w = solve_bounded(rt.a, dmat, prior=prior)
    # Residual of the solved rig against the (retargeted) landmarks, image plane, IOD units.
    res = _residual(rt, w, dmat)
    eyes = prep.eyes
    rotvec = _rotations_to_rotvec(prep.head_rotation)

    f_all = len(found)
    times = trk.times

    def expand(x, fill=0.0):
        full = np.full((f_all,) + x.shape[1:], fill, dtype=np.float64)
        full[found] = x
        return full

    weights = _bridge(expand(w), found, times)
    rv = _bridge(expand(rotvec), found, times)
    eye = _bridge(expand(eyes), found, times)
    if report:
        report(0.8, "smoothing")
    if smoothing > 0:
        k = weights.shape[1]
        both = filters.smooth(np.concatenate([weights, rv, eye.reshape(f_all, -1)], axis=1), times, smoothing)
        weights = np.clip(both[:, :k], 0.0, 1.0)
        rv = both[:, k:k + 3]
        eye = both[:, k + 3:].reshape(eye.shape)
    residual = expand(res, np.nan)
    stats = {"video_frames": f_all, "faces_found": int(found.sum()), "bridged": int((~found).sum()),
             "residual_median_iod": float(np.nanmedian(residual)),
             "residual_p95_iod": float(np.nanpercentile(residual, 95)),
             "neutral_frame": int(trk.indices[found][k_neutral]), "neutral_auto": auto}
    if report:
        report(1.0, "solved")
    return Take(times, trk.indices.copy(), tuple(basis.names), weights, _rotvec_to_rotations(rv), eye, found,
                int(trk.indices[found][k_neutral]), auto, residual, stats)


def solve_image(points: np.ndarray, basis: RigBasis, neutral_points: np.ndarray | None = None,
                prior: float = 1e-2, z_weight: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One face -> (weights (K,), head rotation (3, 3) camera frame, eyes (2, 2), residual IOD).

    points: (478, 3) image pixels.  Without ``neutral_points`` (the same
    person at rest) the character's own neutral stands in for the actor's, so
    differences in face shape read as expression; a neutral photo of the same
    person removes that bias.
    """
    cam = pose.to_camera_frame(np.asarray(points)[None, :NUM_POINTS])
    if neutral_points is not None:
        reference, _, _ = pose.normalise(pose.to_camera_frame(np.asarray(neutral_points)[:NUM_POINTS]))
        al = pose.align(cam, reference)
        rt = _retarget(basis, reference, z_weight, True)
        n = len(rt.gains)
        disp = (al.points[:, :n] - reference[None, :n]) * rt.gains[None]
        eyes = pose.eye_gaze(al.points, reference)[0]
    else:
        reference, _, _ = pose.normalise(cam[0])
        al = pose.align(cam, reference)
        rt = _retarget(basis, reference, z_weight, False)
        # Head rotation relative to the character facing the camera.
        al.head_rotation = pose.similarity(basis.neutral[pose.STABLE], cam[0][pose.STABLE]).rotation
        n = len(rt.gains)
        disp = al.points[:, :n] - rt.char_neutral[None]
        char_full = np.concatenate([rt.char_neutral, reference[n:]]) if n < len(reference) else rt.char_neutral
        eyes = pose.eye_gaze(al.points, char_full)[0] if n >= NUM_POINTS else np.zeros((2, 2))
    dmat = (disp * rt.coord_w[None]).reshape(1, -1)
    w = solve_bounded(rt.a, dmat, prior=prior)
    fit = np.einsum("fk,kld->fld", w, rt.deltas)
    res = float(np.sqrt(((fit[..., :2] - disp[..., :2]) ** 2).sum(-1).mean()))
    return w[0], al.head_rotation[0], eyes, res


# --- files -------------------------------------------------------------------------

def track_file(path: str, start: int = 0, end: int | None = None, max_side: int | None = 1280,
               report=None, detector=None) -> Track:
    """Decode ``path`` (streaming) and track its face: frames ``start <= index < end``.

    One MediaPipe model in tracking mode for the whole take (or ``detector``).
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
        frames = reader.frames(start=start, end=end, max_side=max_side)
        try:
            import os

            return track(frames, det, total=total, report=report, source=os.path.basename(info.path),
                         fps=info.fps)
        finally:
            frames.close()  # stops the decode thread before the file is released (cancel, errors)
            if own:
                det.close()
