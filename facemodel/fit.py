"""Fit the face model to MediaPipe's 478 landmarks: pose, identity, expression (numpy only).

Inputs
------
``landmarks`` (478, 3) or (F, 478, 3) in any right-handed frame and any units:

* 3D points on a mesh (any scale, rotation, position) - ``depth_weight=1``;
* an image's MediaPipe output ``FaceLandmarks.points`` (x, y pixels, y down, z relative
  depth at x's scale) as they are: a weak-perspective 3D observation whose depth is
  less certain - ``depth_weight=IMAGE_DEPTH_WEIGHT`` (0.2; weighs the third axis of
  the observation frame).

``weights`` (478,) or (F, 478) per-point confidence >= 0 (None: all 1); a NaN coordinate
marks a missing point (weight 0).

Model
-----
``landmarks ~ pose(base + S @ identity + E @ expression)`` with ``pose`` a similarity
(:class:`Pose`: scale, rotation, translation; model frame -> observation frame), ``S``
(478, 3, K) and ``E`` (478, 3, 52) the landmark rows of the model
(:meth:`FaceModel.landmark_basis`; at the irises ``E`` holds the eyeball turn,
linearised).  Minimised, in model metres with landmark noise ``noise`` (default 2 mm)::

    sum_l  c_l rho(|D R^T (y_l - pose(x_l))| / scale) / noise^2      data (Huber IRLS, D = depth weight)
    + |identity|^2                                                    Gaussian prior (unit-variance modes)
    + sparsity * sum(w) + ridge/2 |w|^2                               expression, 0 <= w <= 1
    + antagonist * w_a w_b for pairs that oppose (mouthLeft/Right, eyeLookUp/Down and In/Out
      of one eye, mouthSmile/Frown and eyeBlink/Wide of one side, jawLeft/Right); at the
      end the weaker of a pair still both on is switched off and the rest re-solved
    + gaze/2 (yaw_L - yaw_R)^2 + gaze/2 (pitch_L - pitch_R)^2         both eyes look one way
    + smooth/2 |w - w_previous|^2                                     video (``previous``)

solved by alternation: pose (Gauss-Newton on the similarity), expression (a 52-variable
bounded QP, projected Newton on the free set), identity (linear least squares with
the prior; :func:`fit_identity` only), robust weights (Huber on each landmark's
residual, scale from the median residual; points beyond ``reject`` scales get 0).

Outputs (:class:`ExpressionFit`, :class:`IdentityFit`): weights (52,), identity (K,),
:class:`Pose` per frame, the fitted landmarks in the observation frame, the final
per-point weights and the residual per region (mean distance / IOD of the fitted head;
in the observation's x-y plane when ``depth_weight < 1``).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from ..core.arkit import ARKIT_NAMES, INDEX
from ..core.errors import FaceForgeError
from ..rigging import regions as R
from .model import FaceModel, Pose

NUM_LANDMARKS = 478
IMAGE_DEPTH_WEIGHT = 0.2
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
_EYES_L = list(R.EYE_LEFT_UPPER + R.EYE_LEFT_LOWER)
_EYES_R = list(R.EYE_RIGHT_UPPER + R.EYE_RIGHT_LOWER)


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
    sparsity: float = 1.0
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


def _pose_gn(x: np.ndarray, y: np.ndarray, c: np.ndarray, dvec: np.ndarray, pose: Pose, fixed_scale: bool,
             steps: int = 2) -> Pose:
    """Gauss-Newton on the similarity: min sum c |D (y - s R x - t)|^2 (left-multiplied updates)."""
    s, rot, t = pose.scale, pose.rotation, pose.translation
    for _ in range(steps):
        p = s * x @ rot.T  # (L, 3)
        r = (y - p - t) * dvec
        # d(pred)/d(omega) = -[p]x, d/d(log s) = p, d/dt = I; J = D * those
        jw = -_skew(p) * dvec[None, :, None]
        jk = (p * dvec)[:, :, None]
        jt = np.broadcast_to(np.diag(dvec), (len(p), 3, 3))
        j = np.concatenate([jw, jk, jt], axis=2)  # (L, 3, 7)
        if fixed_scale:
            j = j[:, :, [0, 1, 2, 4, 5, 6]]
        jc = j * c[:, None, None]
        a = np.einsum("lik,lim->km", jc, j)
        b = np.einsum("lik,li->k", jc, r)
        a += np.eye(len(a)) * 1e-9 * max(np.trace(a), 1e-12)
        delta = np.linalg.solve(a, b)
        rot = _rodrigues(delta[:3]) @ rot
        if fixed_scale:
            t = t + delta[3:]
        else:
            s = s * float(np.exp(np.clip(delta[3], -0.5, 0.5)))
            t = t + delta[4:]
    u, _, vt = np.linalg.svd(rot)
    return Pose(s, u @ vt, t)


def box_qp(h: np.ndarray, g: np.ndarray, x0: np.ndarray, hi: np.ndarray, iters: int = 40) -> np.ndarray:
    """min 1/2 x'Hx - g'x subject to 0 <= x <= hi (projected Newton on the free variables, Armijo
    search along the projected path).  H (n, n) symmetric positive definite."""
    x = np.clip(x0, 0.0, hi)
    f = 0.5 * x @ h @ x - g @ x
    for _ in range(iters):
        grad = h @ x - g
        free = ~(((x <= 0.0) & (grad > 0)) | ((x >= hi) & (grad < 0)))
        if not free.any():
            break
        step = np.zeros_like(x)
        hf = h[np.ix_(free, free)]
        try:
            step[free] = -np.linalg.solve(hf, grad[free])
        except np.linalg.LinAlgError:
            step[free] = -grad[free] / np.maximum(np.diag(hf), 1e-12)
        t = 1.0
        while True:
            xn = np.clip(x + t * step, 0.0, hi)
            fn = 0.5 * xn @ h @ xn - g @ xn
            if fn <= f + 1e-4 * grad @ (xn - x) or t < 1e-3:
                break
            t *= 0.5
        if fn > f:  # no progress along Newton: a projected gradient step
            xn = np.clip(x - grad / max(np.abs(np.diag(h)).max(), 1e-12), 0.0, hi)
            fn = 0.5 * xn @ h @ xn - g @ xn
            if fn >= f:
                break
        done = np.abs(xn - x).max() < 1e-6
        x, f = xn, fn
        if done:
            break
    return x


# --- observations ------------------------------------------------------------------------


def _observations(landmarks, weights):
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
    return float(np.linalg.norm(points[_EYES_L].mean(0) - points[_EYES_R].mean(0)))


class _Frame:
    """What the per-frame solves need for one head (identity): landmark rows and regulariser matrices."""

    def __init__(self, model: FaceModel, identity: np.ndarray | None, st: Settings):
        self.base, self.s_rows, self.e_rows = model.landmark_basis(identity)
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
        self.pairs = np.array([(INDEX[a], INDEX[b]) for a, b in ANTAGONISTS])

    def shape(self, w: np.ndarray) -> np.ndarray:
        return self.base + self.e_rows @ w

    def solve_expression(self, y, c, dvec, pose: Pose, w0, previous, smooth):
        """Bounded QP for the 52 weights given the pose (residuals in model metres / noise)."""
        st = self.st
        dr = dvec[:, None] * pose.rotation  # D R
        z = ((y - pose.translation) / pose.scale) * dvec - self.base @ dr.T  # (L, 3)
        m = np.einsum("ij,ljk->lik", dr, self.e_rows)  # (L, 3, 52)
        sq = np.sqrt(c / st.noise ** 2)
        mw = (m * sq[:, None, None]).reshape(-1, 52)
        h = mw.T @ mw + self.reg
        g = mw.T @ (z * sq[:, None]).ravel() - st.sparsity
        if previous is not None and smooth > 0:
            h = h + smooth * np.eye(52)
            g = g + smooth * previous
        hi = np.ones(52)
        w = box_qp(h, g, w0, hi)
        if st.exclusive:
            for _ in range(3):
                both = (w[self.pairs[:, 0]] > 0.02) & (w[self.pairs[:, 1]] > 0.02)
                if not both.any():
                    break
                for a, b in self.pairs[both]:
                    hi[b if w[a] >= w[b] else a] = 0.0
                w = box_qp(h, g, w, hi)
        return w


def _robust(e: np.ndarray, c0: np.ndarray, st: Settings) -> np.ndarray:
    """Huber weights times the confidences from per-point residuals e (L,) (model metres)."""
    valid = c0 > 0
    scale = max(st.noise * 0.5, 1.4826 * float(np.median(e[valid])))
    k = st.huber * scale
    w = np.where(e <= k, 1.0, k / np.maximum(e, 1e-12))
    w[e > st.reject * scale] = 0.0
    return c0 * w


def _residuals(y, fitted, c0, dvec, s, iod_model):
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


def _settings(depth_weight, kwargs) -> Settings:
    st = Settings(depth_weight=float(depth_weight))
    for k, v in kwargs.items():
        if not hasattr(st, k):
            raise TypeError(f"unknown fitting setting {k!r}")
        setattr(st, k, v)
    return st


def _fit_frame(fr: _Frame, y, c0, dvec, pose: Pose | None, w0, previous, smooth, iters: int, fixed_scale):
    """Alternate pose / expression / robust weights for one frame; returns (w, pose, c)."""
    st = fr.st
    w = np.zeros(52) if w0 is None else np.array(w0, float)
    c = c0.copy()
    if pose is None:
        s, rot, t = _umeyama(fr.shape(w), y, c0, scale=st.scale)
        pose = Pose(s, rot, t)
    for it in range(iters):
        pose = _pose_gn(fr.shape(w), y, c, dvec, pose, fixed_scale)
        w = fr.solve_expression(y, c, dvec, pose, w, previous, smooth)
        if it >= 1 or w0 is not None:
            fitted = pose.apply(fr.shape(w))
            e = np.linalg.norm((y - fitted) * dvec, axis=1) / pose.scale
            c = _robust(e, c0, st)
    return w, pose, c


# --- public --------------------------------------------------------------------------------

_FRAMES: OrderedDict = OrderedDict()


def _frame_for(model: FaceModel, identity, st: Settings) -> _Frame:
    key = (id(model), None if identity is None else np.asarray(identity, np.float64).tobytes(),
           tuple(sorted((k, v) for k, v in vars(st).items() if k not in ("smooth",))))
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
                   smooth: float | None = None, depth_weight: float = 1.0, iterations: int | None = None,
                   **settings) -> ExpressionFit:
    """Pose + 52 ARKit weights of one frame for a known head.

    ``landmarks`` (478, 3) (see the module docstring for frames and units), ``identity`` (K,)
    (None: the average head), ``weights`` (478,) confidences (NaN points are missing),
    ``previous``: the last frame's fit (video): warm start + temporal smoothness ``smooth``
    (default 2, in units of the data term; 0 turns it off), ``depth_weight``: 1 for 3D points,
    :data:`IMAGE_DEPTH_WEIGHT` for an image.  ``settings``: fields of :class:`Settings`
    (``sparsity``, ``antagonist``, ``noise``, ``scale`` (fix the similarity's scale)...)."""
    st = _settings(depth_weight, settings)
    if smooth is not None:
        st.smooth = float(smooth)
    y, c0, _ = _observations(landmarks, weights)
    y, c0 = y[0], c0[0]
    fr = _frame_for(model, identity, st)
    dvec = np.array([1.0, 1.0, np.sqrt(st.depth_weight)])
    if previous is not None:
        n = 2 if iterations is None else iterations
        w, pose, c = _fit_frame(fr, y, c0, dvec, previous.pose.copy(), previous.expression, previous.expression,
                                st.smooth, n, st.scale is not None)
    else:
        n = 5 if iterations is None else iterations
        w, pose, c = _fit_frame(fr, y, c0, dvec, None, None, None, 0.0, n, st.scale is not None)
    shape = fr.shape(w)
    fitted = pose.apply(shape)
    res = _residuals(y, fitted, c0, dvec, pose.scale, _iod(shape))
    return ExpressionFit(w, pose, fitted, c, res, identity=None if identity is None else np.asarray(identity))


def fit_identity(model: FaceModel, landmarks, weights=None, depth_weight: float = 1.0, iterations: int = 8,
                 max_frames: int = 24, **settings) -> IdentityFit:
    """Identity (K,) shared by one or several frames, with each frame's pose and expression.

    ``landmarks`` (478, 3) or (F, 478, 3); ``weights`` (478,) / (F, 478); ``depth_weight`` as in
    :func:`fit_expression`.  The identity is solved on at most ``max_frames`` frames (evenly
    spread); every frame then gets its own pose and expression on that identity."""
    st = _settings(depth_weight, settings)
    y_all, c_all, _ = _observations(landmarks, weights)
    nf = len(y_all)
    sel = np.unique(np.linspace(0, nf - 1, min(nf, max_frames)).round().astype(int))
    y, c0 = y_all[sel], c_all[sel]
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
        for i in range(f):
            poses[i] = _pose_gn(fr.shape(w[i]), y[i], c[i], dvec, poses[i], fixed_scale)
            w[i] = fr.solve_expression(y[i], c[i], dvec, poses[i], w[i], None, 0.0)
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
            wj, pj, cj = _fit_frame(fr_final, y_all[j], c_all[j], dvec, poses[i], w[i], None, 0.0, 2, fixed_scale)
        else:
            wj, pj, cj = _fit_frame(fr_final, y_all[j], c_all[j], dvec, None, None, None, 0.0, 5, fixed_scale)
        out_w[j], out_c[j] = wj, cj
        out_pose.append(pj)
        shape = fr_final.shape(wj)
        out_fit[j] = pj.apply(shape)
        for name, v in _residuals(y_all[j], out_fit[j], c_all[j], dvec, pj.scale, _iod(shape)).items():
            res[name][j] = v
    return IdentityFit(full, out_w, out_pose, out_fit, out_c, res, iterations=iterations)


__all__ = ["ExpressionFit", "IdentityFit", "Settings", "fit_expression", "fit_identity", "box_qp",
           "landmark_regions", "REGIONS", "ANTAGONISTS", "IMAGE_DEPTH_WEIGHT", "NOISE_M"]
