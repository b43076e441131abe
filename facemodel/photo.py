"""A head from one photo: fit the face model to the photo's landmarks, and the photo's camera (pure).

Input: the photo's MediaPipe points ``(478, 3)`` as :class:`inference.face_mesh.FaceLandmarks`
gives them (x, y pixels, y down, z relative depth) and the image size ``(width, height)``.

:func:`fit_photo` checks the face is usable (:func:`check_face`: at least :data:`MIN_FACE_PX`
across, turned at most :data:`MAX_TURN_DEG` from the camera) and fits identity, pose and the
photo's expression (:func:`facemodel.fit_identity` with ``depth_weight=IMAGE_DEPTH_WEIGHT`` and
a pinhole camera of focal :data:`FOCAL_PER_SIDE` x the image's longer side, at its centre: a
portrait lens; a photo's real focal length is rarely known and changes the fit little).

The result, :class:`PhotoFit`, knows the photo's camera in the model frame: :meth:`PhotoFit.project`
maps model-frame points to the photo's pixels (exactly the fit's perspective model), and
:meth:`PhotoFit.blender_camera` gives that camera as a :class:`rigging.camera.PinholeCamera` in the
object space of a head built in Blender's face frame (:func:`facemodel.to_blender`), so a render
from it sees the head as the photo did.

Frames.  Observation frame (the fit's): x right, y down (pixels), z away from the camera, with
``pose``: ``o = s R X + t`` for model points ``X`` (metres) and the weak-perspective image
``o[:2]``; the pinhole camera sits at ``(cx, cy, t_z - f)`` in that frame (one metre = ``s`` px
at the head's centre), so a point ``d = s (R X)_z`` pixels behind the head's centre is seen at
``c + (o_xy - c) / (1 + d / f)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.errors import FaceForgeError
from ..rigging.camera import PinholeCamera
from .fit import IMAGE_DEPTH_WEIGHT, fit_identity
from .model import BLENDER_FROM_MODEL, FaceModel, Pose

MIN_FACE_PX = 64  # a face smaller than this (its landmarks' larger side) is refused
MAX_TURN_DEG = 55.0  # a face turned further from the camera (a profile) is refused
FOCAL_PER_SIDE = 85.0 / 36.0  # focal length / the image's longer side: a portrait lens (85 mm full frame)


@dataclass(eq=False)
class PhotoFit:
    """The face model fitted to one photo.

    ``identity`` (K,) and ``expression`` (52,) (ARKit order) of the head; ``pose`` model frame ->
    the photo's observation frame (see the module docstring); ``camera`` ``(focal_px, cx, cy)``;
    ``image_size`` ``(width, height)``; ``points`` (478, 3) the photo's landmarks (pixels);
    ``fitted`` (478, 3) the fitted head's landmarks as the camera sees them (pixels);
    ``residual`` {region: mean 2D distance / IOD}; ``num_faces``: faces seen in the photo;
    ``centre`` (3,) the face's centre (its landmarks' mean), model frame."""

    identity: np.ndarray
    expression: np.ndarray
    pose: Pose
    camera: tuple
    image_size: tuple
    points: np.ndarray
    fitted: np.ndarray
    residual: dict = field(default_factory=dict)
    num_faces: int = 1
    centre: np.ndarray = field(default_factory=lambda: np.zeros(3))  # the face's landmarks' mean, model frame

    @property
    def focal(self) -> float:
        return float(self.camera[0])

    def camera_centre(self) -> np.ndarray:
        """The camera's position (3,) in the model frame, metres."""
        f, cx, cy = self.camera
        c_obs = np.array([cx, cy, self.pose.translation[2] - f])
        return self.pose.inverse(c_obs[None])[0]

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Model-frame points (N, 3) m -> photo pixels (N, 2) and depth (N,) (distance along the
        camera's axis in the fit's pixel units: larger is farther)."""
        f, cx, cy = self.camera
        o = self.pose.apply(np.asarray(points, np.float64))
        depth = o[:, 2] - self.pose.translation[2] + f
        k = f / np.maximum(depth, 1e-9)
        px = np.stack([cx + (o[:, 0] - cx) * k, cy + (o[:, 1] - cy) * k], axis=1)
        return px, depth

    def turn(self) -> tuple[float, float, float]:
        """(angle, yaw, pitch) degrees: how far the face turns from the camera (0 = looking straight
        at it), toward the subject's left (yaw > 0: the camera sees more of the subject's left
        cheek) and up (pitch > 0: seen from below)."""
        v = self.camera_centre() - self.centre
        v /= np.linalg.norm(v)
        angle = float(np.degrees(np.arccos(np.clip(v[2], -1.0, 1.0))))
        yaw = float(np.degrees(np.arctan2(v[0], v[2])))
        pitch = float(np.degrees(np.arctan2(-v[1], np.hypot(v[0], v[2]))))
        return angle, yaw, pitch

    def blender_camera(self) -> PinholeCamera:
        """The photo's camera in the object space of the head in Blender's face frame
        (``to_blender``): a render through it at ``image_size`` sees the head as the photo did."""
        f, cx, cy = self.camera
        w, h = self.image_size
        if abs(cx - w / 2.0) > 1e-6 or abs(cy - h / 2.0) > 1e-6:
            raise ValueError("the photo's camera is not centred: PinholeCamera needs cx, cy at the centre")
        r = self.pose.rotation
        # camera axes (x right, y up, z back) in the observation frame -> model -> Blender
        axes_obs = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]]).T  # columns
        axes = BLENDER_FROM_MODEL @ r.T @ axes_obs
        m = np.eye(4)
        m[:3, :3] = axes
        m[:3, 3] = BLENDER_FROM_MODEL @ self.camera_centre()
        return PinholeCamera(m, float(f), int(w), int(h))

    def summary(self) -> dict:
        angle, yaw, pitch = self.turn()
        return {"turn_deg": round(angle, 1), "yaw_deg": round(yaw, 1), "pitch_deg": round(pitch, 1),
                "residual_iod": round(float(self.residual.get("all", float("nan"))), 4)}


def photo_camera(image_size) -> tuple[float, float, float]:
    """The assumed camera of a photo ``(width, height)``: ``(focal_px, cx, cy)``."""
    w, h = image_size
    return FOCAL_PER_SIDE * float(max(w, h)), w / 2.0, h / 2.0


def face_size_px(points: np.ndarray) -> float:
    """The larger side of the landmarks' box (pixels)."""
    p = np.asarray(points, np.float64)[:, :2]
    return float(max(np.ptp(p[:, 0]), np.ptp(p[:, 1])))


