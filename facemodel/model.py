"""The face model: loading, evaluation, parts, UVs, landmarks (pure numpy).

Shapes: V = 26,719 vertices, K = 100 identity modes, 52 ARKit expressions,
L = 478 MediaPipe landmarks.  Units metres, model frame (x = subject's left,
y = up, z = forward): see the package docstring.

Evaluation (:meth:`FaceModel.evaluate`)::

    v = neutral + sum_k identity[k] * identity_basis[k] + sum_j expression[j] * expression_basis[j]
    eyeballs: v <- c + R_gaze (v - c)        (true rotations about each eyeball's centre c)
    pose:     v <- scale * R v + t           (optional :class:`Pose`)

Gaze convention.  ARKit's ``eyeLook*`` do two things here: ICT's scanned shape
(lids, lashes and eye films follow the gaze; kept in ``expression_basis``) and a
rotation of the eyeball (sclera + iris) about its centre.  At weight 1 the eye
turns by :data:`GAZE_MAX_DEG`: 30 deg in/out, 25 deg up/down.  Per eye, yaw
toward the subject's left = ``out - in`` (left eye) or ``in - out`` (right eye)
times 30 deg, pitch up = ``up * 25 - down * 25`` deg; the rotation is pitch
first (about x), then yaw (about y).  For linear shape keys
(:meth:`FaceModel.shape_deltas`) the eyeball's delta at weight 1 is the rotation
at the maximum angle (``(R_max - I)(v - c)``); in between, a shape key moves the
eyeball along the chord (it sinks by at most 0.5 mm at weight 0.5), so a rig that
needs exact gaze should turn eye bones instead.
"""

from __future__ import annotations

import functools
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.arkit import ARKIT_NAMES, INDEX
from ..core.errors import FaceForgeError

MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / "facemodel_ict.npz"
FILE_VERSION = 1
NUM_LANDMARKS = 478

# Blender's frame for a face: (x, y, z)_model -> (x, -z, y)_blender (a +90 deg turn about x).
BLENDER_FROM_MODEL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

# The eyeball turn at ARKit weight 1 (degrees).
GAZE_MAX_DEG = {"in": 30.0, "out": 30.0, "up": 25.0, "down": 25.0}

# Vertex ranges (first, last + 1) of ICT's parts; the eyeballs are sclera + iris.
PARTS: dict[str, tuple[int, int]] = {
    "face": (0, 9409), "head_neck": (9409, 11248), "mouth_socket": (11248, 13294),
    "eye_socket_L": (13294, 13678), "eye_socket_R": (13678, 14062), "gums_tongue": (14062, 17039),
    "teeth_upper": (17039, 19247), "teeth_lower": (19247, 21451),
    "sclera_L": (21451, 22221), "iris_L": (22221, 23021), "sclera_R": (23021, 23791), "iris_R": (23791, 24591),
    "lacrimal_L": (24591, 24795), "lacrimal_R": (24795, 24999), "eye_blend_L": (24999, 25023),
    "eye_blend_R": (25023, 25047), "eye_occlusion_L": (25047, 25199), "eye_occlusion_R": (25199, 25351),
    "eyelashes_L": (25351, 26035), "eyelashes_R": (26035, 26719),
}
PART_NAMES: tuple[str, ...] = tuple(PARTS)
# What a polygon looks like (flat-colour materials; :meth:`FaceModel.polygon_looks`).
LOOKS: tuple[str, ...] = ("skin", "mouth", "gums_tongue", "teeth", "sclera", "iris", "pupil", "eyelashes", "clear",
                          "brows", "lips")
# Eyebrow height below ICT's iBUG brow points (their upper edge), inner end -> tail (m).
BROW_HEIGHT = (0.009, 0.004)
# Names for unions of parts.
PART_GROUPS: dict[str, tuple[str, ...]] = {
    "skin": ("face", "head_neck"),
    "eyeball_L": ("sclera_L", "iris_L"), "eyeball_R": ("sclera_R", "iris_R"),
    "teeth": ("teeth_upper", "teeth_lower"),
    "eye_films_L": ("lacrimal_L", "eye_blend_L", "eye_occlusion_L"),
    "eye_films_R": ("lacrimal_R", "eye_blend_R", "eye_occlusion_R"),
    "eyelashes": ("eyelashes_L", "eyelashes_R"),
    "mouth_inside": ("mouth_socket", "gums_tongue", "teeth_upper", "teeth_lower"),
}


