"""Fit the face model to MediaPipe's 478 landmarks: pose, identity, expression (numpy only).

Inputs
------
``landmarks`` (478, 3) or (F, 478, 3) in any right-handed frame and any units:

* 3D points on a mesh (any scale, rotation, position) - ``depth_weight=1``;
* an image's MediaPipe output ``FaceLandmarks.points`` (x, y pixels, y down, z relative
  depth at x's scale) as they are: a weak-perspective 3D observation whose depth is
  much less certain - ``depth_weight=IMAGE_DEPTH_WEIGHT`` (0.02; weighs the third axis
  of the observation frame: MediaPipe's depth is biased enough round the mouth to fake
  mouthShrugLower at higher weights) - and, when the camera is known,
  ``camera=(focal_px, cx, cy)`` to undo the perspective (POSIT: the points are moved to
  where a weak-perspective camera would see them, from the current fit's depths).

``weights`` (478,) or (F, 478) per-point confidence >= 0 (None: all 1); a NaN coordinate
marks a missing point (weight 0).

Model
-----
``landmarks ~ pose(base + S @ identity + E @ expression)`` with ``pose`` a similarity
(:class:`Pose`: scale, rotation, translation; model frame -> observation frame), ``S``
(478, 3, K) and ``E`` (478, 3, 52) the landmark rows of the model
(:meth:`FaceModel.landmark_basis`; at the irises ``E`` holds the eyeball turn,
linearised).  By default (``detector=True``) ``E``'s x and y are how MediaPipe's points
move for each shape, measured on renders of the model (MediaPipe follows subtle shapes
only partly: cheekSquint 0.2, eyeSquint 0.3, mouthFrown 0.35 of the surface's motion);
``detector=False`` uses the surface's own motion (exact points on a head of this model).
Minimised, in model metres with landmark noise ``noise`` (default 2 mm)::

    sum_l  c_l rho(|D R^T (y_l - pose(x_l))| / scale) / noise^2      data (Huber IRLS, D = depth weight)
    + |identity|^2                                                    Gaussian prior (unit-variance modes)
    + sparsity * sum(w) + ridge/2 |w|^2                               expression, 0 <= w <= 1
    + antagonist * w_a w_b for pairs that oppose (mouthLeft/Right, eyeLookUp/Down and In/Out
      of one eye, mouthSmile/Frown and eyeBlink/Wide of one side, jawLeft/Right); at the
      end the weaker of a pair still both on is switched off and the rest re-solved
    + gaze/2 (yaw_L - yaw_R)^2 + gaze/2 (pitch_L - pitch_R)^2         both eyes look one way
    + smooth/2 |w - w_previous|^2                                     video (``previous``)
    + gaps/2 sum_p c_p |D R^T (y_a - y_b)/scale - (x_a - x_b)|^2 / noise^2
                                                                      the openings (``GAP_PAIRS``:
      upper/lower lid and inner-lip pairs) matched as such, whatever the line the lids or lips
      meet on (MediaPipe closes a real eye on another line than the scans'); the pose taken as fixed
    subject to mouthClose <= jawOpen (ARKit's mouthClose closes the lips of an open jaw)

solved by Gauss-Newton steps on pose and expression together (each a bounded QP in the
similarity's update and the 52 weights, in the model frame: projected Newton on the free
variables, LAPACK Cholesky solves), robust weights in between (Huber on each landmark's
residual, scale from the median residual; points beyond ``reject`` scales get 0) and, in
:func:`fit_identity`, the identity by linear least squares with its prior, alternating.

Outputs (:class:`ExpressionFit`, :class:`IdentityFit`): weights (52,), identity (K,),
:class:`Pose` per frame, the fitted landmarks in the observation frame, the final
per-point weights and the residual per region (mean distance / IOD of the fitted head over
the points kept: missing and rejected ones are left out;
in the observation's x-y plane when ``depth_weight < 1``).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg.lapack import dposv as _posv

from ..core.arkit import ARKIT_NAMES, INDEX
from ..core.errors import FaceForgeError
from ..rigging import regions as R
from .model import FaceModel, Pose

NUM_LANDMARKS = 478
IMAGE_DEPTH_WEIGHT = 0.02
NOISE_M = 0.002

ANTAGONISTS: tuple[tuple[str, str], ...] = (
    ("mouthLeft", "mouthRight"), ("jawLeft", "jawRight"),
    ("eyeLookUpLeft", "eyeLookDownLeft"), ("eyeLookUpRight", "eyeLookDownRight"),
    ("eyeLookInLeft", "eyeLookOutLeft"), ("eyeLookInRight", "eyeLookOutRight"),
    ("mouthSmileLeft", "mouthFrownLeft"), ("mouthSmileRight", "mouthFrownRight"),
    ("eyeBlinkLeft", "eyeWideLeft"), ("eyeBlinkRight", "eyeWideRight"),
)


def landmark_regions() -> dict[str, np.ndarray]:
    """Landmark ids per face region (residuals are reported per region); the rest is ``cheeks``."""
    lips = set(R.UPPER_LIP_OUTER + R.UPPER_LIP_INNER + R.LOWER_LIP_OUTER + R.LOWER_LIP_INNER)
    eyes = set(R.EYE_LEFT_UPPER + R.EYE_LEFT_LOWER + R.EYE_RIGHT_UPPER + R.EYE_RIGHT_LOWER)
    brows = set(R.BROW_LEFT + R.BROW_RIGHT)
    irises = set(R.IRIS_LEFT + R.IRIS_RIGHT)
    oval = set(R.FACE_OVAL)
    nose = {1, 2, 4, 5, 6, 19, 94, 97, 98, 168, 195, 197, 326, 327, 45, 275, 220, 440, 115, 344, 129, 358, 102,
            331, 48, 278, 64, 294, 240, 460, 75, 305, 79, 309, 166, 392, 218, 438, 237, 457, 44, 274}
    rest = set(range(468)) - lips - eyes - brows - irises - oval - nose
    return {name: np.array(sorted(ids)) for name, ids in (("brows", brows), ("eyes", eyes), ("irises", irises),
                                                           ("nose", nose), ("lips", lips), ("oval", oval),
                                                           ("cheeks", rest))}


REGIONS = landmark_regions()
# Opening pairs (upper, lower) for ``Settings.gaps``: the lids of both eyes and the inner lips, corners left out.
GAP_PAIRS = np.array([pair for up, lo in ((R.EYE_LEFT_UPPER, R.EYE_LEFT_LOWER), (R.EYE_RIGHT_UPPER, R.EYE_RIGHT_LOWER),
                                          (R.UPPER_LIP_INNER, R.LOWER_LIP_INNER))
                      for pair in zip(up[1:-1], lo[1:-1])])
EYES_L = list(R.EYE_LEFT_UPPER + R.EYE_LEFT_LOWER)
EYES_R = list(R.EYE_RIGHT_UPPER + R.EYE_RIGHT_LOWER)


# --- results -------------------------------------------------------------------------


@dataclass(eq=False)
class ExpressionFit:
    """One frame: ``expression`` (52,) ARKit weights 0..1, ``pose`` (model -> observation frame),
    ``landmarks`` (478, 3) the fitted points in the observation frame, ``weights`` (478,) the final
    per-point weights (0: missing or rejected), ``residual`` {region: mean distance / IOD}."""

    expression: np.ndarray
    pose: Pose
    landmarks: np.ndarray
    weights: np.ndarray
    residual: dict
    identity: np.ndarray | None = None

    def weights_dict(self) -> dict[str, float]:
        return {n: float(w) for n, w in zip(ARKIT_NAMES, self.expression)}


@dataclass(eq=False)
class IdentityFit:
    """``identity`` (K,), and per frame: ``expression`` (F, 52), ``poses`` [Pose] * F, ``landmarks``
    (F, 478, 3) fitted (observation frame), ``weights`` (F, 478), ``residual`` {region: (F,) / IOD}."""

    identity: np.ndarray
    expression: np.ndarray
    poses: list
    landmarks: np.ndarray
    weights: np.ndarray
    residual: dict
    iterations: int = 0

    def frame(self, f: int) -> ExpressionFit:
        return ExpressionFit(self.expression[f], self.poses[f], self.landmarks[f], self.weights[f],
                             {k: float(v[f]) for k, v in self.residual.items()}, identity=self.identity)


@dataclass
class Settings:
    """Fitting weights (see the module docstring; data term in units of ``noise``)."""

    depth_weight: float = 1.0
    noise: float = NOISE_M
    sparsity: float | np.ndarray = 4.0  # or (52,): one per ARKit shape
    ridge: float = 0.5
    antagonist: float = 20.0
    exclusive: bool = True
    gaze: float = 20.0
    smooth: float = 2.0
    identity_prior: float = 1.0
    huber: float = 2.0
    reject: float = 6.0
    scale: float | None = None
    n_modes: int | None = None
    camera: tuple | None = None  # (focal_px, cx, cy): image points under a pinhole camera
    detector: bool = True  # MediaPipe's points (how they follow each shape); False: surface points
    gaps: float = 0.0  # weight of the opening terms (lids, inner lips: ``GAP_PAIRS``), units of the data term


# --- small solvers ----------------------------------------------------------------------


def _skew(p: np.ndarray) -> np.ndarray:
    """(N, 3) -> (N, 3, 3) cross-product matrices."""
    z = np.zeros(len(p))
    return np.stack([np.stack([z, -p[:, 2], p[:, 1]], -1), np.stack([p[:, 2], z, -p[:, 0]], -1),
                     np.stack([-p[:, 1], p[:, 0], z], -1)], axis=1)


def _rodrigues(w: np.ndarray) -> np.ndarray:
    th = float(np.linalg.norm(w))
    if th < 1e-12:
        return np.eye(3)
    k = w / th
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(th) * kx + (1 - np.cos(th)) * kx @ kx


def _umeyama(src: np.ndarray, dst: np.ndarray, c: np.ndarray, scale: float | None = None):
    """Weighted similarity ``dst ~ s R src + t`` (points (N, 3), weights (N,))."""
    c = c / max(c.sum(), 1e-12)
    ms, md = c @ src, c @ dst
    a, b = src - ms, dst - md
    cov = (b * c[:, None]).T @ a
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1
    rot = u @ np.diag(d) @ vt
    s = float((sig * d).sum() / max(c @ (a * a).sum(1), 1e-18)) if scale is None else float(scale)
    return s, rot, md - s * rot @ ms


def _spd_solve(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """Solve a x = b for a symmetric positive definite ``a`` (LAPACK posv: ~10x faster than
    ``np.linalg.solve`` at this size); None when ``a`` is not positive definite."""
    _, x, info = _posv(a, b, lower=False, overwrite_a=False, overwrite_b=False)
    return x if info == 0 else None


def box_qp(h: np.ndarray, g: np.ndarray, x0: np.ndarray, lo: np.ndarray, hi: np.ndarray,
           iters: int = 30) -> np.ndarray:
    """min 1/2 x'Hx - g'x subject to lo <= x <= hi (+-inf: unbounded; projected Newton on the free
    variables, Armijo search along the projected path).  H (n, n) symmetric positive definite."""
    x = np.minimum(np.maximum(x0, lo), hi)
    hx = h @ x
    f = 0.5 * x @ hx - g @ x
    for _ in range(iters):
        grad = hx - g
        free = ~(((x <= lo) & (grad > 0)) | ((x >= hi) & (grad < 0)))
        if not free.any():
            break
        step = np.zeros_like(x)
        ids = np.flatnonzero(free)
        sol = _spd_solve(h[np.ix_(ids, ids)], grad[ids])
        step[ids] = -sol if sol is not None else -grad[ids] / np.maximum(np.diag(h)[ids], 1e-12)
        t = 1.0
        while True:
            xn = np.minimum(np.maximum(x + t * step, lo), hi)
            hxn = h @ xn
            fn = 0.5 * xn @ hxn - g @ xn
            if fn <= f + 1e-4 * grad @ (xn - x) or t < 1e-3:
                break
            t *= 0.5
        if fn > f:  # no progress along Newton: a projected gradient step
            xn = np.minimum(np.maximum(x - grad / max(np.abs(np.diag(h)).max(), 1e-12), lo), hi)
            hxn = h @ xn
            fn = 0.5 * xn @ hxn - g @ xn
            if fn >= f:
                break
        done = np.abs(xn - x).max() < 1e-6
        x, hx, f = xn, hxn, fn
        if done:
            break
    return x


# --- observations ------------------------------------------------------------------------


def observations(landmarks, weights):
    """Landmarks (L, 3) or (F, L, 3) and their confidences -> (points, per-point weights, single frame?),
    missing points (NaN) weighted 0 (shared with ``facemodel.sequence``)."""
    y = np.asarray(landmarks, dtype=np.float64)
    single = y.ndim == 2
    if single:
        y = y[None]
    if y.ndim != 3 or y.shape[1:] != (NUM_LANDMARKS, 3):
        raise FaceForgeError(f"expected landmarks of shape (478, 3) or (F, 478, 3), got {np.shape(landmarks)}")
    c = np.ones(y.shape[:2]) if weights is None else np.broadcast_to(
        np.asarray(weights, dtype=np.float64), y.shape[:2]).copy()
    bad = ~np.isfinite(y).all(axis=2) | ~np.isfinite(c)
    c = np.where(bad, 0.0, np.clip(c, 0.0, None))
    y = np.where(bad[..., None], 0.0, y)
    if ((c > 0).sum(axis=1) < 12).any():
        raise FaceForgeError("too few landmarks to fit the face model (fewer than 12 with a weight)")
    return y, c, single


def _iod(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[EYES_L].mean(0) - points[EYES_R].mean(0)))


class _Frame:
    """What the per-frame solves need for one head (identity): landmark rows and regulariser matrices."""

    def __init__(self, model: FaceModel, identity: np.ndarray | None, st: Settings):
        self.base, self.s_rows, self.e_rows = model.landmark_basis(identity, detector=st.detector)
        self.st = st
        n = 52
        reg = np.eye(n) * st.ridge
        for a, b in ANTAGONISTS:
            reg[INDEX[a], INDEX[b]] += st.antagonist
            reg[INDEX[b], INDEX[a]] += st.antagonist
        for pat in ({"eyeLookOutLeft": 1, "eyeLookInLeft": -1, "eyeLookInRight": -1, "eyeLookOutRight": 1},
                    {"eyeLookUpLeft": 1, "eyeLookDownLeft": -1, "eyeLookUpRight": -1, "eyeLookDownRight": 1}):
            a = np.zeros(n)
            for k, v in pat.items():
                a[INDEX[k]] = v
            reg += st.gaze * np.outer(a, a)
        self.reg = reg
        self._e_flat = np.ascontiguousarray(self.e_rows.reshape(-1, n))
        self._ref = None
        self.pairs = np.array([(INDEX[a], INDEX[b]) for a, b in ANTAGONISTS])

    def shape(self, w: np.ndarray) -> np.ndarray:
        return self.base + self.e_rows @ w

    def _gram(self, c: np.ndarray) -> np.ndarray:
        """sum_l c_l E_l' E_l (52, 52): cached for one weight vector, corrected on the rows that differ."""
        if self._ref is None or len(self._ref[0]) != len(c):
            self._ref = (c.copy(), self._e_flat.T @ (self._e_flat * np.repeat(c, 3)[:, None]))
        ref_c, ref_a = self._ref
        diff = np.flatnonzero(c != ref_c)
        if len(diff) > 0.3 * len(c):  # many changed (a new frame's confidences): new reference
            self._ref = (c.copy(), self._e_flat.T @ (self._e_flat * np.repeat(c, 3)[:, None]))
            return self._ref[1]
        if not len(diff):
            return ref_a
        ed = self.e_rows[diff].reshape(-1, 52)
        return ref_a + ed.T @ (ed * np.repeat(c[diff] - ref_c[diff], 3)[:, None])

    def solve(self, y, c, dvec, pose: Pose, w, previous, smooth, fixed_scale: bool):
        """One Gauss-Newton step on pose and expression together, in the model frame: a bounded QP
        in the similarity's update (rotation, log-scale, translation; free) and the 52 weights (0..1).
        Residuals in model metres / noise.  Returns (pose, w)."""
        st = self.st
        rot, s = pose.rotation, pose.scale
        xt = (y - pose.translation) @ rot / s  # observations in the model frame (L, 3)
        x = self.base + self.e_rows @ w  # current shape (L, 3)
        beta = 1.0 - dvec[2] ** 2  # G = R' D^2 R = I - beta r r'  (r: the observation's depth axis)
        r = rot[2]
        gm = np.eye(3) - beta * np.outer(r, r)
        # pose Jacobian (model frame): X + w x X + k X + tau
        jp = np.concatenate([-_skew(x),
                             x[:, :, None], np.broadcast_to(np.eye(3), (len(x), 3, 3))], axis=2)
        if fixed_scale:
            jp = jp[:, :, [0, 1, 2, 4, 5, 6]]
        np_ = jp.shape[2]
        cw = c / st.noise ** 2
        gjp = gm @ jp  # (L, 3, np_)
        gjc = gjp * cw[:, None, None]
        hpp = np.einsum("lik,lim->km", gjc, jp)
        hpe = gjc.reshape(-1, np_).T @ self._e_flat
        hee = self._gram(cw)
        if beta > 0:
            q = np.einsum("ldk,d->lk", self.e_rows, r)  # E_l' r
            hee = hee - beta * q.T @ (q * cw[:, None])
        u = (xt - self.base) @ gm  # G (x~ - B)
        gp = np.einsum("lik,li->k", gjc, xt - self.base)
        ge = self._e_flat.T @ (u * cw[:, None]).ravel()
        if st.gaps > 0:
            h_gap, g_gap = gap_terms(self.e_rows, (xt - self.base)[None], gm[None], cw[None], st.gaps)
            hee = hee + h_gap[0]
            ge = ge + g_gap[0]
        n = np_ + 52
        h = np.empty((n, n))
        h[:np_, :np_] = hpp + np.eye(np_) * 1e-9 * max(np.trace(hpp), 1e-12)
        h[:np_, np_:] = hpe
        h[np_:, :np_] = hpe.T
        h[np_:, np_:] = hee + self.reg
        g = np.concatenate([gp, ge - st.sparsity])
        if previous is not None and smooth > 0:
            h[np_:, np_:] += smooth * np.eye(52)
            g[np_:] += smooth * previous
        lo = np.r_[np.full(np_, -np.inf), np.zeros(52)]
        hi = np.r_[np.full(np_, np.inf), np.ones(52)]
        xq = _qp_close(h, g, np.r_[np.zeros(np_), w], lo, hi, np_)
        if st.exclusive:
            for _ in range(3):
                wx = xq[np_:]
                both = (wx[self.pairs[:, 0]] > 0.02) & (wx[self.pairs[:, 1]] > 0.02)
                if not both.any():
                    break
                for a, b in self.pairs[both]:
                    hi[np_ + (b if wx[a] >= wx[b] else a)] = 0.0
                xq = _qp_close(h, g, xq, lo, hi, np_)
        d = xq[:np_]
        rot_new = rot @ _rodrigues(d[:3])
        s_new = s if fixed_scale else s * float(np.exp(np.clip(d[3], -0.5, 0.5)))
        t_new = pose.translation + s * rot @ d[-3:]
        u_, _, vt = np.linalg.svd(rot_new)
        return Pose(s_new, u_ @ vt, t_new), xq[np_:]


