"""The seven basic emotions as ARKit poses built from their FACS action units.

Every pose is *derived*, never typed in as 52 numbers: an emotion is a set of
FACS action units (AUs) with an intensity each (Ekman & Friesen's EMFACS
prototypes), and each AU is a small, documented ARKit recipe
(:data:`AU_ARKIT`).  docs/expressions.md prints both tables.

Shapes: a pose is a ``(52,)`` float64 array in :data:`core.arkit.ARKIT_NAMES`
order, every value in [0, 1].

>>> pose = emotion_pose("happiness", intensity=0.8)
>>> mix = blend_emotions({"happiness": 0.7, "surprise": 0.3})
"""

from __future__ import annotations

import re
from typing import Mapping

import numpy as np

from ..core.arkit import ARKIT_NAMES, INDEX
from ..core.errors import FaceForgeError

# --- FACS action unit -> ARKit --------------------------------------------------
# name, ARKit weights at full AU intensity (FACS "E").  Bilateral AUs drive both
# sides equally.
AU_ARKIT: dict[int, tuple[str, dict[str, float]]] = {
    1: ("Inner brow raiser", {"browInnerUp": 1.0}),
    2: ("Outer brow raiser", {"browOuterUpLeft": 1.0, "browOuterUpRight": 1.0}),
    4: ("Brow lowerer", {"browDownLeft": 1.0, "browDownRight": 1.0}),
    5: ("Upper lid raiser", {"eyeWideLeft": 1.0, "eyeWideRight": 1.0}),
    6: ("Cheek raiser", {"cheekSquintLeft": 1.0, "cheekSquintRight": 1.0,
                         "eyeSquintLeft": 0.3, "eyeSquintRight": 0.3}),
    7: ("Lid tightener", {"eyeSquintLeft": 1.0, "eyeSquintRight": 1.0}),
    9: ("Nose wrinkler", {"noseSneerLeft": 1.0, "noseSneerRight": 1.0}),
    10: ("Upper lip raiser", {"mouthUpperUpLeft": 1.0, "mouthUpperUpRight": 1.0}),
    12: ("Lip corner puller", {"mouthSmileLeft": 1.0, "mouthSmileRight": 1.0}),
    14: ("Dimpler", {"mouthDimpleLeft": 1.0, "mouthDimpleRight": 1.0}),
    15: ("Lip corner depressor", {"mouthFrownLeft": 1.0, "mouthFrownRight": 1.0}),
    16: ("Lower lip depressor", {"mouthLowerDownLeft": 1.0, "mouthLowerDownRight": 1.0}),
    17: ("Chin raiser", {"mouthShrugLower": 1.0, "mouthShrugUpper": 0.3}),
    18: ("Lip pucker", {"mouthPucker": 1.0}),
    20: ("Lip stretcher", {"mouthStretchLeft": 1.0, "mouthStretchRight": 1.0}),
    22: ("Lip funneler", {"mouthFunnel": 1.0}),
    23: ("Lip tightener", {"mouthRollLower": 0.3, "mouthRollUpper": 0.3,
                           "mouthPressLeft": 0.4, "mouthPressRight": 0.4}),
    24: ("Lip pressor", {"mouthPressLeft": 1.0, "mouthPressRight": 1.0}),
    25: ("Lips part", {"mouthLowerDownLeft": 0.3, "mouthLowerDownRight": 0.3,
                       "mouthUpperUpLeft": 0.1, "mouthUpperUpRight": 0.1}),
    26: ("Jaw drop", {"jawOpen": 0.6}),
    27: ("Mouth stretch", {"jawOpen": 1.0, "mouthStretchLeft": 0.3, "mouthStretchRight": 0.3}),
    28: ("Lip suck", {"mouthRollLower": 1.0, "mouthRollUpper": 1.0}),
    43: ("Eyes closed", {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0}),
}

