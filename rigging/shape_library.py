"""FaceForge's shape library: the 52 ARKit blendshapes as deformation fields, written by us.

Every shape is a smooth *deformation field* written in the face-local frame
(:class:`rigging.regions.FaceFrame`: origin between the eyes, x = subject's
left, y = up, z = forward, unit = inter-ocular distance), anchored on the
face's own landmarks, so it adapts to any face's proportions.  A field can be
evaluated at any set of points: the 478 landmarks (``landmark_displacements``
gives the library as landmark displacements) or every vertex of a dense mesh
(:mod:`rigging.deform` supplies the per-vertex attributes that keep the lips,
the eyelids and the rigid parts apart).

Per-point attributes (:class:`Points`):

* ``q`` (N, 3) local coordinates;
* ``lip`` (N,) 0 = upper-lip side, 1 = lower-lip/jaw side of the mouth opening;
* ``lid_l`` / ``lid_r`` (N,) 0 = upper-lid side, 1 = lower-lid side of each eye;
* ``soft`` (N,) 1 = skin (and what sits on it), 0 = interior parts (teeth,
  gums, tongue, eyeballs) that only follow the jaw / the eye rotation;
* ``eye_l`` / ``eye_r`` (N,) 1 on an eyeball (rotates rigidly for ``eyeLook*``);
* ``tongue`` (N,) 0..1 how much a point belongs to the tongue tip.

Apple's meanings, as implemented (weight 1 = the extreme pose):

* ``jawOpen`` rotates the lower jaw ~18 deg about the jaw hinge (in front of the
  ears): the chin moves down *and back*, the lower lip, lower teeth and tongue
  follow, the upper face stays.  ``jawForward``/``jawLeft``/``jawRight`` slide it.
* ``mouthClose`` closes the lips independent of the jaw (lower lip up, upper
  lip down by the opening ``jawOpen`` makes; at neutral they press together).
* ``eyeBlink*`` rotates the upper lid about the eyeball centre (following its
  curvature) to meet the lower lid, which rises a little; the closing angle is
  measured per column of the lid margin so the whole margin meets.
  ``eyeSquint*`` raises the lower lid, ``eyeWide*`` lifts the upper lid.
* ``eyeLook*`` rotate the eyeball rigidly; the lids follow slightly.
* ``mouthSmile*`` raises and pulls back the mouth corner and bunches the cheek;
  ``mouthFrown*`` pulls it down; ``mouthDimple*`` back; ``mouthStretch*`` out and
  down; ``mouthPress*`` presses the lips together; ``mouthFunnel`` opens and
  flares the lips forward into an O; ``mouthPucker`` narrows and pushes them
  forward; ``mouthRoll*`` rolls a lip in; ``mouthShrug*`` pushes a lip up;
  ``mouthUpperUp*``/``mouthLowerDown*`` raise/lower one side of a lip;
  ``mouthLeft``/``mouthRight`` move the closed mouth sideways.
* ``brow*``, ``cheekPuff``, ``cheekSquint*``, ``noseSneer*`` as their names say.
* ``tongueOut`` slides the tongue forward out of the mouth, over the lower teeth
  (``Anchors.tongue``, a :class:`TonguePath`) - only where the
  mesh has a tongue (``Points.tongue``); otherwise it is skipped.

Left/right pairs are exact mirror images: a right shape is the left shape
evaluated on the mirrored face (x flipped, landmarks swapped with their twins)
and flipped back, so it adapts to the right side's own landmarks.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..core.arkit import ARKIT_NAMES
from . import regions as R

# --- field helpers ------------------------------------------------------------


def smoothstep(e0: float, e1: float, x):
    t = np.clip((np.asarray(x, dtype=np.float64) - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def bump(q: np.ndarray, centre, radii) -> np.ndarray:
    """Compactly supported smooth bump: 1 at ``centre``, 0 beyond the ellipsoid ``radii``."""
    d2 = (((q - np.asarray(centre)) / np.asarray(radii, dtype=np.float64)) ** 2).sum(axis=1)
    return (1.0 - np.minimum(d2, 1.0)) ** 3


def plateau(w: np.ndarray, gain: float = 1.8) -> np.ndarray:
    """Flatten a bump's top: 1 over most of its core, still smooth at its edge."""
    return 1.0 - (1.0 - np.clip(w, 0.0, 1.0)) ** gain


