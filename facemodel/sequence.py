"""Fit a whole take at once: pose + 52 ARKit weights for F frames of one head (numpy only).

:func:`fit_take` is :func:`facemodel.fit.fit_expression` for a video, vectorised over
frames, with the temporal prior *inside* the solve instead of a filter after it:

    sum_f  E_f(pose_f, w_f)                       the per-frame objective of fit_expression
                                                  (data term with Huber weights, sparsity, ridge,
                                                  antagonists, gaze coupling, 0 <= w <= 1,
                                                  mouthClose <= jawOpen)
    + smooth * sum_f huber(w_f - w_(f-1); jump)   temporal smoothness (units of the data term):
                                                  quadratic up to ``jump``, linear beyond

Each Gauss-Newton step linearises every frame's pose and expression together; the pose
(unbounded) is eliminated exactly per frame (Schur complement, a 7x7 solve), which leaves a
bounded QP in the weights of all frames coupled in time.  That QP is solved by accelerated
projected gradient (FISTA with a per-weight diagonal majoriser and adaptive restart) over
the (F, 52) array at once; the weaker of an antagonist pair still both on is then switched
off and the QP continued, as in ``fit_expression``.  Per frame the cost is a few batched
matrix products: the take costs a fraction of a millisecond per frame.

Inputs as :func:`facemodel.fit.fit_expression`: ``landmarks`` (F, 478, 3) in any right-handed
frame (image pixels with ``depth_weight=IMAGE_DEPTH_WEIGHT`` and ``camera=(focal_px, cx, cy)``,
or 3D points with ``depth_weight=1``), ``weights`` (F, 478) or (478,) confidences (NaN points
missing), ``identity`` (K,) the actor's head (from :func:`facemodel.fit.fit_identity`).
``link``: the last frame before this take (a :class:`TakeFit` row: ``(expression (52,),
Pose)``) when a long take is fitted in chunks: its weights join the temporal prior and its
pose starts the first frame.

Output: :class:`TakeFit`: ``expression`` (F, 52), per-frame similarity ``scale`` (F,),
``rotation`` (F, 3, 3), ``translation`` (F, 3) (model -> observation frame), ``weights``
(F, 478) final per-point weights (0: missing or rejected), ``residual`` (F,) mean distance
of the fitted points / IOD (image plane when ``depth_weight < 1``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core import blas
from ..core.arkit import INDEX
from .fit import EYES_L, EYES_R, frame_for, gap_terms, make_settings, observations
from .model import FaceModel, Pose

_JAW, _CLOSE = INDEX["jawOpen"], INDEX["mouthClose"]
_EPS = np.zeros((3, 3, 3))
_EPS[0, 1, 2] = _EPS[1, 2, 0] = _EPS[2, 0, 1] = 1.0
_EPS[0, 2, 1] = _EPS[2, 1, 0] = _EPS[1, 0, 2] = -1.0


@dataclass(eq=False)
class TakeFit:
    """F frames of one head: ``expression`` (F, 52), ``scale`` (F,), ``rotation`` (F, 3, 3),
    ``translation`` (F, 3) (model -> observation frame), ``weights`` (F, 478), ``residual`` (F,)."""

    expression: np.ndarray
    scale: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    weights: np.ndarray
    residual: np.ndarray

    def __len__(self) -> int:
        return len(self.expression)

    def pose(self, f: int) -> Pose:
        return Pose(float(self.scale[f]), self.rotation[f].copy(), self.translation[f].copy())

    def last(self) -> tuple[np.ndarray, Pose]:
        """(expression (52,), Pose) of the last frame: the ``link`` for the next chunk."""
        return self.expression[-1].copy(), self.pose(len(self) - 1)


class _Batch:
    """Per-identity constants for batched solves (cached on the identity's ``_Frame``)."""

    def __init__(self, fr):
        e = fr.e_rows  # (L, 3, 52)
        self.e = np.ascontiguousarray(e)
        self.e_flat = self.e.reshape(-1, 52)
        self.e_lk = self.e.reshape(len(e), -1)  # (L, 3 * 52)
        self.reg = fr.reg
        self.pairs = fr.pairs
        self._grams: dict = {}

    def gram(self, ref: np.ndarray) -> np.ndarray:
        """The data Gram for per-point weights ``ref`` (L,), any per-frame 3x3 metric G:
        M[a, b] = sum_l ref_l E_la' E_lb (3, 3, 52, 52); the last few cached."""
        key = ref.tobytes()
        m = self._grams.get(key)
        if m is None:
            if len(self._grams) >= 4:
                self._grams.pop(next(iter(self._grams)))
            m = self._grams[key] = np.einsum("lak,lbm->abkm", self.e * ref[:, None, None], self.e)
        return m


def _batch_for(fr) -> _Batch:
    b = getattr(fr, "_batch", None)
    if b is None:
        b = fr._batch = _Batch(fr)
    return b


def _umeyama(src: np.ndarray, dst: np.ndarray, c: np.ndarray, scale=None):
    """Weighted similarities ``dst_f ~ s R src_f + t`` for (F, L, 3) points and (F, L) weights."""
    c = c / np.maximum(c.sum(1, keepdims=True), 1e-12)
    ms = np.matmul(c[:, None], src)[:, 0]
    md = np.matmul(c[:, None], dst)[:, 0]
    a, b = src - ms[:, None], dst - md[:, None]
    cov = np.matmul(np.transpose(b * c[..., None], (0, 2, 1)), a)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones((len(c), 3))
    d[:, 2] = np.sign(np.linalg.det(u) * np.linalg.det(vt))
    d[d == 0] = 1.0
    rot = np.matmul(u * d[:, None], vt)
    if scale is None:
        s = (sig * d).sum(1) / np.maximum((c * (a * a).sum(2)).sum(1), 1e-18)
    else:
        s = np.full(len(c), float(scale))
    t = md - s[:, None] * np.matmul(rot, ms[..., None])[..., 0]
    return s, rot, t


def _weak(y, camera, s, rot, t, shape, inverse=False):
    """Batched :func:`facemodel.fit._weak` (POSIT: image points -> weak-perspective points)."""
    f, cx, cy = camera
    d = s[:, None] * np.matmul(shape, rot[:, 2, :, None])[..., 0]
    k = 1.0 + d / f
    if inverse:
        k = 1.0 / k
    out = np.array(y, dtype=np.float64, copy=True)
    out[..., 0] = cx + (out[..., 0] - cx) * k
    out[..., 1] = cy + (out[..., 1] - cy) * k
    return out


def _cross_matrix(v: np.ndarray) -> np.ndarray:
    """(F, 3) -> (F, 3, 3) with ``[v]x u = v x u``."""
    return np.einsum("ijk,fj->fik", _EPS, v)


def _rodrigues(v: np.ndarray) -> np.ndarray:
    th = np.linalg.norm(v, axis=1)
    k = v / np.maximum(th, 1e-12)[:, None]
    kx = _cross_matrix(k)
    s, c = np.sin(th)[:, None, None], np.cos(th)[:, None, None]
    return np.eye(3)[None] + s * kx + (1 - c) * (kx @ kx)


def _project(w, lo, hi, dm):
    """Clip to the box, then mouthClose <= jawOpen (projection in the diagonal metric ``dm``)."""
    w = np.minimum(np.maximum(w, lo), hi)
    bad = w[:, _CLOSE] > w[:, _JAW]
    if bad.any():
        a, b = dm[bad, _CLOSE], dm[bad, _JAW]
        m = (a * w[bad, _CLOSE] + b * w[bad, _JAW]) / (a + b)
        m = np.minimum(np.maximum(m, lo[bad, _JAW]), np.minimum(hi[bad, _JAW], hi[bad, _CLOSE]))
        w[bad, _CLOSE] = m
        w[bad, _JAW] = m
    return w


def _qp(h, g, w0, lo, hi, smooth, link, iters, tol, jump):
    """min sum_f 1/2 w_f'H_f w_f - g_f'w_f + smooth sum_f huber(w_f - w_(f-1); jump) (w_(-1) = ``link``)
    over lo <= w <= hi, mouthClose <= jawOpen.  FISTA with a diagonal majoriser and restarts."""
    dm = np.abs(h).sum(axis=2) + 4.0 * smooth + 1e-9  # Gershgorin: dm >= H + smooth * Laplacian
    step = 1.0 / dm
    w = _project(w0.copy(), lo, hi, dm)
    y = w.copy()
    tk = 1.0
    for _ in range(iters):
        grad = np.matmul(h, y[..., None])[..., 0] - g
        if smooth > 0:
            d = np.clip(y[1:] - y[:-1], -jump, jump)  # Huber: a change beyond ``jump`` costs linearly
            grad[1:] += smooth * d
            grad[:-1] -= smooth * d
            if link is not None:
                grad[0] += smooth * np.clip(y[0] - link, -jump, jump)
        w_new = _project(y - step * grad, lo, hi, dm)
        moved = w_new - w
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * tk * tk))
        # adaptive restart (O'Donoghue & Candes): momentum off where it points uphill
        restart = (np.einsum("fk,fk->f", grad, moved) > 0)[:, None]
        y = np.where(restart, w_new, w_new + ((tk - 1.0) / t_new) * moved)
        w, tk = w_new, (1.0 if restart.all() else t_new)
        if np.abs(moved).max() < tol:
            break
    return w