# FACS intensity letters -> fraction of the AU's full recipe.
FACS_LEVEL = {"A": 0.2, "B": 0.4, "C": 0.6, "D": 0.8, "E": 1.0}

# --- emotion prototypes (EMFACS) -----------------------------------------------
# AU -> FACS intensity letter.  Sources: Ekman & Friesen, EMFACS-7; Matsumoto &
# Ekman prototypes.  Neutral has no AUs.
EMOTION_AUS: dict[str, dict[int, str]] = {
    "neutral": {},
    "happiness": {6: "D", 12: "E", 25: "B"},
    "sadness": {1: "E", 4: "B", 15: "D", 17: "C"},
    "surprise": {1: "E", 2: "E", 5: "D", 26: "E", 25: "C"},
    "fear": {1: "E", 2: "C", 4: "A", 5: "E", 7: "A", 20: "D", 26: "C", 25: "C"},
    "anger": {4: "E", 5: "B", 7: "D", 23: "D", 24: "D"},
    "disgust": {9: "E", 10: "D", 15: "C", 16: "B", 17: "B", 7: "B"},
}
EMOTIONS: tuple[str, ...] = tuple(EMOTION_AUS)

# What a user may type for each emotion (adjectives, nouns, short forms).
ALIASES: dict[str, str] = {
    "neutral": "neutral", "rest": "neutral", "none": "neutral", "calm": "neutral",
    "happiness": "happiness", "happy": "happiness", "joy": "happiness", "smile": "happiness",
    "sadness": "sadness", "sad": "sadness", "sorrow": "sadness",
    "surprise": "surprise", "surprised": "surprise",
    "fear": "fear", "afraid": "fear", "scared": "fear", "fearful": "fear",
    "anger": "anger", "angry": "anger", "mad": "anger",
    "disgust": "disgust", "disgusted": "disgust",
}


def resolve_emotion(name: str) -> str:
    """Canonical emotion name for ``name`` (case-insensitive; accepts aliases)."""
    key = (name or "").strip().lower()
    if key in ALIASES:
        return ALIASES[key]
    raise FaceForgeError(
        f"Unknown emotion '{name}'. Use one of: {', '.join(EMOTIONS)} "
        f"(or happy, sad, surprised, afraid, angry, disgusted)")


def au_pose(aus: Mapping[int, float]) -> np.ndarray:
    """ARKit pose (52,) from ``{AU number: intensity 0..1}``; overlapping shapes add, then clip."""
    pose = np.zeros(len(ARKIT_NAMES))
    for au, level in aus.items():
        if au not in AU_ARKIT:
            raise FaceForgeError(f"AU{au} has no ARKit recipe; known AUs: {sorted(AU_ARKIT)}")
        for name, w in AU_ARKIT[au][1].items():
            pose[INDEX[name]] += w * float(level)
    return np.clip(pose, 0.0, 1.0)


def _emotion_au_levels(name: str) -> dict[int, float]:
    return {au: FACS_LEVEL[letter] for au, letter in EMOTION_AUS[name].items()}


# Full-intensity poses, computed once.
EMOTION_POSES: dict[str, np.ndarray] = {n: au_pose(_emotion_au_levels(n)) for n in EMOTIONS}


def scale_vector(scales: Mapping[str, float] | None) -> np.ndarray:
    """Per-shape scales (a character's taste: ``{"mouthSmileLeft": 0.8, ...}``) -> (52,).

    Region names of :data:`core.arkit.REGIONS` ("Mouth", "Brows", ...) scale every
    shape of that region; a shape name wins over its region.
    """
    from ..core.arkit import REGIONS

    vec = np.ones(len(ARKIT_NAMES))
    if not scales:
        return vec
    for key, s in scales.items():
        if key in REGIONS:
            for n in REGIONS[key]:
                vec[INDEX[n]] = s
    for key, s in scales.items():
        if key in INDEX:
            vec[INDEX[key]] = s
        elif key not in REGIONS:
            raise FaceForgeError(f"'{key}' is neither an ARKit shape nor a region "
                                 f"({', '.join(REGIONS)})")
    if np.any(vec < 0):
        raise FaceForgeError("Shape scales must be 0 or more")
    return vec


