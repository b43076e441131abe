"""Visemes: the 15 Oculus (Meta) OVR lip-sync visemes, phone map and ARKit poses.

A viseme is the visible mouth shape of a group of phones that look alike.
We use the Oculus set (the de-facto standard of game lip sync):

========  ==================  ====================================================
viseme    ARPAbet phones      mouth
========  ==================  ====================================================
sil       SIL                 rest (neutral, lips lightly together)
PP        P B M               lips pressed shut (bilabial closure)
FF        F V                 lower lip tucked under the upper teeth
TH        TH DH               tongue tip between the teeth
DD        T D                 tongue on the ridge, jaw slightly open
kk        K G NG HH           back of the tongue up, jaw open a little
CH        CH JH SH ZH         lips pushed forward, teeth close
SS        S Z                 teeth close, lips spread a little
nn        N L                 tongue on the ridge (L: tip visible)
RR        R ER                lips slightly rounded
aa        AA AE AH AY AW      jaw wide open
E         EH EY               mid open, spread
ih        IH IY Y             small opening, spread (smile-like)
oh        AO OW OY            round, open
ou        UW UH W             round, small (pucker)
========  ==================  ====================================================

Each viseme has an ARKit pose (weights 0..1 over the mouth/jaw shapes).
Conventions in the poses: ``mouthClose`` is ARKit's corrective that closes
the lips while the jaw is open, so *lips closed* means
``mouthClose ~= jawOpen`` and no upper/lower lip raise; :func:`lip_opening`
turns a weight vector into a 0..1 lip gap estimate with that rule.
``tongueOut`` is used by TH (and a little by L) only when the rig has a
tongue shape (``tongue=True``).
"""

from __future__ import annotations

import numpy as np

from ..core.arkit import ARKIT_NAMES, INDEX

VISEMES: tuple[str, ...] = ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR",
                            "aa", "E", "ih", "oh", "ou")
VISEME_INDEX = {v: i for i, v in enumerate(VISEMES)}

PHONE_TO_VISEME: dict[str, str] = {
    "SIL": "sil",
    "P": "PP", "B": "PP", "M": "PP",
    "F": "FF", "V": "FF",
    "TH": "TH", "DH": "TH",
    "T": "DD", "D": "DD",
    "K": "kk", "G": "kk", "NG": "kk", "HH": "kk",
    "CH": "CH", "JH": "CH", "SH": "CH", "ZH": "CH",
    "S": "SS", "Z": "SS",
    "N": "nn", "L": "nn",
    "R": "RR", "ER": "RR",
    "AA": "aa", "AE": "aa", "AH": "aa", "AY": "aa", "AW": "aa",
    "EH": "E", "EY": "E",
    "IH": "ih", "IY": "ih", "Y": "ih",
    "AO": "oh", "OW": "oh", "OY": "oh",
    "UW": "ou", "UH": "ou", "W": "ou",
}

BILABIALS = frozenset({"P", "B", "M"})
VOWEL_VISEMES = frozenset({"aa", "E", "ih", "oh", "ou", "RR"})


def _both(name: str, w: float) -> dict[str, float]:
    return {name + "Left": w, name + "Right": w}