def gap_terms(e_rows: np.ndarray, u: np.ndarray, gm: np.ndarray, cw: np.ndarray, weight: float):
    """The opening terms of F frames: (hessian (F, 52, 52), gradient (F, 52)) in the weights, for the
    expression rows ``e_rows`` (L, 3, 52), residuals before expression ``u`` (F, L, 3) (observation
    in the model frame minus the base head), metrics ``gm`` (F, 3, 3) and point weights ``cw`` (F, L)
    (confidence / noise^2; a pair counts with the smaller of its two)."""
    a, b = GAP_PAIRS[:, 0], GAP_PAIRS[:, 1]
    de = e_rows[a] - e_rows[b]  # (P, 3, 52)
    du = u[:, a] - u[:, b]  # (F, P, 3)
    cp = weight * np.minimum(cw[:, a], cw[:, b])  # (F, P)
    nf, npair = cp.shape
    ged = np.matmul(gm[:, None], de[None]).reshape(nf, 3 * npair, 52)  # G de, batched matrix products
    lhs = (cp[:, :, None, None] * de[None]).reshape(nf, 3 * npair, 52)
    h = np.matmul(np.transpose(lhs, (0, 2, 1)), ged)
    g = np.matmul((cp[:, :, None] * du).reshape(nf, 1, 3 * npair), ged)[:, 0]
    return h, g


