"""FaceForge's scan-based face model (ICT Face Model Light, MIT) and its fitting. Never imports bpy.

The model is one file shipped with FaceForge, ``models/facemodel_ict.npz``, made at
build time by ``scripts/convert_ict_facekit.py`` from ICT-FaceKit's light-stage
scans (licence and credits: ``models/ICT-FaceKit-LICENSE.txt``).  It is a linear
head with eyes, teeth, gums and tongue, lashes and eye films: 26,719 vertices,
100 identity modes, the 52 ARKit expressions, and MediaPipe's 478 landmarks as
points on its surface.

Conventions (every array in this package)
-----------------------------------------
* **Units: metres.**
* **Model frame**: x = the subject's left, y = up, z = forward (out of the face);
  ICT's own axes, scaled from cm to m.  :func:`to_blender` turns points or vectors
  into Blender's convention for a face (the face looks down -Y, Z up, the
  subject's left is +X): ``(x, y, z) -> (x, -z, y)``.
* **Identity** ``(K,)`` (K = 100): unit-variance coefficients (a random head is
  ``np.random.randn(100)``).  **Expression** ``(52,)``: ARKit weights 0..1 in
  :data:`core.arkit.ARKIT_NAMES` order.

Modules
-------
* :mod:`.model` - :func:`load_model` (cached), :class:`FaceModel` (evaluate, parts,
  UVs, per-shape deltas for shape keys, landmarks), :class:`Pose`, the frame helpers.
* :mod:`.fit` - :func:`fit_identity` / :func:`fit_expression`: pose + identity +
  expression from 478 landmarks (3D points on a mesh, or an image's MediaPipe output).
"""

from .model import (BLENDER_FROM_MODEL, GAZE_MAX_DEG, MODEL_PATH, FaceModel, Pose, from_blender, load_model,
                    to_blender)
from .fit import ExpressionFit, IdentityFit, fit_expression, fit_identity

__all__ = ["BLENDER_FROM_MODEL", "GAZE_MAX_DEG", "MODEL_PATH", "FaceModel", "Pose", "from_blender", "load_model",
           "to_blender", "ExpressionFit", "IdentityFit", "fit_expression", "fit_identity"]
