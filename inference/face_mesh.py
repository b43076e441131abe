"""MediaPipe Face Mesh (478 points with iris) on numpy images.

Shapes and units
----------------
* images: ``(H, W, 3)`` uint8 RGB (use ``cv2.cvtColor(img, cv2.COLOR_BGR2RGB)``
  for OpenCV frames).
* ``FaceLandmarks.points``: ``(478, 3)`` float32 in **pixels**: x right, y down,
  z toward the camera is negative (MediaPipe's convention), z scaled like x.
  Points 0..467 are the Face Mesh topology, 468..477 the irises (468 = right
  iris centre *in the image*, i.e. the subject's left eye in an un-mirrored
  photo ... see ``IRIS_*`` below).
* ``score``: face detection confidence 0..1 (MediaPipe face detector).

MediaPipe is imported lazily (the add-on registers without it) and each
detector loads its model once; reuse one ``FaceMeshDetector`` for a video.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import FaceForgeError

NUM_LANDMARKS = 478
# Subject's own left/right (ARKit convention); MediaPipe's "LEFT_IRIS" set
# (474-477, centre 473) is the subject's left eye.
IRIS_CENTER_LEFT = 473
IRIS_CENTER_RIGHT = 468
# Outer/inner eye corners (subject's side), for the inter-ocular distance.
EYE_OUTER_LEFT, EYE_INNER_LEFT = 263, 362
EYE_OUTER_RIGHT, EYE_INNER_RIGHT = 33, 133


@dataclass
class FaceLandmarks:
    points: np.ndarray  # (478, 3) float32, pixels
    score: float  # detection confidence 0..1
    image_size: tuple[int, int]  # (width, height)
    num_faces: int = 1  # faces seen in the image (the largest is returned)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the landmarks, pixels."""
        p = self.points
        return float(p[:, 0].min()), float(p[:, 1].min()), float(p[:, 0].max()), float(p[:, 1].max())

    def interocular(self) -> float:
        """Distance between the eye centres (mean of the corners), pixels."""
        p = self.points[:, :2]
        left = (p[EYE_OUTER_LEFT] + p[EYE_INNER_LEFT]) / 2
        right = (p[EYE_OUTER_RIGHT] + p[EYE_INNER_RIGHT]) / 2
        return float(np.linalg.norm(left - right))


def _mp():
    try:
        import mediapipe as mp
    except Exception as exc:  # pragma: no cover - depends on the install
        raise FaceForgeError(
            f"MediaPipe could not be loaded ({exc}). Reinstall the FaceForge extension for your platform."
        ) from exc
    return mp


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] not in (3, 4):
        raise FaceForgeError("Expected an RGB image (H, W, 3)")
    if image.shape[2] == 4:
        image = image[:, :, :3]
    if image.dtype != np.uint8:
        image = np.clip(image * (255.0 if image.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image)


class FaceMeshDetector:
    """Reusable Face Mesh + face detector.

    ``video=True`` uses MediaPipe's tracking mode (frames must come in order);
    otherwise each image is independent.  Use as a context manager or call
    :meth:`close`.
    """

    def __init__(self, video: bool = False, max_faces: int = 4, min_confidence: float = 0.5):
        mp = _mp()
        self.video = video
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=not video, max_num_faces=max_faces, refine_landmarks=True,
            min_detection_confidence=min_confidence, min_tracking_confidence=0.5)
        self._detector = mp.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=min(min_confidence, 0.3))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for attr in ("_mesh", "_detector"):
            obj = getattr(self, attr, None)
            if obj is not None:
                obj.close()
                setattr(self, attr, None)

    def detection_score(self, image: np.ndarray) -> float:
        """Best face-detector confidence in the image (0 when none)."""
        image = _check_image(image)
        res = self._detector.process(image)
        if not res.detections:
            return 0.0
        return float(max(d.score[0] for d in res.detections))

    def detect(self, image: np.ndarray, with_score: bool = True) -> FaceLandmarks | None:
        """Landmarks of the largest face, or None when no face is found."""
        image = _check_image(image)
        h, w = image.shape[:2]
        res = self._mesh.process(image)
        if not res.multi_face_landmarks:
            return None
        faces = []
        for lm in res.multi_face_landmarks:
            pts = np.array([(p.x * w, p.y * h, p.z * w) for p in lm.landmark], dtype=np.float32)
            area = np.ptp(pts[:, 0]) * np.ptp(pts[:, 1])
            faces.append((area, pts))
        faces.sort(key=lambda f: -f[0])
        score = self.detection_score(image) if with_score else 1.0
        return FaceLandmarks(points=faces[0][1], score=score, image_size=(w, h), num_faces=len(faces))


def detect_landmarks(image: np.ndarray) -> FaceLandmarks | None:
    """One-shot detection on a single image (loads the models each call)."""
    with FaceMeshDetector(video=False) as det:
        return det.detect(image)