def fit_take(model: FaceModel, landmarks, identity=None, weights=None, depth_weight: float = 1.0, camera=None,
             smooth: float | None = None, jump: float = 0.05, link: tuple | None = None, iterations: int = 4,
             qp_iterations: int = 300, tol: float = 1e-4, cost: np.ndarray | None = None, **settings) -> TakeFit:
    """Pose + 52 ARKit weights of every frame of a take (see the module docstring).

    ``smooth``: the temporal prior (default ``Settings.smooth`` = 2, units of the data term;
    0 fits every frame on its own); ``jump``: frame-to-frame changes up to ``jump`` cost
    quadratically, larger ones linearly (a Huber penalty: jitter is smoothed, a blink is not);
    ``iterations``: Gauss-Newton steps; ``qp_iterations``: the most FISTA iterations per step.
    ``cost``: (F, 52) or (52,) extra L1 cost per frame and shape, beside the sparsity (e.g. the
    gaze of an eye whose iris is not seen).  ``settings``: fields of :class:`facemodel.fit.Settings`.
    OpenBLAS runs on one thread meanwhile (``core.blas``: many small solves)."""
    with blas.single_threaded():
        return _fit_take(model, landmarks, identity, weights, depth_weight, camera, smooth, jump, link, iterations,
                         qp_iterations, tol, cost, settings)