_JAW, _CLOSE = INDEX["jawOpen"], INDEX["mouthClose"]


def _qp_close(h, g, x0, lo, hi, offset: int) -> np.ndarray:
    """:func:`box_qp` with ARKit's mouthClose <= jawOpen (mouthClose closes the lips of an open jaw;
    alone it would push them through each other): where the bound QP breaks it, the two are tied
    (the constraint is active) and the QP solved again."""
    x = box_qp(h, g, x0, lo, hi)
    jaw, close = offset + _JAW, offset + _CLOSE
    if x[close] <= x[jaw] + 1e-6:
        return x
    n = len(x)
    keep = np.r_[0:close, close + 1:n]
    t = np.eye(n)[:, keep]
    t[close, jaw if jaw < close else jaw - 1] = 1.0
    y = box_qp(t.T @ h @ t, t.T @ g, x[keep], lo[keep], hi[keep])
    return t @ y


def _robust(e: np.ndarray, c0: np.ndarray, st: Settings) -> np.ndarray:
    """Huber weights times the confidences from per-point residuals e (L,) (model metres)."""
    valid = c0 > 0
    scale = max(st.noise * 0.5, 1.4826 * float(np.median(e[valid])))
    k = st.huber * scale
    w = np.where(e <= k, 1.0, k / np.maximum(e, 1e-12))
    w[e > st.reject * scale] = 0.0
    return c0 * w