# --- frames -----------------------------------------------------------------------


def to_blender(p: np.ndarray) -> np.ndarray:
    """Model-frame points or vectors (..., 3) -> Blender's face frame (face looks -Y, Z up): (x, -z, y)."""
    p = np.asarray(p)
    return np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1)


def from_blender(p: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_blender`: (x, y, z)_blender -> (x, z, -y)_model."""
    p = np.asarray(p)
    return np.stack([p[..., 0], p[..., 2], -p[..., 1]], axis=-1)


# --- pose -------------------------------------------------------------------------


@dataclass(eq=False)
class Pose:
    """A similarity: ``p -> scale * rotation @ p + translation`` (model frame -> some other frame)."""

    scale: float = 1.0
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    translation: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def apply(self, p: np.ndarray) -> np.ndarray:
        return self.scale * np.asarray(p) @ self.rotation.T + self.translation

    def inverse(self, p: np.ndarray) -> np.ndarray:
        return (np.asarray(p) - self.translation) @ self.rotation / self.scale

    def matrix(self) -> np.ndarray:
        """(4, 4) homogeneous matrix."""
        m = np.eye(4)
        m[:3, :3] = self.scale * self.rotation
        m[:3, 3] = self.translation
        return m

    def copy(self) -> "Pose":
        return Pose(float(self.scale), np.array(self.rotation, float), np.array(self.translation, float))


def rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


# ARKit indices of each eye's look shapes: (down, in, out, up)
_LOOK = {side: tuple(INDEX[f"eyeLook{d}{side}"] for d in ("Down", "In", "Out", "Up")) for side in ("Left", "Right")}
GAZE_SHAPES: tuple[int, ...] = tuple(sorted(_LOOK["Left"] + _LOOK["Right"]))


def gaze_angles(expression: np.ndarray) -> np.ndarray:
    """(2, 2) [eye L, R] x [yaw toward the subject's left, pitch up], radians, from 52 ARKit weights."""
    w = np.asarray(expression, dtype=np.float64)
    out = np.empty((2, 2))
    h_in, h_out = np.radians(GAZE_MAX_DEG["in"]), np.radians(GAZE_MAX_DEG["out"])
    for k, side in enumerate(("Left", "Right")):
        down, inn, outw, up = (w[i] for i in _LOOK[side])
        toward_left = outw * h_out - inn * h_in  # the left eye looks out toward the subject's left (+x)
        out[k, 0] = toward_left if side == "Left" else -toward_left
        out[k, 1] = np.radians(up * GAZE_MAX_DEG["up"] - down * GAZE_MAX_DEG["down"])
    return out


def gaze_rotation(yaw: float, pitch: float) -> np.ndarray:
    """Eye rotation: pitch up about x, then yaw toward +x about y
    (forward (0, 0, 1) -> (cos p sin y, sin p, cos p cos y))."""
    return rot_y(yaw) @ rot_x(-pitch)


def _max_turns() -> dict[str, tuple[int, np.ndarray]]:
    """For each eyeLook shape: (eye 0 = L / 1 = R, rotation at weight 1)."""
    out = {}
    for k, side in enumerate(("Left", "Right")):
        sign = 1.0 if side == "Left" else -1.0  # "out" turns the left eye to +x, the right eye to -x
        out[f"eyeLookOut{side}"] = (k, gaze_rotation(sign * np.radians(GAZE_MAX_DEG["out"]), 0.0))
        out[f"eyeLookIn{side}"] = (k, gaze_rotation(-sign * np.radians(GAZE_MAX_DEG["in"]), 0.0))
        out[f"eyeLookUp{side}"] = (k, gaze_rotation(0.0, np.radians(GAZE_MAX_DEG["up"])))
        out[f"eyeLookDown{side}"] = (k, gaze_rotation(0.0, -np.radians(GAZE_MAX_DEG["down"])))
    return out


MAX_TURNS = _max_turns()


def _inside(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd test: which 2D ``points`` (N, 2) lie inside the closed ``polygon`` (M, 2)."""
    x, y = points[:, 0][:, None], points[:, 1][:, None]
    a, b = polygon, np.roll(polygon, -1, axis=0)
    crosses = (a[:, 1] > y) != (b[:, 1] > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        xc = a[:, 0] + (y - a[:, 1]) * (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1])
    return (crosses & (x < xc)).sum(axis=1) % 2 == 1


# --- the model --------------------------------------------------------------------


def _arkit_recipe(stored: list[str]) -> list[list[str]]:
    """For each ARKit name, the stored (ICT-named) shapes that sum to it."""
    have = set(stored)
    out = []
    for name in ARKIT_NAMES:
        if name in have:
            out.append([name])
        elif name.endswith("Left") and name[:-4] + "_L" in have:
            out.append([name[:-4] + "_L"])
        elif name.endswith("Right") and name[:-5] + "_R" in have:
            out.append([name[:-5] + "_R"])
        elif name + "_L" in have and name + "_R" in have:  # browInnerUp, cheekPuff: both sides
            out.append([name + "_L", name + "_R"])
        elif name == "tongueOut":  # a file made with --geometry-only (development)
            out.append([])
        else:
            raise FaceForgeError(f"the face model file has no shape for {name}")
    return out


@dataclass(eq=False)
class FaceModel:
    """The linear head (see the module docstring).  Arrays are read-only views; treat them as constants.

    Geometry: ``neutral`` (V, 3) float32 m; ``identity_basis`` (K, V, 3) float32 (unit-variance modes);
    ``expression_basis`` (52, V, 3) float32, ARKit order (``eyeLook*``: ICT's lid/lash/film part only).
    Topology: ``polygon_sizes`` (P,) (3 or 4), ``polygon_vertices`` (sum of sizes,) flat vertex indices,
    ``polygon_uv`` the same length, indices into ``uv`` (U, 2) (so per-loop UVs are
    ``uv[polygon_uv]``; ICT's layout is UDIM-like: the face skin in u 0..1, head and neck, mouth
    and eye sockets in 1..2, gums and tongue 2..3, teeth 3..4, tear lines 4..6, lashes 6..7; the
    eyeballs and eye films reuse 0..1 with their own textures), ``polygon_part`` (P,) index into
    :data:`PART_NAMES`, ``triangles`` (T, 3) and ``triangle_polygon`` (T,).
    ``eye_centres`` (2, 3): the neutral eyeballs' centres [left, right].
    Landmarks: ``landmark_triangles`` (478,) + ``landmark_bary`` (478, 3) on the surface (irises on
    the eyeballs), ``landmark_spread`` (478,) how far single detections scattered (IOD units),
    ``ibug68`` (68,) ICT's own iBUG-68 landmark vertices.  ``info``: provenance and figures.
    """

    neutral: np.ndarray
    identity_basis: np.ndarray
    expression_basis: np.ndarray
    polygon_sizes: np.ndarray
    polygon_vertices: np.ndarray
    polygon_uv: np.ndarray
    uv: np.ndarray
    polygon_part: np.ndarray
    triangles: np.ndarray
    triangle_polygon: np.ndarray
    eye_centres: np.ndarray
    landmark_triangles: np.ndarray
    landmark_bary: np.ndarray
    landmark_spread: np.ndarray
    ibug68: np.ndarray
    stored_shapes: dict  # ICT name (+ "tongueOut") -> (vertex ids (n,), deltas (n, 3) float32)
    info: dict = field(default_factory=dict)
    landmark_response: np.ndarray | None = None  # (478, 3, 52): how MediaPipe's points follow each shape

    # -- sizes and parts --
    @property
    def n_vertices(self) -> int:
        return len(self.neutral)

    @property
    def n_identity(self) -> int:
        return len(self.identity_basis)

    @property
    def polygon_starts(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.polygon_sizes)[:-1]]).astype(np.int64)

    @property
    def loop_uv(self) -> np.ndarray:
        """Per-loop UVs (sum of polygon sizes, 2), in ``polygon_vertices`` order."""
        return self.uv[self.polygon_uv]

    def part(self, name: str) -> np.ndarray:
        """Vertex indices of a part (:data:`PART_NAMES`) or a group (:data:`PART_GROUPS`)."""
        if name in PARTS:
            return np.arange(*PARTS[name])
        if name in PART_GROUPS:
            return np.concatenate([self.part(p) for p in PART_GROUPS[name]])
        raise KeyError(f"no part {name!r}; parts: {', '.join(PART_NAMES + tuple(PART_GROUPS))}")

    def polygons_of(self, name: str) -> np.ndarray:
        """Polygon indices of a part or group (a polygon belongs to the part of its last vertex)."""
        names = PART_GROUPS.get(name, (name,))
        ids = [PART_NAMES.index(n) for n in names]
        return np.flatnonzero(np.isin(self.polygon_part, ids))

    def eye_axes(self) -> np.ndarray:
        """(2, 3) unit optical axes of the neutral eyes [L, R]: from each eyeball's centre through its
        pupil (the centre of the iris vertices ICT's ``PupilDilate`` moves), made mirror-symmetric;
        about 7 deg outward of +z (the anatomical axis is a few degrees temporal of the gaze)."""
        out = np.empty((2, 3))
        for k, side in enumerate("LR"):
            a, b = PARTS[f"iris_{side}"]
            idx = self.stored_shapes.get(f"PupilDilate_{side}", (np.zeros(0, np.int64),))[0]
            idx = idx[(idx >= a) & (idx < b)]
            pupil = self.neutral[idx].mean(0) if len(idx) else self.neutral[a:b].max(0)
            axis = np.asarray(pupil, np.float64) - self.eye_centres[k]
            out[k] = axis / np.linalg.norm(axis)
        sym = (out[0] + out[1] * [-1.0, 1.0, 1.0]) / 2  # the left axis, from both eyes
        sym /= np.linalg.norm(sym)
        return np.stack([sym, sym * [-1.0, 1.0, 1.0]])

    def polygon_looks(self, iris_deg: float = 21.0, pupil_deg: float = 9.0) -> np.ndarray:
        """(P,) what each polygon looks like, for flat-colour materials: an index into :data:`LOOKS`.

        The eyeball is two closed shells: the outer one (``sclera_*``) is white with a clear cornea
        in front; the inner one (``iris_*``) shows the iris within ``iris_deg`` of the eye's axis
        (:meth:`eye_axes`) and the pupil within ``pupil_deg``; its back half is dark.  Eye films
        (tear lines, blend, occlusion) are clear; eyelashes are a dark, mostly clear fringe.
        On the skin, the lips are inside ICT's iBUG outer-lip contour and the eyebrows hang
        :data:`BROW_HEIGHT` below its iBUG brow points (a face with brows and lips is what
        MediaPipe is trained on)."""
        part_look = {"face": "skin", "head_neck": "skin", "eye_socket_L": "skin", "eye_socket_R": "skin",
                     "mouth_socket": "mouth", "gums_tongue": "gums_tongue", "teeth_upper": "teeth",
                     "teeth_lower": "teeth", "eyelashes_L": "eyelashes", "eyelashes_R": "eyelashes"}
        look = np.array([LOOKS.index(part_look.get(n, "clear")) for n in PART_NAMES])[self.polygon_part]
        centre = np.add.reduceat(self.neutral[self.polygon_vertices].astype(np.float64), self.polygon_starts) \
            / self.polygon_sizes[:, None]
        face = self.polygon_part == PART_NAMES.index("face")
        g = self.ibug68_points()
        lips = _inside(centre[:, :2], g[48:60, :2]) & face & (centre[:, 2] > g[48:60, 2].min() - 0.005)
        look[lips] = LOOKS.index("lips")
        for ids in ([21, 20, 19, 18, 17], [22, 23, 24, 25, 26]):  # inner end first
            upper = g[ids, :2]
            lower = upper - np.c_[np.zeros(5), np.linspace(*BROW_HEIGHT, 5)]
            brow = _inside(centre[:, :2], np.vstack([upper, lower[::-1]])) & face
            look[brow & (centre[:, 2] > g[ids, 2].min() - 0.01)] = LOOKS.index("brows")
        axes = self.eye_axes()
        for k, side in enumerate("LR"):
            rel = centre - self.eye_centres[k]
            ang = np.degrees(np.arccos(np.clip(rel @ axes[k] / np.linalg.norm(rel, axis=1), -1, 1)))
            outer = self.polygon_part == PART_NAMES.index(f"sclera_{side}")
            inner = self.polygon_part == PART_NAMES.index(f"iris_{side}")
            look[outer] = np.where(ang[outer] < iris_deg + 3.0, LOOKS.index("clear"), LOOKS.index("sclera"))
            look[inner] = np.select([ang[inner] < pupil_deg, ang[inner] < iris_deg, ang[inner] < 90.0],
                                    [LOOKS.index("pupil"), LOOKS.index("iris"), LOOKS.index("sclera")],
                                    LOOKS.index("pupil"))
        return look

    # -- shapes --
    @property
    def shape_names(self) -> list[str]:
        """Every stored shape: ICT's 53 (``_L``/``_R`` sides, ``PupilDilate_*``, ``cheekRaiser_*``) + ``tongueOut``."""
        return list(self.stored_shapes)

    def shape(self, name: str) -> np.ndarray:
        """Dense (V, 3) delta of one stored shape (ICT name, e.g. ``cheekRaiser_L``), float32."""
        idx, d = self.stored_shapes[name]
        out = np.zeros((self.n_vertices, 3), np.float32)
        out[idx] = d
        return out

    def eye_pivots(self, vertices: np.ndarray) -> np.ndarray:
        """(2, 3) eyeball centres [L, R] of evaluated (pre-gaze) vertices: the neutral centres
        moved by the mean motion of each eyeball (exact for identities, which move eyeballs rigidly)."""
        out = np.empty((2, 3))
        for k, side in enumerate("LR"):
            a, b = PARTS[f"sclera_{side}"][0], PARTS[f"iris_{side}"][1]
            out[k] = self.eye_centres[k] + (vertices[a:b].mean(0) - self._eyeball_mean[k])
        return out

    @functools.cached_property
    def _eyeball_mean(self) -> np.ndarray:
        return np.array([self.neutral[PARTS[f"sclera_{s}"][0]:PARTS[f"iris_{s}"][1]].mean(0) for s in "LR"],
                        dtype=np.float64)

    def evaluate(self, identity: np.ndarray | None = None, expression: np.ndarray | None = None,
                 pose: Pose | None = None) -> np.ndarray:
        """Vertices (V, 3) float32, metres: identity (K,) or fewer leading modes, expression (52,) ARKit
        weights, eyeballs turned by the gaze (true rotations), then ``pose`` (model -> another frame)."""
        v = self.neutral.astype(np.float32, copy=True)
        if identity is not None:
            a = np.asarray(identity, np.float32).ravel()
            v += (a @ self.identity_basis[:len(a)].reshape(len(a), -1)).reshape(-1, 3)
        if expression is not None:
            w = np.asarray(expression, np.float32).ravel()
            if w.shape != (52,):
                raise ValueError(f"expression must hold 52 ARKit weights, got {w.shape}")
            nz = np.flatnonzero(w)
            if len(nz):
                v += (w[nz] @ self.expression_basis[nz].reshape(len(nz), -1)).reshape(-1, 3)
            angles = gaze_angles(w)
            if np.any(angles):
                pivots = self.eye_pivots(v)
                for k, side in enumerate("LR"):
                    if np.any(angles[k]):
                        a, b = PARTS[f"sclera_{side}"][0], PARTS[f"iris_{side}"][1]
                        rot = gaze_rotation(*angles[k]).astype(np.float32)
                        c = pivots[k].astype(np.float32)
                        v[a:b] = (v[a:b] - c) @ rot.T + c
        if pose is not None:
            v = pose.apply(v).astype(np.float32)
        return v

    def shape_deltas(self, identity: np.ndarray | None = None, names=ARKIT_NAMES) -> np.ndarray:
        """Linear per-shape deltas (S, V, 3) float32 for shape keys on the head of ``identity``.

        Equal to ``expression_basis`` except ``eyeLook*``, whose eyeball delta at weight 1 is the
        rotation at the maximum angle, ``(R_max - I)(v - c)`` (see the module docstring)."""
        base = self.evaluate(identity) if identity is not None else self.neutral
        pivots = self.eye_pivots(base)
        out = np.empty((len(names), self.n_vertices, 3), np.float32)
        for i, name in enumerate(names):
            out[i] = self.expression_basis[INDEX[name]]
            if name in MAX_TURNS:
                k, rot = MAX_TURNS[name]
                side = "LR"[k]
                a, b = PARTS[f"sclera_{side}"][0], PARTS[f"iris_{side}"][1]
                rel = base[a:b] - pivots[k]
                out[i, a:b] += (rel @ (rot - np.eye(3)).T).astype(np.float32)
        return out

    def random_identity(self, rng: np.random.Generator | int | None = None, sigma: float = 1.0,
                        clip: float = 2.5) -> np.ndarray:
        """A random identity (K,): N(0, sigma^2) per mode, clipped to +-clip."""
        rng = np.random.default_rng(rng)
        return np.clip(rng.standard_normal(self.n_identity) * sigma, -clip, clip)

    # -- landmarks --
    @property
    def landmark_vertices(self) -> np.ndarray:
        """(478, 3) vertex indices of each landmark's triangle (weights ``landmark_bary``)."""
        return self.triangles[self.landmark_triangles]

    def landmarks(self, vertices: np.ndarray | None = None) -> np.ndarray:
        """(478, 3) landmark positions on ``vertices`` (V, 3) (default: the neutral)."""
        v = self.neutral if vertices is None else np.asarray(vertices)
        return np.einsum("lk,lkd->ld", self.landmark_bary, v[self.landmark_vertices].astype(np.float64))

    def ibug68_points(self, vertices: np.ndarray | None = None) -> np.ndarray:
        """(68, 3) ICT's iBUG-68 landmark vertices on ``vertices`` (default: the neutral)."""
        v = self.neutral if vertices is None else np.asarray(vertices)
        return np.asarray(v[self.ibug68], np.float64)

    @functools.cached_property
    def _landmark_rows(self):
        """Landmark rows of the bases: neutral (L, 3), identity (L, 3, K), expression (L, 3, 52), float64."""
        lv, b = self.landmark_vertices, self.landmark_bary.astype(np.float64)
        n0 = np.einsum("lk,lkd->ld", b, self.neutral[lv].astype(np.float64))
        s = np.einsum("lk,jlkd->ldj", b, self.identity_basis[:, lv].astype(np.float64))
        e = np.einsum("lk,jlkd->ldj", b, self.expression_basis[:, lv].astype(np.float64))
        return n0, s, e

    def landmark_basis(self, identity: np.ndarray | None = None, detector: bool = False):
        """Linear landmark model for fitting: ``(base (L, 3), identity rows (L, 3, K), expression rows
        (L, 3, 52))``, float64 m.  Landmarks = base + rows_id @ identity + rows_expr @ expression.

        ``base`` is the landmarks of the head of ``identity`` (neutral expression); the expression
        rows are :meth:`shape_deltas`' (the eyeball turn linear at the iris landmarks) on that head:
        how the surface points move.  With ``detector``, their x and y are how MediaPipe's points
        move instead (``landmark_response``, measured on renders of the model: MediaPipe follows
        subtle shapes only partly, e.g. cheekSquint at 0.2 of the surface's motion)."""
        n0, s, e = self._landmark_rows
        base = n0 if identity is None else n0 + s[:, :, :len(identity)] @ np.asarray(identity, np.float64)
        e = e.copy()
        lv = self.landmark_vertices
        # iris landmarks on an eyeball: add the eyeball's turn at each eyeLook shape's maximum
        if identity is None:
            pivots = self.eye_centres.astype(np.float64)
        else:
            means = np.array([np.asarray(identity, np.float64) @ self.identity_basis[:len(identity),
                              PARTS[f"sclera_{s_}"][0]:PARTS[f"iris_{s_}"][1]].mean(1).astype(np.float64)
                              for s_ in "LR"])
            pivots = self.eye_centres + means
        for name, (k, rot) in MAX_TURNS.items():
            side = "LR"[k]
            a, b = PARTS[f"sclera_{side}"][0], PARTS[f"iris_{side}"][1]
            on = np.all((lv >= a) & (lv < b), axis=1)
            if on.any():
                e[on, :, INDEX[name]] += (base[on] - pivots[k]) @ (rot - np.eye(3)).T
        if detector:
            if self.landmark_response is None:
                raise FaceForgeError("this face model file has no detector response: rebuild it")
            e[:, :2, :] = self.landmark_response[:, :2, :]
        return base, s, e


# --- loading ------------------------------------------------------------------------


def _decode(z) -> FaceModel:
    if int(z["version"]) != FILE_VERSION:
        raise FaceForgeError(f"face model file version {int(z['version'])}, this FaceForge reads {FILE_VERSION}: "
                             "reinstall FaceForge")
    names = [str(n) for n in z["shape_names"]]
    off = z["shape_offsets"]
    index = z["shape_index"].astype(np.int64)
    delta = z["shape_delta"].astype(np.float32)
    stored = {n: (index[off[i]:off[i + 1]], delta[off[i]:off[i + 1]]) for i, n in enumerate(names)}
    neutral = z["neutral"].astype(np.float32)
    v = len(neutral)
    expr = np.zeros((52, v, 3), np.float32)
    for i, parts in enumerate(_arkit_recipe(names)):
        for p in parts:
            idx, d = stored[p]
            expr[i, idx] += d
    info = json.loads(str(z["info_json"]))
    m = FaceModel(
        neutral=neutral, identity_basis=z["identity"].astype(np.float32), expression_basis=expr,
        polygon_sizes=z["poly_sizes"].astype(np.int32), polygon_vertices=z["poly_verts"].astype(np.int32),
        polygon_uv=z["poly_uv"].astype(np.int32), uv=z["uv"].astype(np.float32),
        polygon_part=z["poly_part"].astype(np.int16), triangles=z["triangles"].astype(np.int32),
        triangle_polygon=z["tri_poly"].astype(np.int32), eye_centres=z["eye_centres"].astype(np.float64),
        landmark_triangles=z["landmark_tri"].astype(np.int64) if "landmark_tri" in z else np.zeros(0, np.int64),
        landmark_bary=z["landmark_bary"].astype(np.float64) if "landmark_bary" in z else np.zeros((0, 3)),
        landmark_spread=z["landmark_spread"].astype(np.float64) if "landmark_spread" in z else np.zeros(0),
        ibug68=z["ibug68"].astype(np.int64), stored_shapes=stored, info=info,
        landmark_response=z["landmark_response"].astype(np.float64) if "landmark_response" in z else None)
    for a in (m.neutral, m.identity_basis, m.expression_basis):
        a.setflags(write=False)
    return m


@functools.lru_cache(maxsize=2)
def _load_cached(path: str, mtime: float) -> FaceModel:
    with np.load(path, allow_pickle=False) as z:
        return _decode(z)


_load_lock = threading.Lock()


def load_model(path: str | Path | None = None) -> FaceModel:
    """The face model (loaded once per file and cached; ``path`` defaults to the shipped model).
    While another thread loads it (:func:`preload`), this waits for that load."""
    p = Path(path) if path is not None else MODEL_PATH
    if not p.is_file():
        raise FaceForgeError(f"The face model file is missing ({p.name}): reinstall FaceForge")
    with _load_lock:
        return _load_cached(str(p), p.stat().st_mtime)


def preload(path: str | Path | None = None) -> None:
    """Start loading the face model in a background thread, unless it is loaded: a step that
    will need it soon (the rig after the landmarks) finds it ready.  Errors are left for
    :func:`load_model` to report."""
    def load():
        try:
            load_model(path)
        except Exception:  # the caller's load_model says what is wrong
            pass

    threading.Thread(target=load, name="faceforge-facemodel", daemon=True).start()
