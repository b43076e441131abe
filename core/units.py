"""Which length unit a face was modelled in, so exports can be written in metres (pure).

Engines read glTF in metres (the spec) and FBX through its unit scale; a head
modelled in centimetres (the ICT-FaceKit OBJ: 33.8 units tall) exported as it
is arrives 34 m tall.  :func:`guess_unit` tells the unit from the distance
between the eye centres (an adult's is 5.5-7 cm; 6.3 cm on average), or, when
the face has no landmarks, from the object's height.
"""

from __future__ import annotations

import math

# Metres per unit.
UNITS: dict[str, float] = {"M": 1.0, "CM": 0.01, "MM": 0.001, "IN": 0.0254}
UNIT_NAMES = {"M": "metres", "CM": "centimetres", "MM": "millimetres", "IN": "inches"}
EYE_DISTANCE_M = 0.063  # typical distance between the eye centres, metres
HEAD_HEIGHT_M = 0.25  # typical head (+ neck) height, metres


def guess_unit(eye_distance: float | None = None, height: float | None = None) -> str | None:
    """The unit (a key of :data:`UNITS`) a face was modelled in, or None when it can't be told.

    ``eye_distance``: between the eye centres, in the model's units (preferred);
    ``height``: the object's height in its units (used without landmarks: accepts
    a head, a bust or a whole character, 5 cm to 3 m).  Metres, centimetres and
    millimetres are told apart (a factor of 10 or more between them); inches
    read as centimetres unless chosen explicitly.
    """
    if eye_distance is not None and math.isfinite(eye_distance) and eye_distance > 0:
        ratio = eye_distance / EYE_DISTANCE_M  # units per metre
        for unit in ("M", "CM", "MM"):
            if abs(math.log10(ratio * UNITS[unit])) < 0.5:  # within x3.2 of a typical face
                return unit
        return None
    if height is not None and math.isfinite(height) and height > 0:
        for unit in ("M", "CM", "MM"):
            if 0.05 <= height * UNITS[unit] <= 3.0:
                return unit
    return None


__all__ = ["UNITS", "UNIT_NAMES", "EYE_DISTANCE_M", "guess_unit"]