def _residuals(y, fitted, c0, dvec, s, iod_model):
    """Mean distance per region / IOD over the points still weighted (missing and rejected left out)."""
    planar = dvec[2] < 1.0
    d = (y - fitted)[:, :2] if planar else (y - fitted)
    e = np.linalg.norm(d, axis=1) / (s * iod_model)
    out = {}
    for name, ids in REGIONS.items():
        ok = ids[c0[ids] > 0]
        out[name] = float(e[ok].mean()) if len(ok) else float("nan")
    ok = c0 > 0
    out["all"] = float(e[ok].mean())
    return out


def make_settings(depth_weight, kwargs) -> Settings:
    """:class:`Settings` from keyword settings (unknown names refused)."""
    st = Settings(depth_weight=float(depth_weight))
    for k, v in kwargs.items():
        if not hasattr(st, k):
            raise TypeError(f"unknown fitting setting {k!r}")
        setattr(st, k, v)
    return st


def _fit_frame(fr: _Frame, st: Settings, y, c0, dvec, pose: Pose | None, w0, previous, smooth, iters: int,
               fixed_scale):
    """Gauss-Newton steps on pose + expression, then robust weights, for one frame; returns (w, pose, c).
    ``st``: this call's settings (the camera may differ from the cached frame's)."""
    w = np.zeros(52) if w0 is None else np.array(w0, float)
    c = c0.copy()
    if pose is None:
        s, rot, t = _umeyama(fr.shape(w), y, c0, scale=st.scale)
        pose = Pose(s, rot, t)
    for it in range(iters):
        yy = y if st.camera is None else _weak(y, st.camera, pose, fr.shape(w))
        pose, w = fr.solve(yy, c, dvec, pose, w, previous, smooth, fixed_scale)
        if it >= 1 or w0 is not None:
            fitted = pose.apply(fr.shape(w))
            e = np.linalg.norm((yy - fitted) * dvec, axis=1) / pose.scale
            c = _robust(e, c0, st)
    return w, pose, c


