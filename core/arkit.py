"""The 52 ARKit blendshape names, exactly as Apple spells them, and helpers.

"Left"/"Right" are the *subject's* own left/right (ARKit convention).  For a
face looking down -Y in Blender the subject's left is +X; in an un-mirrored
video it is the image's right-hand side.
"""

from __future__ import annotations

ARKIT_NAMES: tuple[str, ...] = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight",
    "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight",
    "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeWideLeft", "eyeWideRight",
    "jawForward", "jawLeft", "jawOpen", "jawRight",
    "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)
assert len(ARKIT_NAMES) == 52 and len(set(ARKIT_NAMES)) == 52

INDEX: dict[str, int] = {n: i for i, n in enumerate(ARKIT_NAMES)}

# Apple's Live Link Face CSV orders columns differently (eyes first); see formats/livelink.py.

REGIONS: dict[str, tuple[str, ...]] = {
    "Brows": tuple(n for n in ARKIT_NAMES if n.startswith("brow")),
    "Eyes": tuple(n for n in ARKIT_NAMES if n.startswith("eye")),
    "Cheeks & Nose": tuple(n for n in ARKIT_NAMES if n.startswith(("cheek", "nose"))),
    "Jaw": tuple(n for n in ARKIT_NAMES if n.startswith("jaw")),
    "Mouth": tuple(n for n in ARKIT_NAMES if n.startswith("mouth")),
    "Tongue": ("tongueOut",),
}


def mirror_name(name: str) -> str:
    """The left/right twin of an ARKit name (``eyeBlinkLeft`` -> ``eyeBlinkRight``).

    Unsided names map to themselves, except the sideways pairs ``jawLeft``/
    ``jawRight`` and ``mouthLeft``/``mouthRight`` which swap, and the eye
    look-in/out shapes which swap sides but keep their direction.
    """
    if name.endswith("Left"):
        return name[:-4] + "Right"
    if name.endswith("Right"):
        return name[:-5] + "Left"
    return name


MIRROR_INDEX: tuple[int, ...] = tuple(INDEX[mirror_name(n)] for n in ARKIT_NAMES)


def weights_dict(weights) -> dict[str, float]:
    """Map a length-52 sequence to ``{name: weight}``."""
    if len(weights) != 52:
        raise ValueError(f"expected 52 ARKit weights, got {len(weights)}")
    return {n: float(w) for n, w in zip(ARKIT_NAMES, weights)}