def rotate_x(q: np.ndarray, pivot: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Displacement of points rotated by per-point ``angle`` about the x axis through ``pivot``.

    A positive angle moves points in front of the pivot (+z) down (-y).
    """
    d = q - pivot
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros_like(q)
    out[:, 1] = d[:, 1] * c - d[:, 2] * s - d[:, 1]
    out[:, 2] = d[:, 1] * s + d[:, 2] * c - d[:, 2]
    return out


def rotate_y(q: np.ndarray, pivot: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Displacement for a rotation about the y axis; positive moves front points toward +x."""
    d = q - pivot
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros_like(q)
    out[:, 0] = d[:, 0] * c + d[:, 2] * s - d[:, 0]
    out[:, 2] = -d[:, 0] * s + d[:, 2] * c - d[:, 2]
    return out


# --- inputs -------------------------------------------------------------------


@dataclass
class Points:
    """Points to deform and their attributes (see the module docstring)."""

    q: np.ndarray
    lip: np.ndarray
    lid_l: np.ndarray
    lid_r: np.ndarray
    soft: np.ndarray
    eye_l: np.ndarray
    eye_r: np.ndarray
    tongue: np.ndarray

    def mirrored(self) -> "Points":
        q = self.q.copy()
        q[:, 0] *= -1
        return replace(self, q=q, lid_l=self.lid_r, lid_r=self.lid_l, eye_l=self.eye_r, eye_r=self.eye_l)

    def subset(self, idx) -> "Points":
        return Points(**{k: getattr(self, k)[idx] for k in self.__dataclass_fields__})


@dataclass
class TonguePath:
    """How ``tongueOut`` moves a tongue (local units): each tongue point goes
    ``forward`` times its weight, and what passes over the lower incisors (whose
    front is at ``teeth_front``) rises by ``lift``, so the tongue comes out over them."""

    forward: float = 0.55
    lift: float = 0.0
    teeth_front: float = float("inf")


@dataclass
class Anchors:
    """Landmark-derived anchor points (local frame) the shapes are written against."""

    lm: np.ndarray  # (L, 3) local landmarks
    mouth_c: np.ndarray
    mouth_l: np.ndarray
    mouth_r: np.ndarray
    mouth_half: float  # half mouth width
    lip_gap: float  # jawOpen's opening at the lips, for mouthClose
    chin: np.ndarray
    hinge: np.ndarray
    eye_l: np.ndarray  # eye-opening centre
    eye_r: np.ndarray
    ball_l: np.ndarray  # eyeball centre of rotation
    ball_r: np.ndarray
    lids_l: "LidColumns"  # the lid margins across each eye opening
    lids_r: "LidColumns"
    tongue: "TonguePath" = field(default_factory=lambda: TonguePath())  # set where a tongue is found

    @staticmethod
    def from_landmarks(lm_local: np.ndarray, ball_l=None, ball_r=None, eye_radius: float = 0.19) -> "Anchors":
        lm = np.asarray(lm_local, dtype=np.float64)
        mouth_l, mouth_r = lm[R.LIP_CORNER_LEFT], lm[R.LIP_CORNER_RIGHT]
        mouth_c = (lm[R.UPPER_LIP_MID_INNER] + lm[R.LOWER_LIP_MID_INNER]) / 2
        eye_l, eye_r = R.eye_centres(lm)
        if ball_l is None:
            ball_l = eye_l + np.array([0.0, 0.0, -eye_radius * 0.95])
        if ball_r is None:
            ball_r = eye_r + np.array([0.0, 0.0, -eye_radius * 0.95])
        # The jaw hinge (temporomandibular joint): in front of the ears, a little
        # below the eye line; the face outline points 454/234 sit near the ears.
        ears = (lm[454] + lm[234]) / 2
        hinge = np.array([0.0, 0.15 * ears[1] - 0.3, ears[2] - 0.25])
        chin = lm[R.CHIN]
        lids_l = LidColumns.from_margins(lm[list(R.EYE_LEFT_UPPER)], lm[list(R.EYE_LEFT_LOWER)], ball_l, eye_l)
        lids_r = LidColumns.from_margins(lm[list(R.EYE_RIGHT_UPPER)], lm[list(R.EYE_RIGHT_LOWER)], ball_r, eye_r)
        a = Anchors(lm=lm, mouth_c=mouth_c, mouth_l=mouth_l, mouth_r=mouth_r,
                    mouth_half=float(np.linalg.norm(mouth_l - mouth_r) / 2), lip_gap=0.0, chin=chin,
                    hinge=hinge, eye_l=eye_l, eye_r=eye_r, ball_l=np.asarray(ball_l, float),
                    ball_r=np.asarray(ball_r, float), lids_l=lids_l, lids_r=lids_r)
        lip = a.mouth_c[None] + [[0.0, -0.08, 0.05]]
        a.lip_gap = float(-rotate_x(lip, hinge, np.array([JAW_OPEN_ANGLE]))[0, 1])
        return a

    def mirrored(self) -> "Anchors":
        def f(v):
            v = np.array(v, dtype=np.float64)
            v[..., 0] *= -1
            return v

        return Anchors(lm=R.mirror_landmarks(self.lm) if len(self.lm) == R.NUM_LANDMARKS else f(self.lm),
                       mouth_c=f(self.mouth_c), mouth_l=f(self.mouth_r), mouth_r=f(self.mouth_l),
                       mouth_half=self.mouth_half, lip_gap=self.lip_gap, chin=f(self.chin),
                       hinge=f(self.hinge), eye_l=f(self.eye_r), eye_r=f(self.eye_l), ball_l=f(self.ball_r),
                       ball_r=f(self.ball_l), lids_l=self.lids_r.mirrored(), lids_r=self.lids_l.mirrored())


@dataclass
class LidColumns:
    """The lid margins of one eye as columns across the opening (sorted by x).

    ``x`` (C,) column positions; ``upper``/``lower`` (C,) the margins' angles
    about the x axis through the eyeball's centre (radians, up is positive);
    ``gap`` = upper - lower, the rotation that closes the column (0 at the
    corners); ``w_up``/``w_lo`` (C,) the lid zones' weights at the margins, so a
    blink can bring the margins exactly together whatever the zones' falloff.
    """

    x: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    w_up: np.ndarray
    w_lo: np.ndarray

    @property
    def gap(self) -> np.ndarray:
        return np.maximum(self.upper - self.lower, 0.0)

    @staticmethod
    def from_margins(up: np.ndarray, lo: np.ndarray, ball, eye_centre, pad: float = 0.0) -> "LidColumns":
        """From paired upper/lower margin points (C, 3), local frame.  Corners are
        closed: with ``pad`` > 0 a closed column is added beyond each end, else
        the first and last pairs (shared corner points) count as closed."""
        ball = np.asarray(ball, dtype=np.float64)
        xs = (up[:, 0] + lo[:, 0]) / 2
        au = np.arctan2(up[:, 1] - ball[1], up[:, 2] - ball[2])
        al = np.arctan2(lo[:, 1] - ball[1], lo[:, 2] - ball[2])
        wu = plateau(bump(up, eye_centre, LID_RADII_UP), LID_GAIN)
        wl = plateau(bump(lo, eye_centre, LID_RADII_LO), LID_GAIN)
        order = np.argsort(xs)
        xs, au, al, wu, wl = xs[order], au[order], al[order], wu[order], wl[order]
        if pad > 0:
            xs = np.concatenate([[xs[0] - pad], xs, [xs[-1] + pad]])
            mid0, mid1 = (au[0] + al[0]) / 2, (au[-1] + al[-1]) / 2
            au = np.concatenate([[mid0], au, [mid1]])
            al = np.concatenate([[mid0], al, [mid1]])
            wu, wl = np.concatenate([[wu[0]], wu, [wu[-1]]]), np.concatenate([[wl[0]], wl, [wl[-1]]])
        else:
            au = au.copy()
            au[0], au[-1] = al[0], al[-1] = (au[0] + al[0]) / 2, (au[-1] + al[-1]) / 2
        return LidColumns(xs, au, al, np.maximum(wu, 1e-3), np.maximum(wl, 1e-3))

    def mirrored(self) -> "LidColumns":
        return LidColumns(-self.x[::-1], self.upper[::-1], self.lower[::-1], self.w_up[::-1], self.w_lo[::-1])

    def at(self, x: np.ndarray, field: str) -> np.ndarray:
        values = self.gap if field == "gap" else getattr(self, field)
        left, right = (0.0, 0.0) if field == "gap" else (values[0], values[-1])
        return np.interp(x, self.x, values, left=left, right=right)


# --- shared regions -------------------------------------------------------------

JAW_OPEN_ANGLE = 0.32  # radians (~18 deg) at weight 1


def face_mask(p: Points) -> np.ndarray:
    """1 on the face, 0 at the back of the head, the neck and the scalp (skin only)."""
    q = p.q
    back = smoothstep(-1.35, -0.85, q[:, 2])
    neck = smoothstep(-2.75, -2.15, q[:, 1])
    scalp = smoothstep(1.9, 1.3, q[:, 1])
    return (p.soft * back + (1.0 - p.soft)) * neck * scalp


def side_left(p: Points, a: Anchors, width: float = 0.22) -> np.ndarray:
    """Smooth 0 -> 1 across the face's midline toward the subject's left."""
    return smoothstep(-width, width, p.q[:, 0] - a.mouth_c[0])


def mouth_zone(p: Points, a: Anchors, grow: float = 1.0) -> np.ndarray:
    """The lips and the skin right around them (plateau over the lips)."""
    r = np.array([a.mouth_half * 1.9, 0.5, 0.9]) * grow
    return plateau(bump(p.q, a.mouth_c, r), 2.5)


def lip_zone(p: Points, a: Anchors) -> np.ndarray:
    """The lips themselves (tight)."""
    r = np.array([a.mouth_half * 1.45, 0.3, 0.7])
    return plateau(bump(p.q, a.mouth_c + [0, 0, -0.05], r), 2.0) * p.soft


def jaw_weight(p: Points, a: Anchors) -> np.ndarray:
    """How much each point follows the lower jaw (0..1).

    Below a line through the mouth corners rising toward the hinge; across the
    mouth the lip-side attribute decides, so the opening never gets stretched.
    """
    q = p.q
    ax = np.abs(q[:, 0] - a.mouth_c[0])
    yb = a.mouth_c[1] + 0.85 * np.maximum(ax - a.mouth_half * 0.8, 0.0)
    g = smoothstep(0.22, -0.28, q[:, 1] - yb)
    g = g * smoothstep(a.hinge[2] - 0.05, a.hinge[2] + 0.55, q[:, 2]) ** 0.5
    m = mouth_zone(p, a)
    w = g + m * (p.lip - g)
    # interior parts (teeth, gums, tongue): the lip-side attribute decides
    return p.soft * w + (1.0 - p.soft) * p.lip


def corner_zone(p: Points, a: Anchors, r=(0.3, 0.28, 0.45)) -> np.ndarray:
    return bump(p.q, a.mouth_l, r) * p.soft


def cheek_zone(p: Points, a: Anchors) -> np.ndarray:
    c = a.lm[R.CHEEK_LEFT] + [0.1, 0.08, -0.05]
    return bump(p.q, c, (0.42, 0.34, 0.6)) * p.soft


LID_RADII_UP, LID_RADII_LO, LID_GAIN = (0.34, 0.27, 0.5), (0.34, 0.2, 0.5), 2.5


def lid_zone(p: Points, a: Anchors, upper: bool) -> np.ndarray:
    """Upper (or lower) lid of the left eye: plateau at the margin, 0 at the brow/cheek."""
    side = (1.0 - p.lid_l) if upper else p.lid_l
    r = LID_RADII_UP if upper else LID_RADII_LO
    return plateau(bump(p.q, a.eye_l, r), LID_GAIN) * side * p.soft


def blink_angle(p: Points, a: Anchors) -> np.ndarray:
    """Per point, the rotation that closes the left eye's opening in its column."""
    return a.lids_l.at(p.q[:, 0], "gap")


def brow_zone(p: Points, a: Anchors, part: str) -> np.ndarray:
    lm = a.lm
    if part == "inner":
        c = lm[R.BROW_INNER_LEFT] + [0.02, 0.02, 0]
        r = (0.3, 0.38, 0.6)
    elif part == "outer":
        c = lm[R.BROW_OUTER_LEFT] + [0.02, 0.04, 0]
        r = (0.36, 0.38, 0.6)
    else:
        c = lm[list(R.BROW_LEFT)].mean(axis=0) + [0, 0.02, 0]
        r = (0.55, 0.36, 0.6)
    w = bump(p.q, c, r) * p.soft
    # keep the eye opening itself still: fade toward the lower lid
    return w * (1.0 - 0.85 * lid_zone(p, a, upper=False))


# --- the shapes (left versions; rights are mirrored) ------------------------------


def _vec(w, v):
    return w[:, None] * np.asarray(v, dtype=np.float64)[None, :]


def brow_down(p, a):
    w = brow_zone(p, a, "all")
    inner = brow_zone(p, a, "inner")
    d = _vec(w, (0.0, -0.11, 0.0)) + _vec(inner, (-0.05, -0.02, 0.02))
    d += _vec(lid_zone(p, a, True) * 0.35, (0, -0.04, 0))
    return d


def brow_inner_up(p, a):
    pm = p.mirrored()
    am = a.mirrored()
    wl = brow_zone(p, a, "inner")
    wr = brow_zone(pm, am, "inner")
    d = _vec(wl, (0.015, 0.13, 0.0)) + _vec(wr, (-0.015, 0.13, 0.0))
    return d


def brow_outer_up(p, a):
    w = brow_zone(p, a, "outer")
    return _vec(w, (0.0, 0.13, 0.0)) + _vec(lid_zone(p, a, True) * 0.3, (0, 0.02, 0))


def cheek_puff(p, a):
    out = np.zeros_like(p.q)
    for pp, aa, sign in ((p, a, 1.0), (p.mirrored(), a.mirrored(), -1.0)):
        c = (aa.lm[427] + aa.mouth_l) / 2 + [0.12, 0.05, -0.1]
        w = bump(pp.q, c, (0.45, 0.45, 0.7)) * pp.soft
        d = _vec(w, (0.13, 0.0, 0.04))
        d += _vec(lip_zone(pp, aa) * side_left(pp, aa) * 0.5, (0.0, 0.0, 0.05))
        d[:, 0] *= sign
        out += d
    return out


def cheek_squint(p, a):
    w = cheek_zone(p, a)
    d = _vec(w, (0.0, 0.07, 0.02))
    d += _vec(lid_zone(p, a, False), (0.0, 0.035, 0.01))
    return d


BLINK_LOWER_SHARE = 0.3  # of the closing done by the lower lid rising


def eye_blink(p, a):
    """The upper lid comes down over the eyeball and the lower lid rises a little,
    both rotating about the eyeball's centre, until the margins meet on a line
    three tenths of the way up the opening.  The margins meet exactly (their rotation is
    the column's angle divided by the zone's weight at the margin) and nothing
    between them crosses that line, so the eye closes without a slit or a fold."""
    lids, x = a.lids_l, p.q[:, 0]
    gap = lids.at(x, "gap")
    meet = lids.at(x, "upper") - (1.0 - BLINK_LOWER_SHARE) * gap
    own = np.arctan2(p.q[:, 1] - a.ball_l[1], p.q[:, 2] - a.ball_l[2])
    up = lid_zone(p, a, True) / lids.at(x, "w_up")
    lo = lid_zone(p, a, False) / lids.at(x, "w_lo")
    rot_up = np.minimum(up * (1.0 - BLINK_LOWER_SHARE) * gap, np.maximum(own - meet, 0.0))
    rot_lo = np.minimum(lo * BLINK_LOWER_SHARE * gap, np.maximum(meet - own, 0.0))
    return rotate_x(p.q, a.ball_l, rot_up) + rotate_x(p.q, a.ball_l, -rot_lo)


def eye_squint(p, a):
    ang = blink_angle(p, a)
    d = rotate_x(p.q, a.ball_l, -0.32 * ang * lid_zone(p, a, False))
    d += rotate_x(p.q, a.ball_l, 0.1 * ang * lid_zone(p, a, True))
    d += _vec(cheek_zone(p, a) * 0.5, (0.0, 0.03, 0.01))
    return d


def eye_wide(p, a):
    up = lid_zone(p, a, True)
    d = rotate_x(p.q, a.ball_l, -0.28 * up)
    d += rotate_x(p.q, a.ball_l, 0.06 * lid_zone(p, a, False))
    return d


def _eye_look(p, a, ax: str, angle: float, lid_up: float, lid_low: float):
    w = p.eye_l
    if ax == "x":
        d = rotate_x(p.q, a.ball_l, angle * w)
    else:
        d = rotate_y(p.q, a.ball_l, angle * w)
    if lid_up or lid_low:
        d += rotate_x(p.q, a.ball_l, lid_up * lid_zone(p, a, True))
        d += rotate_x(p.q, a.ball_l, lid_low * lid_zone(p, a, False))
    return d


def eye_look_up(p, a):
    return _eye_look(p, a, "x", -0.38, -0.12, -0.06)


def eye_look_down(p, a):
    return _eye_look(p, a, "x", 0.42, 0.22, 0.06)


def eye_look_in(p, a):
    # toward the nose: the left eye's front moves to -x
    return _eye_look(p, a, "y", -0.4, 0.0, 0.0)


def eye_look_out(p, a):
    return _eye_look(p, a, "y", 0.4, 0.0, 0.0)


def jaw_open(p, a):
    return rotate_x(p.q, a.hinge, JAW_OPEN_ANGLE * jaw_weight(p, a))


def _corner_soft(p, a):
    """Points with the lip side blended to 0.5 at the mouth corners: sliding the jaw
    sideways or forward stretches the corners instead of shearing (folding) them."""
    r = (0.22, 0.16, 0.35)
    c = np.maximum(bump(p.q, a.mouth_l, r), bump(p.q, a.mouth_r, r))
    return replace(p, lip=p.lip * (1.0 - c) + 0.5 * c)


def jaw_forward(p, a):
    return _vec(jaw_weight(_corner_soft(p, a), a), (0.0, 0.0, 0.11))


def jaw_left(p, a):
    j = jaw_weight(_corner_soft(p, a), a)
    d = _vec(j, (0.13, 0.0, 0.0))
    return d + rotate_y(p.q, a.hinge, 0.03 * j)


def mouth_close(p, a):
    lz = lip_zone(p, a)
    lower = lz * p.lip
    upper = lz * (1.0 - p.lip)
    d = rotate_x(p.q, a.hinge, -JAW_OPEN_ANGLE * 0.72 * lower)
    d += _vec(upper, (0.0, -0.45 * a.lip_gap, 0.01))
    return d


def _about_mouth(p, a):
    return p.q - a.mouth_c


def mouth_funnel(p, a):
    lz = lip_zone(p, a)
    rel = _about_mouth(p, a)
    upper, lower = lz * (1 - p.lip), lz * p.lip
    d = _vec(lz, (0.0, 0.0, 0.13))
    d[:, 0] += -0.32 * rel[:, 0] * lz
    d += _vec(upper, (0.0, 0.07, 0.0)) + _vec(lower, (0.0, -0.09, 0.0))
    return d


def mouth_pucker(p, a):
    lz = lip_zone(p, a)
    rel = _about_mouth(p, a)
    d = _vec(lz, (0.0, 0.0, 0.16))
    d[:, 0] += -0.45 * rel[:, 0] * lz
    d[:, 1] += -0.25 * rel[:, 1] * lz
    return d


def mouth_left(p, a):
    w = mouth_zone(p, a, 1.1) * p.soft
    return _vec(w, (0.15, 0.0, -0.01))


def mouth_smile(p, a):
    c = corner_zone(p, a, (0.42, 0.36, 0.6))
    s = side_left(p, a)
    lz = lip_zone(p, a) * s
    d = _vec(c, (0.08, 0.13, -0.07)) + _vec(lz * 0.35, (0.02, 0.04, -0.02))
    d += _vec(cheek_zone(p, a), (0.02, 0.06, 0.04))
    d += _vec(lid_zone(p, a, False) * 0.5, (0, 0.025, 0.0))
    return d


def mouth_frown(p, a):
    c = corner_zone(p, a, (0.36, 0.4, 0.6))
    d = _vec(c, (0.02, -0.11, 0.0))
    return d


def mouth_dimple(p, a):
    c = corner_zone(p, a, (0.32, 0.3, 0.5))
    return _vec(c, (0.05, 0.0, -0.08))


def mouth_stretch(p, a):
    c = corner_zone(p, a, (0.4, 0.36, 0.55))
    lower = lip_zone(p, a) * p.lip * side_left(p, a)
    return _vec(c, (0.1, -0.05, -0.03)) + _vec(lower, (0.03, -0.04, 0.0))


def mouth_press(p, a):
    lz = lip_zone(p, a) * side_left(p, a)
    d = _vec(lz * (1 - p.lip), (0.0, -0.02, -0.01)) + _vec(lz * p.lip, (0.0, 0.025, -0.01))
    d += _vec(corner_zone(p, a), (0.02, 0.0, -0.01))
    return d


def mouth_roll_lower(p, a):
    w = lip_zone(p, a) * p.lip
    return _vec(w, (0.0, 0.03, -0.09))


def mouth_roll_upper(p, a):
    w = lip_zone(p, a) * (1.0 - p.lip)
    return _vec(w, (0.0, -0.03, -0.08))


def mouth_shrug_lower(p, a):
    lz = lip_zone(p, a) * p.lip
    chin = bump(p.q, a.chin + [0, 0.2, 0], (0.5, 0.45, 0.7)) * p.soft * p.lip
    return _vec(lz, (0.0, 0.05, 0.04)) + _vec(chin, (0.0, 0.04, 0.03))


def mouth_shrug_upper(p, a):
    w = lip_zone(p, a) * (1.0 - p.lip)
    return _vec(w, (0.0, 0.045, 0.02))


def mouth_upper_up(p, a):
    s = smoothstep(-0.12, 0.3, p.q[:, 0] - a.mouth_c[0])
    c = a.mouth_c + [a.mouth_half * 0.45, 0.15, 0.0]
    w = plateau(bump(p.q, c, (a.mouth_half * 1.0, 0.35, 0.7)), 1.5) * (1.0 - p.lip) * p.soft * s
    return _vec(w, (0.0, 0.1, 0.01))


def mouth_lower_down(p, a):
    s = smoothstep(-0.12, 0.3, p.q[:, 0] - a.mouth_c[0])
    c = a.mouth_c + [a.mouth_half * 0.45, -0.15, 0.0]
    w = plateau(bump(p.q, c, (a.mouth_half * 1.0, 0.4, 0.7)), 1.5) * p.lip * p.soft * s
    return _vec(w, (0.0, -0.11, 0.01))


def nose_sneer(p, a):
    wing = a.lm[R.NOSE_WING_LEFT]
    w = bump(p.q, wing + [0.02, 0.08, -0.02], (0.22, 0.3, 0.4)) * p.soft
    d = _vec(w, (0.01, 0.065, 0.0))
    d += _vec(mouth_upper_up(p, a)[:, 1] * 0.25, (0, 1.0, 0))
    d += _vec(brow_zone(p, a, "inner") * 0.4, (-0.02, -0.05, 0))
    return d


def tongue_out(p, a):
    t = a.tongue
    w = p.tongue
    d = _vec(w, (0.0, 0.0, t.forward))
    if t.lift > 0.0:  # what passes over the lower incisors rises above their edge
        ahead = p.q[:, 2] + w * t.forward  # how far forward each point ends
        d[:, 1] += t.lift * smoothstep(t.teeth_front - 0.25, t.teeth_front - 0.12, ahead) * smoothstep(0.0, 0.2, w)
    return d


SIDED = {
    "browDown": brow_down, "browOuterUp": brow_outer_up, "cheekSquint": cheek_squint,
    "eyeBlink": eye_blink, "eyeLookDown": eye_look_down, "eyeLookIn": eye_look_in,
    "eyeLookOut": eye_look_out, "eyeLookUp": eye_look_up, "eyeSquint": eye_squint, "eyeWide": eye_wide,
    "mouthDimple": mouth_dimple, "mouthFrown": mouth_frown, "mouthLowerDown": mouth_lower_down,
    "mouthPress": mouth_press, "mouthSmile": mouth_smile, "mouthStretch": mouth_stretch,
    "mouthUpperUp": mouth_upper_up, "noseSneer": nose_sneer,
}
# Sideways pairs: the "Left" one is written, the "Right" one mirrored.
SIDEWAYS = {"jawLeft": ("jawRight", jaw_left), "mouthLeft": ("mouthRight", mouth_left)}
CENTRAL = {
    "browInnerUp": brow_inner_up, "cheekPuff": cheek_puff, "jawForward": jaw_forward, "jawOpen": jaw_open,
    "mouthClose": mouth_close, "mouthFunnel": mouth_funnel, "mouthPucker": mouth_pucker,
    "mouthRollLower": mouth_roll_lower, "mouthRollUpper": mouth_roll_upper,
    "mouthShrugLower": mouth_shrug_lower, "mouthShrugUpper": mouth_shrug_upper, "tongueOut": tongue_out,
}


def _table():
    t = {}
    for base, fn in SIDED.items():
        t[base + "Left"] = (fn, False)
        t[base + "Right"] = (fn, True)
    for left, (right, fn) in SIDEWAYS.items():
        t[left] = (fn, False)
        t[right] = (fn, True)
    for name, fn in CENTRAL.items():
        t[name] = (fn, False)
    return t


SHAPES: dict[str, tuple] = _table()
assert set(SHAPES) == set(ARKIT_NAMES), set(ARKIT_NAMES) ^ set(SHAPES)


def evaluate(name: str, points: Points, anchors: Anchors) -> np.ndarray:
    """Displacement (N, 3) of ``points`` for shape ``name`` at weight 1, local units (IOD)."""
    fn, mirrored = SHAPES[name]
    if mirrored:
        d = fn(points.mirrored(), anchors.mirrored())
        d[:, 0] *= -1
    else:
        d = fn(points, anchors)
    return d * face_mask(points)[:, None]


# --- the library on the landmarks themselves ---------------------------------------


def landmark_points(lm_local: np.ndarray) -> Points:
    """Attributes of the 478 landmarks (from the landmark groups, no mesh needed)."""
    lm = np.asarray(lm_local, dtype=np.float64)
    n = len(lm)
    mouth_y = (lm[R.UPPER_LIP_MID_INNER, 1] + lm[R.LOWER_LIP_MID_INNER, 1]) / 2
    lip = smoothstep(0.03, -0.03, lm[:, 1] - mouth_y)
    lip[list(R.UPPER_LIP_OUTER + R.UPPER_LIP_INNER)] = 0.0
    lip[list(R.LOWER_LIP_OUTER + R.LOWER_LIP_INNER)] = 1.0
    for c in (R.LIP_CORNER_LEFT, R.LIP_CORNER_RIGHT, R.LIP_INNER_CORNER_LEFT, R.LIP_INNER_CORNER_RIGHT):
        lip[c] = 0.5
    eye_l, eye_r = R.eye_centres(lm)
    lids = []
    for centre, upper, lower, corners in ((eye_l, R.EYE_LEFT_UPPER, R.EYE_LEFT_LOWER, (263, 362)),
                                          (eye_r, R.EYE_RIGHT_UPPER, R.EYE_RIGHT_LOWER, (33, 133))):
        lid = smoothstep(0.02, -0.02, lm[:, 1] - centre[1])
        lid[list(upper)] = 0.0
        lid[list(lower)] = 1.0
        lid[list(corners)] = 0.5
        lids.append(lid)
    soft = np.ones(n)
    eye_lw, eye_rw = np.zeros(n), np.zeros(n)
    if n >= R.NUM_LANDMARKS:
        soft[list(R.IRIS_LEFT + R.IRIS_RIGHT)] = 0.0
        eye_lw[list(R.IRIS_LEFT)] = 1.0
        eye_rw[list(R.IRIS_RIGHT)] = 1.0
    return Points(q=lm, lip=lip, lid_l=lids[0], lid_r=lids[1], soft=soft, eye_l=eye_lw, eye_r=eye_rw,
                  tongue=np.zeros(n))


def landmark_displacements(landmarks: np.ndarray, names=ARKIT_NAMES) -> dict[str, np.ndarray]:
    """The library as landmark displacements: ``{name: (L, 3)}`` in the landmarks' own units.

    ``landmarks`` (L, 3) are positions on the neutral face (any units, any
    placement: the face-local frame is derived from them).
    """
    frame = R.face_frame(landmarks)
    local = frame.to_local(landmarks)
    pts = landmark_points(local)
    anchors = Anchors.from_landmarks(local)
    return {n: frame.vec_to_world(evaluate(n, pts, anchors)) for n in names if n != "tongueOut"}