def _weak(y: np.ndarray, camera, pose: Pose, shape: np.ndarray, inverse: bool = False) -> np.ndarray:
    """Image points under a pinhole camera (focal_px, cx, cy) -> the weak-perspective points the
    similarity models (POSIT): each point moves away from the principal point by its depth behind
    the model's origin over the origin's distance, ``1 + d / f`` (``inverse``: back to the image)."""
    f, cx, cy = camera
    d = pose.scale * (shape @ pose.rotation[2])  # depth offsets (pixels), observation z = away
    k = 1.0 + d / f
    if inverse:
        k = 1.0 / k
    out = np.array(y, dtype=np.float64, copy=True)
    out[:, 0] = cx + (out[:, 0] - cx) * k
    out[:, 1] = cy + (out[:, 1] - cy) * k
    return out


# --- public --------------------------------------------------------------------------------

_FRAMES: OrderedDict = OrderedDict()


def frame_for(model: FaceModel, identity, st: Settings) -> _Frame:
    """The landmark model of ``identity``'s head under ``st`` (cached per model, head and settings)."""
    key = (id(model), None if identity is None else np.asarray(identity, np.float64).tobytes(),
           tuple(sorted((k, tuple(np.ravel(v).tolist()) if isinstance(v, np.ndarray) else v)
                        for k, v in vars(st).items() if k not in ("smooth", "camera"))))
    fr = _FRAMES.get(key)
    if fr is None:
        fr = _Frame(model, None if identity is None else np.asarray(identity, np.float64), st)
        _FRAMES[key] = fr
        while len(_FRAMES) > 4:
            _FRAMES.popitem(last=False)
    else:
        _FRAMES.move_to_end(key)
    return fr


