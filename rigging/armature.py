"""Face armature placement from landmarks and mesh parts (pure numpy).

Landmarks come in by *semantic role* (:class:`FaceGuide`), so MediaPipe's 478
points (:func:`guide_from_mediapipe`) and the 68 iBUG points
(:func:`guide_from_ibug68`) both work.  Sides are never trusted from the
source's index order: they are decided geometrically (subject's left = +X of
the face frame), so a mirrored mesh gives a mirrored rig.

The head frame (:class:`HeadFrame`, :func:`head_frame`) is the armature
object's transform: its origin lies on the face's mid-plane between the eyes,
local +X = subject's left, -Y = where the face looks, +Z = up (Blender's axes
for a face looking down -Y), scale 1 (world units); it is upright (forward
from the Frankfort-like line, snapped to the world axes when close).  It is
not the landmark face frame (``rigging.regions.face_frame``: rows left, up,
forward; unit = eye distance), which describes expressions.  Bones are
placed in that local space, so Blender's X-mirror and pose mirroring work even
when the face is not at the world origin, rotated, or scaled 100x.  All
offsets are fractions of the inter-ocular distance ``frame.size``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.errors import FaceForgeError

# Bone names: the video stage looks for "head", "eye.L", "eye.R"; keep them exactly.
ROOT, NECK, HEAD, JAW, EYE_L, EYE_R = "root", "neck", "head", "jaw", "eye.L", "eye.R"
TONGUE = ("tongue.001", "tongue.002", "tongue.003")
TYPICAL_EYE_RADIUS = 0.19  # human eyeball radius / inter-ocular distance (12 mm / 63 mm)


@dataclass
class FaceGuide:
    """Landmark positions by role, world space.  Sides may come in any order.

    ``eye_contours``: two (k, 3) rings around the eye openings.
    ``iris``: (2, 3) iris centres or None.  ``mouth_corners``: (2, 3).
    ``lip_upper_inner`` / ``lip_lower_inner``: (k, 3) inner lip contours.
    ``nose_tip``, ``nose_base``, ``chin``: (3,).  ``jaw_line``: (k, 3) from one
    ear along the jaw to the other (its two ends are the topmost points).
    """
    eye_contours: tuple
    mouth_corners: np.ndarray
    lip_upper_inner: np.ndarray
    lip_lower_inner: np.ndarray
    nose_tip: np.ndarray
    nose_base: np.ndarray
    chin: np.ndarray
    jaw_line: np.ndarray
    iris: np.ndarray | None = None

    def transformed(self, fn) -> "FaceGuide":
        return FaceGuide(tuple(fn(np.asarray(e)) for e in self.eye_contours), fn(self.mouth_corners),
                         fn(self.lip_upper_inner), fn(self.lip_lower_inner), fn(self.nose_tip),
                         fn(self.nose_base), fn(self.chin), fn(self.jaw_line),
                         None if self.iris is None else fn(self.iris))


# MediaPipe Face Mesh indices (468/478 points).
_MP = dict(
    eye_a=[33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7],
    eye_b=[263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249],
    mouth_corners=[61, 291],
    lip_upper_inner=[78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308],
    lip_lower_inner=[78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308],
    nose_tip=1, nose_base=2, chin=152,
    jaw_line=[234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397,
              288, 361, 323, 454],
    iris=[468, 473],
)

# iBUG / Multi-PIE 68-point indices.
_IBUG = dict(
    eye_a=list(range(36, 42)), eye_b=list(range(42, 48)), mouth_corners=[48, 54],
    lip_upper_inner=[60, 61, 62, 63, 64], lip_lower_inner=[60, 67, 66, 65, 64],
    nose_tip=30, nose_base=33, chin=8, jaw_line=list(range(17)),
)


def _guide(points: np.ndarray, ix: dict, iris: bool) -> FaceGuide:
    p = np.asarray(points, dtype=np.float64)
    return FaceGuide(
        eye_contours=(p[ix["eye_a"]], p[ix["eye_b"]]), mouth_corners=p[ix["mouth_corners"]],
        lip_upper_inner=p[ix["lip_upper_inner"]], lip_lower_inner=p[ix["lip_lower_inner"]],
        nose_tip=p[ix["nose_tip"]], nose_base=p[ix["nose_base"]], chin=p[ix["chin"]],
        jaw_line=p[ix["jaw_line"]], iris=p[ix["iris"]] if iris else None)


def guide_from_mediapipe(points: np.ndarray) -> FaceGuide:
    """Roles from MediaPipe Face Mesh landmarks (468 or 478, (L, 3))."""
    if len(points) not in (468, 478):
        raise FaceForgeError(f"expected 468 or 478 MediaPipe landmarks, got {len(points)}")
    return _guide(points, _MP, iris=len(points) == 478)


def guide_from_ibug68(points: np.ndarray) -> FaceGuide:
    """Roles from the 68 iBUG / Multi-PIE landmarks ((68, 3))."""
    if len(points) != 68:
        raise FaceForgeError(f"expected 68 iBUG landmarks, got {len(points)}")
    return _guide(points, _IBUG, iris=False)


def guide_from_landmarks(points: np.ndarray) -> FaceGuide:
    """Pick the mapping from the number of landmarks (468/478 MediaPipe, 68 iBUG)."""
    n = len(points)
    if n in (468, 478):
        return guide_from_mediapipe(points)
    if n == 68:
        return guide_from_ibug68(points)
    raise FaceForgeError(f"Unknown landmark layout ({n} points): detect the landmarks again "
                         "(MediaPipe gives 478)")


def _unit(v):
    n = np.linalg.norm(v)
    if not np.isfinite(n) or n < 1e-12:
        raise FaceForgeError("The landmarks are degenerate (eyes, mouth and nose coincide): "
                             "detect the landmarks again")
    return v / n


@dataclass
class HeadFrame:
    """The rig's upright frame of the head.  ``rotation`` columns = local X (subject's left),
    local Y (backwards), local Z (up) in world space; ``size`` = inter-ocular distance."""
    origin: np.ndarray  # (3,)
    rotation: np.ndarray  # (3, 3)
    size: float

    def to_local(self, p):
        return (np.asarray(p, dtype=np.float64) - self.origin) @ self.rotation

    def to_world(self, p):
        return np.asarray(p, dtype=np.float64) @ self.rotation.T + self.origin

    def matrix(self) -> np.ndarray:
        m = np.eye(4)
        m[:3, :3] = self.rotation
        m[:3, 3] = self.origin
        return m


def head_frame(guide: FaceGuide) -> HeadFrame:
    """The face's frame from its landmarks (any position, rotation, scale).

    Forward runs from the top ends of the jaw line (beside the ears) to the
    eyes - close to the anatomical Frankfort horizontal, so "up" is the
    head's up and not tilted by the face's slope; up is signed by the mouth
    being below the eyes; left = up x forward.
    """
    e0, e1 = (np.asarray(c).mean(0) for c in guide.eye_contours)
    eyes_mid = (e0 + e1) / 2
    mouth_mid = (np.asarray(guide.lip_upper_inner).mean(0) + np.asarray(guide.lip_lower_inner).mean(0)) / 2
    across = _unit(e1 - e0)
    ends_mid = (np.asarray(guide.jaw_line[0]) + np.asarray(guide.jaw_line[-1])) / 2
    fwd = eyes_mid - ends_mid
    fwd = _unit(fwd - across * (fwd @ across))
    up = _unit(np.cross(across, fwd))
    if up @ (eyes_mid - mouth_mid) < 0:
        up = -up
    left = np.cross(up, fwd)  # subject's left (+X for a face looking down -Y, up +Z)
    size = float(np.linalg.norm(e1 - e0))
    rot = snap_rotation(np.stack([left, -fwd, up], axis=1))
    # Origin on the mid-plane between the eyes (a symmetric point for mirrored input).
    return HeadFrame(origin=eyes_mid, rotation=rot, size=size)


SNAP_DEGREES = 25.0


def snap_rotation(rot: np.ndarray, max_degrees: float = SNAP_DEGREES) -> np.ndarray:
    """The nearest axis-aligned rotation when ``rot`` is within ``max_degrees`` of it.

    Heads are modelled upright along the world axes; the landmark frame has a
    few degrees of anatomical tilt (the Frankfort plane is not the modelling
    plane), and animators expect an upright rig.  A head that really is tilted
    or rotated keeps its own frame.  Snapping keeps mirror symmetry: a mirrored
    face gives the mirrored snapped frame.
    """
    snap = np.zeros((3, 3))
    for j in range(3):
        i = int(np.argmax(np.abs(rot[:, j])))
        snap[i, j] = np.sign(rot[i, j])
    if abs(np.linalg.det(snap) - 1.0) > 1e-6:
        return rot
    cos = np.clip((np.trace(snap.T @ rot) - 1.0) / 2.0, -1.0, 1.0)
    return snap if np.degrees(np.arccos(cos)) <= max_degrees else rot


def centre_on_mesh(frame: HeadFrame, skin_verts: np.ndarray, iterations: int = 4,
                   max_samples: int = 20000) -> HeadFrame:
    """Slide the frame along its X axis onto the mesh's own mirror plane.

    Landmarks sit a millimetre or so off a symmetric mesh's mid-plane; for a
    mirror-symmetric mesh the reflected surface matches itself exactly, so
    each vertex's nearest neighbour after reflection is its twin and the mean
    of their x is the plane.  Robust (median) for meshes that are only nearly
    symmetric; ignored when the shift would be implausibly large.
    """
    from scipy.spatial import cKDTree

    p = frame.to_local(skin_verts)
    near = np.linalg.norm(p, axis=1) < 2.5 * frame.size  # the face, not the shoulders
    p = p[near]
    if len(p) < 50:
        return frame
    if len(p) > max_samples:
        p = p[np.random.default_rng(0).choice(len(p), max_samples, replace=False)]
    tree = cKDTree(p)
    c = 0.0
    for _ in range(iterations):
        q = p.copy()
        q[:, 0] = 2 * c - q[:, 0]
        _, nn = tree.query(q)
        c = float(np.median((p[:, 0] + p[nn, 0]) / 2))
    if abs(c) > 0.1 * frame.size:
        return frame
    return HeadFrame(origin=frame.origin + frame.rotation[:, 0] * c, rotation=frame.rotation, size=frame.size)


@dataclass
class Bone:
    name: str
    head: np.ndarray  # (3,) local to the frame
    tail: np.ndarray
    parent: str | None
    deform: bool = True
    up: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, 1.0]))  # roll: bone Z towards this


@dataclass
class Skeleton:
    frame: HeadFrame
    bones: list  # of Bone, parents first
    eye_radius: dict  # name -> radius (world units) of the eyeball sphere
    eye_source: str  # "mesh" (fitted eyeballs) or "landmarks"
    mouth_line: tuple  # (xs, zs): the lips' meeting line in local coords, sorted by x
    hinge: np.ndarray  # (2, 3) local jaw hinge points (right, left)

    def bone(self, name) -> Bone:
        return next(b for b in self.bones if b.name == name)

    def names(self) -> list:
        return [b.name for b in self.bones]


def sided(frame: HeadFrame, a, b):
    """Order two points as (right, left) of the subject by local X."""
    la, lb = frame.to_local(a), frame.to_local(b)
    return (a, b) if la[0] < lb[0] else (b, a)


def mouth_line(frame: HeadFrame, guide: FaceGuide):
    """The line where the lips meet, as (xs, zs) sorted by local x."""
    up = frame.to_local(guide.lip_upper_inner)
    lo = frame.to_local(guide.lip_lower_inner)
    corners = frame.to_local(guide.mouth_corners)
    # Pair points by x: interpolate each contour at common xs and average.
    xs = np.linspace(corners[:, 0].min(), corners[:, 0].max(), 17)
    zu = np.interp(xs, *_sorted_xz(up))
    zl = np.interp(xs, *_sorted_xz(lo))
    zs = (zu + zl) / 2
    zs[0] = corners[np.argmin(corners[:, 0]), 2] * 0.5 + zs[0] * 0.5
    zs[-1] = corners[np.argmax(corners[:, 0]), 2] * 0.5 + zs[-1] * 0.5
    return xs, zs


def _sorted_xz(p):
    o = np.argsort(p[:, 0])
    return p[o, 0], p[o, 2]


def place_bones(guide: FaceGuide, skin_local_extent=None, eyeballs=None, tongue_points=None,
                frame: HeadFrame | None = None) -> Skeleton:
    """Place the face bones.

    ``skin_local_extent``: optional (2, 3) min/max of the skin in *frame-local*
    coordinates (gives the neck base and the top of the head).
    ``eyeballs``: optional {"L"/"R": (centre world (3,), radius)} fitted from the mesh.
    ``tongue_points``: optional (k, 3) world positions of tongue vertices.
    """
    frame = frame or head_frame(guide)
    if eyeballs and "L" in eyeballs and "R" in eyeballs:
        # Centre the frame on the mesh's own symmetry (the eyeball pair), not on noisy landmarks.
        mid = frame.to_local((np.asarray(eyeballs["L"][0]) + np.asarray(eyeballs["R"][0])) / 2)
        frame = HeadFrame(origin=frame.origin + frame.rotation[:, 0] * mid[0], rotation=frame.rotation,
                          size=frame.size)
    s = frame.size
    L = frame.to_local
    eyes = [L(np.asarray(c).mean(0)) for c in guide.eye_contours]
    eye_r, eye_l = sorted(eyes, key=lambda p: p[0])
    eye_z = (eye_r[2] + eye_l[2]) / 2
    jaw = L(guide.jaw_line)
    ends = jaw[[0, -1]]
    jaw_top_z = float(ends[:, 2].mean())
    jaw_top_y = float(ends[:, 1].mean())
    jaw_half = float(np.abs(ends[:, 0]).mean())
    chin = L(guide.chin)
    nose_tip = L(guide.nose_tip)

    # Jaw hinge: below and in front of the ear (condyle ~ at the Frankfort plane, behind the cheek).
    hinge_z = min(jaw_top_z, eye_z - 0.30 * s)
    hinge_y = jaw_top_y + 0.25 * s
    hx = 0.8 * jaw_half
    hinge = np.array([[-hx, hinge_y, hinge_z], [hx, hinge_y, hinge_z]])
    jaw_head = np.array([0.0, hinge_y, hinge_z])
    jaw_tail = np.array([0.0, chin[1] + 0.08 * s, chin[2] + 0.08 * s])

    # Head pivot (skull on the spine): behind and below the hinge.
    pivot = np.array([0.0, hinge_y + 0.35 * s, hinge_z - 0.25 * s])
    if skin_local_extent is not None:
        lo, hi = np.asarray(skin_local_extent, dtype=np.float64)
        top = max(hi[2], eye_z + 0.5 * s)
        bottom = lo[2] if lo[2] < chin[2] - 0.3 * s else pivot[2] - 1.0 * s
    else:
        top, bottom = eye_z + 1.3 * s, pivot[2] - 1.0 * s
    bottom = min(bottom, pivot[2] - 0.3 * s)
    head_tail = np.array([0.0, pivot[1], top])
    neck_head = np.array([0.0, pivot[1], bottom])

    # Eyes: fitted eyeball centres, else behind the iris / eye-opening centre.
    radius = {}
    centres = {}
    source = "mesh"
    if eyeballs and "L" in eyeballs and "R" in eyeballs:
        for side in ("L", "R"):
            c, r = eyeballs[side]
            centres[side], radius[side] = L(c), float(r)
    else:
        source = "landmarks"
        r = TYPICAL_EYE_RADIUS * s
        # Across: the middle of the eye corners (the iris may look sideways); height and depth: the
        # iris (on the cornea) pushed back by one eyeball radius, else the eye opening's centre.
        # The pair is made mirror-symmetric about the frame's mid-plane (X-mirror friendly).
        rings = sorted((L(np.asarray(c)) for c in guide.eye_contours), key=lambda c: c[:, 0].mean())
        across = [(c[:, 0].min() + c[:, 0].max()) / 2 for c in rings]
        if guide.iris is not None:
            front = sorted(L(guide.iris), key=lambda p: p[0])
        else:
            front = [c.mean(0) for c in rings]
        half = (across[1] - across[0]) / 2
        y = (front[0][1] + front[1][1]) / 2 + r
        z = (front[0][2] + front[1][2]) / 2
        for side, sign in (("R", -1.0), ("L", 1.0)):
            centres[side] = np.array([sign * half, y, z])
            radius[side] = r

    bones = [
        Bone(ROOT, neck_head.copy(), neck_head + np.array([0.0, 0.6 * s, 0.0]), None, deform=False),
        Bone(NECK, neck_head, pivot, ROOT),
        Bone(HEAD, pivot, head_tail, NECK),
        Bone(JAW, jaw_head, jaw_tail, HEAD),
    ]
    for side, name in (("L", EYE_L), ("R", EYE_R)):
        c = centres[side]
        bones.append(Bone(name, c, c + np.array([0.0, -max(radius[side] * 1.5, 0.2 * s), 0.0]), HEAD))

    if tongue_points is not None and len(tongue_points) >= 8:
        t = L(tongue_points)
        mid = t[np.abs(t[:, 0]) < 0.25 * max(np.abs(t[:, 0]).max(), 1e-9) + 1e-9]
        if len(mid) < 4:
            mid = t
        y0, y1 = np.percentile(mid[:, 1], [95, 3])  # back (larger y) to tip (front)
        z = float(np.percentile(mid[:, 2], 60))
        pts = [np.array([0.0, y0 + (y1 - y0) * f, z]) for f in (0.0, 0.4, 0.72, 1.0)]
        parent = JAW
        for i, name in enumerate(TONGUE):
            bones.append(Bone(name, pts[i], pts[i + 1], parent))
            parent = name

    xs, zs = mouth_line(frame, guide)
    return Skeleton(frame=frame, bones=bones, eye_radius={EYE_L: radius["L"], EYE_R: radius["R"]},
                    eye_source=source, mouth_line=(xs, zs), hinge=hinge)


def skeleton_landmark_summary(sk: Skeleton) -> dict:
    """Small dict for reports: bone heads in world space."""
    return {b.name: sk.frame.to_world(b.head).round(4).tolist() for b in sk.bones}


def fit_axis_angle(rest: np.ndarray, moved: np.ndarray, pivot, axis) -> tuple[float, float]:
    """Angle (radians, right-handed about ``axis``) of the rotation about the line (``pivot``, ``axis``)
    that best maps ``rest`` (K, 3) onto ``moved`` (K, 3); and the RMS residual.

    Used to make a bone agree with a shape key that rotates a rigid part (``jawOpen`` about the jaw
    hinge, ``eyeLook*`` about the eye centre).
    """
    angle, _, res = fit_axis_motion(rest, moved, pivot, axis, slide=False)
    return angle, res


def fit_axis_motion(rest: np.ndarray, moved: np.ndarray, pivot, axis, slide: bool = True):
    """Rotation about the line (``pivot``, ``axis``) followed by a slide that best maps ``rest``
    (K, 3) onto ``moved`` (K, 3): ``(angle radians, slide (3,) in the points' space, RMS residual)``.

    A scanned ``jawOpen`` turns the jaw and slides it forward and down (the condyle glides on the
    skull), so a bone turning about a hinge placed from the face alone misses part of the
    motion; the slide is what a location channel adds.  The angle is then measured about the
    points' centroid (it does not depend on where the pivot is); ``slide=False`` fits the pure
    rotation about the pivot (slide zero)."""
    a = np.asarray(axis, dtype=np.float64)
    a = a / np.linalg.norm(a)
    u = np.asarray(rest, dtype=np.float64) - pivot
    v = np.asarray(moved, dtype=np.float64) - pivot
    if not len(u):
        return 0.0, np.zeros(3), 0.0
    uc, vc = (u - u.mean(0), v - v.mean(0)) if slide else (u, v)
    up = uc - np.outer(uc @ a, a)
    vp = vc - np.outer(vc @ a, a)
    angle = float(np.arctan2((np.cross(up, vp) @ a).sum(), (up * vp).sum()))
    c, s = np.cos(angle), np.sin(angle)
    rot = u * c + np.cross(a, u) * s + np.outer(u @ a, a) * (1 - c)  # Rodrigues
    shift = (v - rot).mean(0) if slide else np.zeros(3)
    res = float(np.sqrt(np.mean(np.sum((rot + shift - v) ** 2, axis=1))))
    return angle, shift, res


# --- drivers as arrays (exports bake what a driver shows, frame by frame) -------------------

_DRIVER_FUNCS = {name: getattr(np, name) for name in (
    "sin", "cos", "tan", "arcsin", "arccos", "arctan", "arctan2", "sqrt", "exp", "log", "floor", "ceil",
    "radians", "degrees", "pi", "abs", "sign", "hypot")}
_DRIVER_FUNCS.update(asin=np.arcsin, acos=np.arccos, atan=np.arctan, atan2=np.arctan2, fabs=np.abs,
                     min=np.minimum, max=np.maximum, clamp=lambda x, lo=0.0, hi=1.0: np.clip(x, lo, hi),
                     lerp=lambda a, b, t: a + (b - a) * t, round=np.round, int=np.trunc, float=np.asarray,
                     bool=lambda x: np.asarray(x) != 0)


def evaluate_driver(kind: str, expression: str, variables: dict[str, np.ndarray], frames: int) -> np.ndarray:
    """A driver's value at every frame: ``variables`` maps each variable name to its (F,) values.

    ``kind``: Blender's driver type (``SCRIPTED``, ``AVERAGE``, ``SUM``, ``MIN``, ``MAX``).
    Scripted expressions are Python over numpy arrays (the functions Blender's
    simple-expression evaluator offers: sin, cos, min, max, clamp, lerp, ...).
    Raises ValueError for an expression that can't be evaluated that way.
    """
    values = {k: np.asarray(v, dtype=np.float64) for k, v in variables.items()}
    stack = list(values.values())
    if kind == "SUM":
        return np.sum(stack, axis=0) if stack else np.zeros(frames)
    if kind == "AVERAGE":
        return np.mean(stack, axis=0) if stack else np.zeros(frames)
    if kind == "MIN":
        return np.min(stack, axis=0) if stack else np.zeros(frames)
    if kind == "MAX":
        return np.max(stack, axis=0) if stack else np.zeros(frames)
    if kind != "SCRIPTED":
        raise ValueError(f"unknown driver type {kind}")
    try:
        out = eval(compile(expression or "0", "<driver>", "eval"), {"__builtins__": {}, **_DRIVER_FUNCS}, values)
    except Exception as exc:  # noqa: BLE001 - any failure means: not an array-friendly expression
        raise ValueError(f"driver expression '{expression}' can't be evaluated on arrays: {exc}") from None
    out = np.broadcast_to(np.asarray(out, dtype=np.float64), (frames,)).copy()
    if not np.all(np.isfinite(out)):
        raise ValueError(f"driver expression '{expression}' gives non-finite values")
    return out