def check_face(points: np.ndarray, image_size, what: str = "the photo") -> None:
    """A clear FaceForgeError for a face too small to build a head from."""
    size = face_size_px(points)
    if size < MIN_FACE_PX:
        raise FaceForgeError(f"The face in {what} is only {size:.0f} px across: use a photo where it is at "
                             f"least {MIN_FACE_PX} px (closer, or a larger image)")


def fit_photo(model: FaceModel, points: np.ndarray, image_size, what: str = "the photo",
              num_faces: int = 1) -> PhotoFit:
    """Fit identity, pose and expression to one photo's landmarks (see the module docstring).

    ``points`` (478, 3) MediaPipe pixels, ``image_size`` (width, height).  FaceForgeError for a face
    smaller than :data:`MIN_FACE_PX` or turned more than :data:`MAX_TURN_DEG` from the camera."""
    points = np.asarray(points, np.float64)
    if points.shape != (478, 3):
        raise FaceForgeError(f"expected the photo's 478 landmarks, got shape {points.shape}")
    check_face(points, image_size, what)
    camera = photo_camera(image_size)
    fit = fit_identity(model, points, depth_weight=IMAGE_DEPTH_WEIGHT, camera=camera)
    fr = fit.frame(0)
    base, _, e_rows = model.landmark_basis(fit.identity)
    centre = (base + e_rows @ fr.expression)[:468].mean(0)
    out = PhotoFit(identity=np.asarray(fit.identity, np.float64), expression=np.asarray(fr.expression, np.float64),
                   pose=fr.pose, camera=camera, image_size=(int(image_size[0]), int(image_size[1])),
                   points=points, fitted=fr.landmarks, residual=dict(fr.residual), num_faces=int(num_faces),
                   centre=centre)
    angle = out.turn()[0]
    if angle > MAX_TURN_DEG:
        raise FaceForgeError(f"The face in {what} is turned {angle:.0f} degrees away from the camera (a profile): "
                             f"use a photo where it looks toward the camera (within {MAX_TURN_DEG:.0f} degrees)")
    return out


__all__ = ["PhotoFit", "fit_photo", "check_face", "photo_camera", "face_size_px", "MIN_FACE_PX", "MAX_TURN_DEG",
           "FOCAL_PER_SIDE"]