def fit_expression(model: FaceModel, landmarks, identity=None, weights=None, previous: ExpressionFit | None = None,
                   smooth: float | None = None, depth_weight: float = 1.0, camera=None,
                   iterations: int | None = None, **settings) -> ExpressionFit:
    """Pose + 52 ARKit weights of one frame for a known head.

    ``landmarks`` (478, 3) (see the module docstring for frames and units), ``identity`` (K,)
    (None: the average head), ``weights`` (478,) confidences (NaN points are missing),
    ``previous``: the last frame's fit (video): warm start + temporal smoothness ``smooth``
    (default 2, in units of the data term; 0 turns it off), ``depth_weight``: 1 for 3D points,
    :data:`IMAGE_DEPTH_WEIGHT` for an image; ``camera`` ``(focal_px, cx, cy)`` when the points are
    pixels of a pinhole image (perspective is undone POSIT-style; None: weak perspective).
    ``settings``: fields of :class:`Settings` (``sparsity``, ``antagonist``, ``noise``, ``scale``
    (fix the similarity's scale)...)."""
    st = make_settings(depth_weight, dict(settings, camera=camera))
    if smooth is not None:
        st.smooth = float(smooth)
    y, c0, _ = observations(landmarks, weights)
    y, c0 = y[0], c0[0]
    fr = frame_for(model, identity, st)
    dvec = np.array([1.0, 1.0, np.sqrt(st.depth_weight)])
    if previous is not None:
        n = 2 if iterations is None else iterations
        w, pose, c = _fit_frame(fr, st, y, c0, dvec, previous.pose.copy(), previous.expression, previous.expression,
                                st.smooth, n, st.scale is not None)
    else:
        n = 5 if iterations is None else iterations
        w, pose, c = _fit_frame(fr, st, y, c0, dvec, None, None, None, 0.0, n, st.scale is not None)
    shape = fr.shape(w)
    fitted = pose.apply(shape)
    if st.camera is not None:  # where the camera sees the fitted points
        fitted = _weak(fitted, st.camera, pose, shape, inverse=True)
    res = _residuals(y, fitted, c, dvec, pose.scale, _iod(shape))
    return ExpressionFit(w, pose, fitted, c, res, identity=None if identity is None else np.asarray(identity))