def _fit_take(model, landmarks, identity, weights, depth_weight, camera, smooth, jump, link, iterations,
              qp_iterations, tol, cost, settings) -> TakeFit:
    st = make_settings(depth_weight, dict(settings, camera=camera))
    if smooth is not None:
        st.smooth = float(smooth)
    y, c0, _ = observations(landmarks, weights)
    nf, nl = y.shape[:2]
    fr = frame_for(model, identity, st)
    bt = _batch_for(fr)
    base = fr.base
    dvec = np.array([1.0, 1.0, np.sqrt(st.depth_weight)])
    fixed_scale = st.scale is not None
    pose_cols = [0, 1, 2, 4, 5, 6] if fixed_scale else list(range(7))
    noise2 = st.noise ** 2

    def shape(w):
        return base[None] + (w @ bt.e_flat.T).reshape(len(w), nl, 3)

    if link is not None:
        w_link = np.asarray(link[0], np.float64)
        w = np.repeat(w_link[None], nf, axis=0)
        p = link[1]
        s = np.full(nf, float(p.scale))
        rot = np.repeat(np.asarray(p.rotation, np.float64)[None], nf, axis=0)
        t = np.repeat(np.asarray(p.translation, np.float64)[None], nf, axis=0)
    else:
        w_link = None
        w = np.zeros((nf, 52))
    if link is None or nf > 1:  # every frame starts from its own rigid fit of the current shape
        s, rot, t = _umeyama(shape(w), y, c0, scale=st.scale)
    c = c0.copy()
    lo = np.zeros((nf, 52))
    for it in range(iterations):
        x = shape(w)
        yy = y if st.camera is None else _weak(y, st.camera, s, rot, t, x)
        xt = np.matmul(yy - t[:, None], rot) / s[:, None, None]
        beta = 1.0 - dvec[2] ** 2
        r = rot[:, 2, :]
        gm = np.eye(3)[None] - beta * np.einsum("fi,fj->fij", r, r)  # (F, 3, 3) metric, model frame
        cw = c / noise2
        nk = 52
        # expression block: sum_ab G_ab M_ab for the take's usual weight per point (the input
        # weights' median over frames, so that a fixed weighting costs nothing per frame) + the
        # rows whose weight differs from it (missing, rejected, faded points)
        ref = np.median(c0, axis=0)
        hee = (gm.reshape(nf, 9) @ bt.gram(ref).reshape(9, nk * nk)).reshape(nf, nk, nk) / noise2
        dev = cw - ref[None] / noise2
        for f in np.flatnonzero(np.abs(dev).max(axis=1) > 1e-12 / noise2):
            ids = np.flatnonzero(np.abs(dev[f]) > 1e-12 / noise2)
            ed = bt.e[ids]
            ged = np.matmul(gm[f], ed)
            hee[f] += (ed * dev[f, ids, None, None]).reshape(-1, nk).T @ ged.reshape(-1, nk)
        # pose Jacobian (model frame): [-[x]x | x | I]; the cross blocks through G E
        cx = x * cw[..., None]
        q = np.matmul(np.transpose(cx, (0, 2, 1)), bt.e_lk).reshape(nf, 3, 3, nk)  # sum_l c x_j E_b
        pj = np.matmul(gm[:, None], q)  # (F, j, m, k): sum_l c x_j (G E)_m
        hpe = np.empty((nf, 7, nk))
        hpe[:, 0:3] = np.einsum("ijm,fjmk->fik", _EPS, pj)
        hpe[:, 3] = pj[:, 0, 0] + pj[:, 1, 1] + pj[:, 2, 2]
        hpe[:, 4:7] = np.matmul(gm, (cw @ bt.e_lk).reshape(nf, 3, nk))
        # pose block from the moments of the points: S0 = sum c, S1 = sum c x, S2 = sum c x x'
        s0 = cw.sum(1)
        s1 = cx.sum(1)
        s2 = np.matmul(np.transpose(cx, (0, 2, 1)), x)
        rx = _cross_matrix(r)
        hpp = np.empty((nf, 7, 7))
        tr2 = np.trace(s2, axis1=1, axis2=2)
        hpp[:, 0:3, 0:3] = tr2[:, None, None] * np.eye(3) - s2 \
            - beta * np.matmul(np.matmul(rx, s2), np.transpose(rx, (0, 2, 1)))
        s2r = np.matmul(s2, r[..., None])[..., 0]
        hpp[:, 3, 0:3] = beta * np.cross(r, s2r)
        hpp[:, 3, 3] = np.trace(np.matmul(gm, s2), axis1=1, axis2=2)
        gs1 = np.matmul(gm, s1[..., None])[..., 0]
        hpp[:, 4:7, 3] = gs1
        hpp[:, 4:7, 4:7] = s0[:, None, None] * gm
        hpp[:, 4:7, 0:3] = -np.matmul(gm, _cross_matrix(s1))
        hpp[:, 0:3, 3] = hpp[:, 3, 0:3]
        hpp[:, 3, 4:7] = gs1
        hpp[:, 0:3, 4:7] = np.transpose(hpp[:, 4:7, 0:3], (0, 2, 1))
        u = xt - base[None]
        gu = np.matmul(u, gm) * cw[..., None]  # G symmetric
        gexp = gu.reshape(nf, -1) @ bt.e_flat - st.sparsity
        if cost is not None:
            gexp = gexp - cost
        if st.gaps > 0:  # the openings (lids, inner lips), the pose taken as fixed
            h_gap, g_gap = gap_terms(bt.e, u, gm, cw, st.gaps)
            hee = hee + h_gap
            gexp = gexp + g_gap
        xg = np.matmul(np.transpose(x, (0, 2, 1)), gu)  # sum_l x_i (c G u)_j
        gp = np.stack([xg[:, 1, 2] - xg[:, 2, 1], xg[:, 2, 0] - xg[:, 0, 2], xg[:, 0, 1] - xg[:, 1, 0],
                       xg[:, 0, 0] + xg[:, 1, 1] + xg[:, 2, 2], gu[:, :, 0].sum(1), gu[:, :, 1].sum(1),
                       gu[:, :, 2].sum(1)], axis=1)
        hpp = hpp[:, pose_cols][:, :, pose_cols]
        hpe = hpe[:, pose_cols]
        gp = gp[:, pose_cols]
        tr = np.trace(hpp, axis1=1, axis2=2)
        hpp = hpp + np.eye(len(pose_cols))[None] * (1e-9 * np.maximum(tr, 1e-12))[:, None, None]
        inv_pe = np.linalg.solve(hpp, np.concatenate([hpe, gp[..., None]], axis=2))  # (F, P, 53)
        h_red = hee + bt.reg[None] - np.matmul(np.transpose(hpe, (0, 2, 1)), inv_pe[..., :52])
        h_red = 0.5 * (h_red + np.transpose(h_red, (0, 2, 1)))
        g_red = gexp - np.einsum("fpk,fp->fk", hpe, inv_pe[..., 52])
        hi = np.ones((nf, 52))
        w = _qp(h_red, g_red, w, lo, hi, st.smooth, w_link, qp_iterations, tol, jump)
        if st.exclusive:
            for _ in range(3):
                a, b = w[:, bt.pairs[:, 0]], w[:, bt.pairs[:, 1]]
                both = (a > 0.02) & (b > 0.02)
                if not both.any():
                    break
                fi, pi = np.nonzero(both)
                off = np.where(a[fi, pi] >= b[fi, pi], bt.pairs[pi, 1], bt.pairs[pi, 0])
                hi[fi, off] = 0.0
                w = _qp(h_red, g_red, w, lo, hi, st.smooth, w_link, qp_iterations, tol, jump)
        d = inv_pe[..., 52] - np.einsum("fpk,fk->fp", inv_pe[..., :52], w)
        if fixed_scale:
            d = np.concatenate([d[:, :3], np.zeros((nf, 1)), d[:, 3:]], axis=1)
        t = t + s[:, None] * np.einsum("fij,fj->fi", rot, d[:, 4:7])
        rot = rot @ _rodrigues(d[:, :3])
        if not fixed_scale:
            s = s * np.exp(np.clip(d[:, 3], -0.5, 0.5))
        uu, _, vt = np.linalg.svd(rot)
        rot = uu @ vt
        if it >= 1 or link is not None:
            x = shape(w)
            fitted = s[:, None, None] * np.matmul(x, np.transpose(rot, (0, 2, 1))) + t[:, None]
            e = np.linalg.norm((yy - fitted) * dvec, axis=2) / s[:, None]
            c = _robust(e, c0, st)
    x = shape(w)
    fitted = s[:, None, None] * np.matmul(x, np.transpose(rot, (0, 2, 1))) + t[:, None]
    if st.camera is not None:
        fitted = _weak(fitted, st.camera, s, rot, t, x, inverse=True)
    diff = (y - fitted)[..., :2] if dvec[2] < 1.0 else (y - fitted)
    iod = np.linalg.norm(x[:, EYES_L].mean(1) - x[:, EYES_R].mean(1), axis=1)
    e = np.linalg.norm(diff, axis=2) / (s * iod)[:, None]
    res = (e * (c > 0)).sum(1) / np.maximum((c > 0).sum(1), 1)
    return TakeFit(w, s, rot, t, c, res)


def _robust(e: np.ndarray, c0: np.ndarray, st) -> np.ndarray:
    """Batched :func:`facemodel.fit._robust`: Huber weights x confidences from residuals (F, L)."""
    valid = c0 > 0
    if valid.all():
        med = np.median(e, axis=1)
    else:
        med = np.nan_to_num(np.nanmedian(np.where(valid, e, np.nan), axis=1))
    scale = np.maximum(st.noise * 0.5, 1.4826 * med)[:, None]
    k = st.huber * scale
    w = np.where(e <= k, 1.0, k / np.maximum(e, 1e-12))
    w[e > st.reject * scale] = 0.0
    return c0 * w


__all__ = ["TakeFit", "fit_take"]