# Per-viseme ARKit poses (only non-zero weights listed).
POSES: dict[str, dict[str, float]] = {
    "sil": {},
    "PP": {"jawOpen": 0.06, "mouthClose": 0.06, **_both("mouthPress", 0.35), "mouthRollLower": 0.12,
           "mouthRollUpper": 0.08},
    "FF": {"jawOpen": 0.10, "mouthRollLower": 0.55, **_both("mouthUpperUp", 0.20), "mouthFunnel": 0.05,
           "mouthShrugUpper": 0.15},
    "TH": {"jawOpen": 0.18, **_both("mouthLowerDown", 0.12), **_both("mouthUpperUp", 0.08),
           "tongueOut": 0.45},
    "DD": {"jawOpen": 0.20, **_both("mouthLowerDown", 0.15), **_both("mouthStretch", 0.10),
           **_both("mouthUpperUp", 0.08)},
    "kk": {"jawOpen": 0.24, **_both("mouthLowerDown", 0.12), **_both("mouthStretch", 0.12)},
    "CH": {"jawOpen": 0.12, "mouthFunnel": 0.40, "mouthPucker": 0.25, **_both("mouthUpperUp", 0.18),
           **_both("mouthLowerDown", 0.15)},
    "SS": {"jawOpen": 0.08, **_both("mouthStretch", 0.30), **_both("mouthUpperUp", 0.15),
           **_both("mouthLowerDown", 0.12), **_both("mouthSmile", 0.10)},
    "nn": {"jawOpen": 0.18, **_both("mouthLowerDown", 0.10), **_both("mouthStretch", 0.08),
           "tongueOut": 0.10},
    "RR": {"jawOpen": 0.15, "mouthFunnel": 0.30, "mouthPucker": 0.30, **_both("mouthUpperUp", 0.10)},
    "aa": {"jawOpen": 0.62, **_both("mouthLowerDown", 0.30), **_both("mouthUpperUp", 0.12),
           **_both("mouthStretch", 0.10)},
    "E": {"jawOpen": 0.40, **_both("mouthStretch", 0.35), **_both("mouthLowerDown", 0.25),
          **_both("mouthUpperUp", 0.12), **_both("mouthSmile", 0.10)},
    "ih": {"jawOpen": 0.24, **_both("mouthStretch", 0.40), **_both("mouthSmile", 0.22),
           **_both("mouthLowerDown", 0.15), **_both("mouthUpperUp", 0.10)},
    "oh": {"jawOpen": 0.45, "mouthFunnel": 0.55, "mouthPucker": 0.20, **_both("mouthLowerDown", 0.10)},
    "ou": {"jawOpen": 0.18, "mouthPucker": 0.75, "mouthFunnel": 0.35},
}

# The ARKit shapes lip sync drives (and so owns when it bakes into an action).
SPEECH_SHAPES: tuple[str, ...] = tuple(n for n in ARKIT_NAMES if n.startswith(("jaw", "mouth")) or
                                       n == "tongueOut")


def pose_matrix(tongue: bool = True) -> np.ndarray:
    """(15, 52) ARKit weights of every viseme; ``tongue=False`` zeroes tongueOut."""
    m = np.zeros((len(VISEMES), len(ARKIT_NAMES)), dtype=np.float32)
    for v, pose in POSES.items():
        for name, w in pose.items():
            m[VISEME_INDEX[v], INDEX[name]] = w
    if not tongue:
        m[:, INDEX["tongueOut"]] = 0.0
    return m


def viseme_of(phone: str) -> str:
    return PHONE_TO_VISEME.get(phone.upper().rstrip("012"), "sil")


_J, _C = INDEX["jawOpen"], INDEX["mouthClose"]
_LD = [INDEX["mouthLowerDownLeft"], INDEX["mouthLowerDownRight"]]
_UU = [INDEX["mouthUpperUpLeft"], INDEX["mouthUpperUpRight"]]
_F = INDEX["mouthFunnel"]


def lip_opening(weights: np.ndarray) -> np.ndarray:
    """Estimated lip gap (0 closed .. ~1 wide) from (..., 52) ARKit weights.

    Jaw opening not cancelled by ``mouthClose``, plus the lips' own
    raise/lower, plus a little for a funnel (which parts the lips).
    """
    w = np.asarray(weights, dtype=np.float32)
    jaw = np.clip(w[..., _J] - w[..., _C], 0.0, None)
    lips = 0.5 * (w[..., _LD].mean(-1) + w[..., _UU].mean(-1))
    return jaw + 0.6 * lips + 0.25 * w[..., _F]


LIPS_CLOSED = 0.05  # lip_opening below this counts as closed