def fit_identity(model: FaceModel, landmarks, weights=None, depth_weight: float = 1.0, camera=None,
                 iterations: int = 8, max_frames: int = 24, **settings) -> IdentityFit:
    """Identity (K,) shared by one or several frames, with each frame's pose and expression.

    ``landmarks`` (478, 3) or (F, 478, 3); ``weights`` (478,) / (F, 478); ``depth_weight`` and
    ``camera`` as in :func:`fit_expression`.  The identity is solved on at most ``max_frames``
    frames (evenly spread); every frame then gets its own pose and expression on that identity."""
    st = make_settings(depth_weight, dict(settings, camera=camera))
    y_all, c_all, _ = observations(landmarks, weights)
    nf = len(y_all)
    sel = np.unique(np.linspace(0, nf - 1, min(nf, max_frames)).round().astype(int))
    y, c0 = y_all[sel], c_all[sel]
    y_raw = y
    k = model.n_identity if st.n_modes is None else int(st.n_modes)
    dvec = np.array([1.0, 1.0, np.sqrt(st.depth_weight)])
    fixed_scale = st.scale is not None
    alpha = np.zeros(k)
    fr = _Frame(model, None, st)
    s_rows = fr.s_rows[:, :, :k]
    base0 = fr.base.copy()
    f = len(y)
    w = np.zeros((f, 52))
    c = c0.copy()
    poses = []
    for i in range(f):
        s, rot, t = _umeyama(base0, y[i], c0[i], scale=st.scale)
        poses.append(Pose(s, rot, t))
    for it in range(iterations):
        if it in (2, 5):  # the eyeballs' turn at the irises follows the identity's eye centres
            fr = _Frame(model, alpha, st)
            fr.base = base0 + s_rows @ alpha
        # per frame: pose, expression
        if st.camera is not None:
            y = np.stack([_weak(y_raw[i], st.camera, poses[i], fr.shape(w[i])) for i in range(f)])
        for i in range(f):
            poses[i], w[i] = fr.solve(y[i], c[i], dvec, poses[i], w[i], None, 0.0, fixed_scale)
        # identity: sum_f sum_l c (x~ - S a)' G_f (x~ - S a) / noise^2 + prior |a|^2
        hsum = np.zeros((k, k))
        gsum = np.zeros(k)
        dmat = np.zeros((NUM_LANDMARKS, 3, 3))
        u = np.zeros((NUM_LANDMARKS, 3))
        for i in range(f):
            p = poses[i]
            gm = p.rotation.T @ np.diag(dvec ** 2) @ p.rotation  # G_f
            xt = (y[i] - p.translation) @ p.rotation / p.scale - (base0 + fr.e_rows @ w[i])
            dmat += c[i][:, None, None] * gm[None]
            u += c[i][:, None] * (xt @ gm.T)
        for a in range(3):
            for b in range(3):
                hsum += (s_rows[:, a, :] * dmat[:, a, b][:, None]).T @ s_rows[:, b, :]
        gsum = np.einsum("ldk,ld->k", s_rows, u)
        alpha = np.linalg.solve(hsum / st.noise ** 2 + st.identity_prior * np.eye(k), gsum / st.noise ** 2)
        fr.base = base0 + s_rows @ alpha
        if it >= 1:
            for i in range(f):
                fitted = poses[i].apply(fr.shape(w[i]))
                e = np.linalg.norm((y[i] - fitted) * dvec, axis=1) / poses[i].scale
                c[i] = _robust(e, c0[i], st)
    # every frame on the final identity
    full = np.zeros(model.n_identity)
    full[:k] = alpha
    fr_final = _Frame(model, full, st)
    out_w = np.zeros((nf, 52))
    out_pose, out_c, out_fit = [], np.zeros((nf, NUM_LANDMARKS)), np.zeros((nf, NUM_LANDMARKS, 3))
    res = {name: np.zeros(nf) for name in list(REGIONS) + ["all"]}
    where = {int(j): i for i, j in enumerate(sel)}
    for j in range(nf):
        if j in where:
            i = where[j]
            wj, pj, cj = _fit_frame(fr_final, st, y_all[j], c_all[j], dvec, poses[i], w[i], None, 0.0, 2, fixed_scale)
        else:
            wj, pj, cj = _fit_frame(fr_final, st, y_all[j], c_all[j], dvec, None, None, None, 0.0, 5, fixed_scale)
        out_w[j], out_c[j] = wj, cj
        out_pose.append(pj)
        shape = fr_final.shape(wj)
        out_fit[j] = pj.apply(shape)
        if st.camera is not None:
            out_fit[j] = _weak(out_fit[j], st.camera, pj, shape, inverse=True)
        for name, v in _residuals(y_all[j], out_fit[j], cj, dvec, pj.scale, _iod(shape)).items():
            res[name][j] = v
    return IdentityFit(full, out_w, out_pose, out_fit, out_c, res, iterations=iterations)


__all__ = ["ExpressionFit", "IdentityFit", "Settings", "fit_expression", "fit_identity", "box_qp",
           "landmark_regions", "REGIONS", "ANTAGONISTS", "IMAGE_DEPTH_WEIGHT", "NOISE_M"]
