"""Mesh parts: connected components and what each one is (pure numpy/scipy).

A head mesh often holds several parts in one object (skin, eyeballs, teeth,
gums and tongue, eyelashes, lacrimal fluid...) or comes as several objects;
callers concatenate them and pass one vertex/triangle array.  Components are
classified from geometry relative to the face frame (see ``armature.py``):

* ``skin``: the largest component, plus any other large component with
  vertices at the surface of the face (a separate back of the head, a
  mouth socket);
* ``eye.L`` / ``eye.R``: near-spherical components behind an eye opening
  (least-squares sphere fit; sclera and iris shells share one eyeball);
* ``teeth.upper`` / ``teeth.lower``: small components inside the mouth, above
  or below the line where the lips meet;
* ``mouth``: other parts inside the mouth (gums, tongue), split per vertex;
* ``loose``: everything else (eyelashes, lacrimal fluid, eye occlusion...):
  they follow the skin they sit on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

SKIN, EYE_L, EYE_R, TEETH_UP, TEETH_LO, MOUTH, LOOSE = (
    "skin", "eye.L", "eye.R", "teeth.upper", "teeth.lower", "mouth", "loose")


@dataclass
class Parts:
    labels: np.ndarray  # (N,) component id per vertex
    kinds: list  # kind per component id
    eyeballs: dict  # "L"/"R" -> (centre world (3,), radius)

    def mask(self, kind: str) -> np.ndarray:
        ids = [i for i, k in enumerate(self.kinds) if k == kind]
        return np.isin(self.labels, ids)

    def counts(self) -> dict:
        out: dict = {}
        for i, k in enumerate(self.kinds):
            out[k] = out.get(k, 0) + int((self.labels == i).sum())
        return out


def _edge_keys(tris: np.ndarray, n: int) -> np.ndarray:
    """One int64 key per triangle side, ``low * n + high`` (3T,)."""
    t = np.asarray(tris, dtype=np.int64)
    a = np.concatenate([t[:, 0], t[:, 1], t[:, 2]])
    b = np.concatenate([t[:, 1], t[:, 2], t[:, 0]])
    return np.minimum(a, b) * n + np.maximum(a, b)  # not a sort along a length-2 axis (slow)


def edges(tris: np.ndarray, n: int) -> np.ndarray:
    """Unique undirected edges (E, 2) of a triangle list."""
    key = np.unique(_edge_keys(tris, n))
    return np.stack([key // n, key % n], axis=1)


def boundary_vertices(tris: np.ndarray, n: int) -> np.ndarray:
    """(n,) bool: vertices on an open edge (an edge used by one triangle only)."""
    key, counts = np.unique(_edge_keys(tris, n), return_counts=True)
    out = np.zeros(n, bool)
    open_ = key[counts == 1]
    out[open_ // n] = True
    out[open_ % n] = True
    return out


def components(tris: np.ndarray, n: int) -> np.ndarray:
    """Connected component id (N,) per vertex; isolated vertices get their own."""
    e = edges(tris, n)
    a = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    _, labels = connected_components(a, directed=False)
    return labels


def rigid_vertices(weight: np.ndarray, comp: np.ndarray, full: float = 0.999) -> np.ndarray:
    """Indices of the vertices that show a bone's own motion in a shape key: the loose parts bound
    wholly to it (teeth, tongue: they move rigidly in a scan's key) when there are any, else every
    vertex bound fully (the chin's skin, which a scanned key also bends).  ``weight`` (N,) is the
    bone's skin weight per vertex, ``comp`` (N,) the mesh's :func:`components` (one per mesh,
    whatever the bone)."""
    bound = np.asarray(weight) >= full
    loose = bound & (np.bincount(comp, weights=~bound, minlength=comp.max() + 1)[comp] == 0)
    loose &= np.bincount(comp, minlength=comp.max() + 1)[comp] >= 3
    return np.flatnonzero(loose if loose.sum() >= 3 else bound)


def fit_sphere(p: np.ndarray):
    """Least-squares sphere: (centre (3,), radius, rms residual)."""
    p = np.asarray(p, dtype=np.float64)
    a = np.c_[2 * p, np.ones(len(p))]
    b = (p * p).sum(1)
    sol, *_ = np.linalg.lstsq(a, b, rcond=None)
    c = sol[:3]
    r = float(np.sqrt(max(sol[3] + c @ c, 0.0)))
    res = float(np.sqrt(np.mean((np.linalg.norm(p - c, axis=1) - r) ** 2)))
    return c, r, res


def classify(verts: np.ndarray, tris: np.ndarray, frame, guide, labels: np.ndarray | None = None) -> Parts:
    """Classify the components of a (combined) mesh; ``frame``/``guide`` from ``armature``."""
    from .armature import mouth_line

    verts = np.asarray(verts, dtype=np.float64)
    n = len(verts)
    if labels is None:
        labels = components(tris, n)
    ncomp = int(labels.max()) + 1 if n else 0
    loc = frame.to_local(verts)
    s = frame.size
    sizes = np.bincount(labels, minlength=ncomp)
    order = np.argsort(labels, kind="stable")
    starts = np.r_[0, np.cumsum(sizes)]
    kinds = [LOOSE] * ncomp
    biggest = int(np.argmax(sizes))

    eyes_local = [frame.to_local(np.asarray(c).mean(0)) for c in guide.eye_contours]
    xs, zs = mouth_line(frame, guide)
    corners = frame.to_local(guide.mouth_corners)
    mouth_half = float(np.abs(corners[:, 0]).max())
    lips_y = float(frame.to_local(np.concatenate([guide.lip_upper_inner, guide.lip_lower_inner]))[:, 1].min())
    chin_z = float(frame.to_local(guide.chin)[2])
    nose_base_z = float(frame.to_local(guide.nose_base)[2])

    eye_fits: dict = {"L": [], "R": []}
    for c in range(ncomp):
        idx = order[starts[c]:starts[c + 1]]
        if c == biggest:
            kinds[c] = SKIN
            continue
        p = loc[idx]
        lo, hi = p.min(0), p.max(0)
        ext = hi - lo
        cen = p.mean(0)
        # Eyeball shells: near-spherical, eyeball-sized, centred behind an eye opening.
        if len(idx) >= 20:
            ctr, r, res = fit_sphere(p)
            for side, e in zip(("R", "L") if eyes_local[0][0] < eyes_local[1][0] else ("L", "R"), eyes_local):
                near = np.linalg.norm(ctr - e) < 0.6 * s and ctr[1] > e[1] - 0.05 * s
                if near and 0.08 * s < r < 0.4 * s and res < 0.08 * r and ext.min() > 1.2 * r:
                    eye_fits[side].append((c, idx))
                    kinds[c] = EYE_L if side == "L" else EYE_R
            if kinds[c] != LOOSE:
                continue
        # Inside the mouth: between nose base and chin (the upper gums' centre can sit a little
        # above the nose base), behind the lips, within the dental arch.
        inside = (abs(cen[0]) < 1.3 * mouth_half + 0.1 * s
                  and chin_z < cen[2] < nose_base_z + 0.3 * (nose_base_z - chin_z)
                  and cen[1] > lips_y and hi[1] < lips_y + 2.0 * s and ext.max() < 2.0 * s)
        if inside:
            if len(idx) < 0.02 * n and ext.max() < 0.6 * s:
                zline = np.interp(cen[0], xs, zs)
                kinds[c] = TEETH_UP if cen[2] > zline else TEETH_LO
            else:
                kinds[c] = MOUTH
            continue
        # Another big surface part (back of the head, a separate face shell): skin.
        if len(idx) > 0.1 * sizes[biggest]:
            kinds[c] = SKIN
    eyeballs = {}
    for side, fits in eye_fits.items():
        if fits:
            idx = np.concatenate([f[1] for f in fits])
            ctr, r, _ = fit_sphere(verts[idx])
            eyeballs[side] = (ctr, r)
    return Parts(labels=labels, kinds=kinds, eyeballs=eyeballs)