def apply_scales(pose: np.ndarray, scales: Mapping[str, float] | None) -> np.ndarray:
    return np.clip(np.asarray(pose, dtype=np.float64) * scale_vector(scales), 0.0, 1.0)


def emotion_pose(name: str, intensity: float = 1.0,
                 scales: Mapping[str, float] | None = None) -> np.ndarray:
    """The ARKit pose (52,) of one emotion at ``intensity`` 0..1, scaled per character."""
    if not 0.0 <= float(intensity) <= 1.0:
        raise FaceForgeError(f"Intensity must be between 0 and 1, got {intensity}")
    return apply_scales(EMOTION_POSES[resolve_emotion(name)] * float(intensity), scales)


def blend_emotions(mix: Mapping[str, float], intensity: float = 1.0,
                   scales: Mapping[str, float] | None = None) -> np.ndarray:
    """Blend emotions by share: ``{"happiness": 0.7, "surprise": 0.3}`` -> (52,).

    Shares are used as given when they add up to 1 or less (so ``{"happy": 0.5}``
    is a half-strength smile); larger totals are normalised to 1.
    """
    if not mix:
        raise FaceForgeError("Give at least one emotion to blend")
    shares = {}
    for name, share in mix.items():
        if share < 0:
            raise FaceForgeError(f"Emotion share must be 0 or more, got {share} for {name}")
        canon = resolve_emotion(name)
        shares[canon] = shares.get(canon, 0.0) + float(share)
    total = sum(shares.values())
    norm = total if total > 1.0 else 1.0
    pose = sum(EMOTION_POSES[n] * (s / norm) for n, s in shares.items())
    if not 0.0 <= float(intensity) <= 1.0:
        raise FaceForgeError(f"Intensity must be between 0 and 1, got {intensity}")
    return apply_scales(np.asarray(pose) * float(intensity), scales)


_TERM = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*(%?)\s+)?([a-zA-Z]+)(?:\s+(\d+(?:\.\d+)?)\s*(%?))?\s*$")


def parse_mix(text: str) -> dict[str, float] | None:
    """Parse "happy", "70% happy + 30% surprised", "happy 0.7 + sad 0.2" -> shares.

    Returns None when ``text`` is not made only of emotion names (then it is a
    free-text prompt for :mod:`animation.text_expression`).
    """
    parts = [p for p in re.split(r"\s*(?:\+|&|\band\b|,)\s*", (text or "").strip()) if p]
    if not parts:
        return None
    out: dict[str, float] = {}
    for part in parts:
        m = _TERM.match(part)
        if not m or m.group(3).lower() not in ALIASES:
            return None
        num, pct = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(5))
        share = 1.0 if num is None else float(num) / (100.0 if pct or float(num) > 1.0 else 1.0)
        name = ALIASES[m.group(3).lower()]
        out[name] = out.get(name, 0.0) + share
    return out


def classify(pose: np.ndarray) -> tuple[str, dict[str, float]]:
    """Which emotion a pose looks most like: (name, cosine similarity per emotion).

    Nearly-zero poses are "neutral".  Used by tests and the panel read-out.
    """
    pose = np.asarray(pose, dtype=np.float64)
    norm = np.linalg.norm(pose)
    sims = {}
    for n in EMOTIONS:
        ref = EMOTION_POSES[n]
        sims[n] = 0.0 if n == "neutral" or norm < 1e-9 else float(pose @ ref / (norm * np.linalg.norm(ref)))
    if norm < 0.25:
        return "neutral", sims
    return max((n for n in EMOTIONS if n != "neutral"), key=sims.get), sims
