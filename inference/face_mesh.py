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
* ``score``: face detection confidence 0..1 (the short-range face detector).

The models are MediaPipe's Face Mesh models converted to ONNX
(``scripts/convert_face_models.py``) and run by FaceForge's own tracker on
onnxruntime (:mod:`.face_tracker`); MediaPipe itself is not needed at run
time.  onnxruntime is imported lazily (the add-on registers without it) and
each detector loads its models once; reuse one ``FaceMeshDetector`` for a video.
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
# detection_score's floor: MediaPipe's FaceDetection solution, which scored views before,
# kept its graph's 0.5 whatever min_detection_confidence it was given (measured on 0.10.21).
DETECTION_SCORE_MIN = 0.5


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


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] not in (3, 4):
        raise FaceForgeError("Expected an RGB image (H, W, 3)")
    if image.shape[2] == 4:
        image = image[:, :, :3]
    if image.dtype != np.uint8:
        image = np.clip(image * (255.0 if image.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image)


class FaceMeshDetector:
    """Reusable Face Mesh (478 points with irises) and face detector.

    ``video=True`` uses tracking mode (frames must come in order: the ROI comes
    from the previous frame, the detector runs again when the face is lost);
    otherwise each image is independent.  Runs FaceForge's own tracker
    (:mod:`.face_tracker`, MediaPipe's models on onnxruntime).  ``provider``:
    execution provider name (``onnx_session.PROVIDERS``; default the add-on
    preference); ``message`` says when it fell back to the CPU.  Use as a
    context manager or call :meth:`close`.
    """

    def __init__(self, video: bool = False, max_faces: int = 4, min_confidence: float = 0.5,
                 provider: str | None = None):
        from .face_tracker import FaceTracker

        self.video = video
        self._tracker = FaceTracker(video=video, max_faces=max_faces, min_detection_confidence=min_confidence,
                                    min_tracking_confidence=0.5, provider=provider)
        self.message = self._tracker.message

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._tracker = None

    def _live(self):
        if self._tracker is None:
            raise FaceForgeError("The face detector was closed")
        return self._tracker

    def detection_score(self, image: np.ndarray) -> float:
        """Best face-detector confidence in the image (0 when no face scores ``DETECTION_SCORE_MIN``)."""
        image = _check_image(image)
        dets = self._live().detect_faces(image, min_score=DETECTION_SCORE_MIN)
        return float(dets[0].score) if dets else 0.0

    def detect(self, image: np.ndarray, with_score: bool = True, bgr: bool = False) -> FaceLandmarks | None:
        """Landmarks of the largest face, or None when no face is found.  ``bgr``: the image is
        BGR (OpenCV's order, e.g. a decoded video frame); it is not converted, only the models'
        small inputs are."""
        image = _check_image(image)
        h, w = image.shape[:2]
        tracker = self._live()
        faces = tracker.process(image, bgr=bgr)
        if not faces:
            return None
        faces.sort(key=lambda f: -float(np.ptp(f.points[:, 0]) * np.ptp(f.points[:, 1])))
        score = 1.0
        if with_score:
            dets = tracker.last_detections  # None when tracking skipped the detector this frame
            score = float(dets[0].score) if dets else self.detection_score(image[:, :, ::-1] if bgr else image)
        return FaceLandmarks(points=faces[0].points, score=score, image_size=(w, h), num_faces=len(faces))


def _windows(h: int, w: int, smallest: int = 160, most: int = 48):
    """Square crops (x, y, side) covering an image, largest first, overlapping by half."""
    side = min(h, w)
    out = []
    while side >= smallest and len(out) < most:
        step = max(1, side // 2)
        ys = sorted(set(list(range(0, h - side + 1, step)) + [h - side]))
        xs = sorted(set(list(range(0, w - side + 1, step)) + [w - side]))
        level = [(x, y, side) for y in ys for x in xs]
        if level != [(0, 0, min(h, w))] or h != w:
            out.append(level)
        side //= 2
    return out


def find_face(image: np.ndarray, max_faces: int = 4) -> FaceLandmarks | None:
    """The largest face in a photo, also when it holds several or small faces: the whole image
    first, then square crops from large to small (the face detector looks for faces that fill a
    good part of its input).  ``num_faces``: the faces seen; ``score`` is 1 (not measured)."""
    rgb = _check_image(image)
    h, w = rgb.shape[:2]
    with FaceMeshDetector(video=False, max_faces=max_faces) as det:
        found = det.detect(rgb, with_score=False)
        if found is not None:
            return found
        for level in _windows(h, w):
            faces = []
            for x, y, side in level:
                lm = det.detect(np.ascontiguousarray(rgb[y:y + side, x:x + side]), with_score=False)
                if lm is not None:
                    pts = lm.points.copy()
                    pts[:, 0] += x
                    pts[:, 1] += y
                    faces.append(pts)
            if not faces:
                continue
            distinct = []  # the same face seen in overlapping crops counts once
            for pts in sorted(faces, key=lambda p: -np.ptp(p[:, 0]) * np.ptp(p[:, 1])):
                c, size = pts[:, :2].mean(0), np.ptp(pts[:, 0])
                if all(np.linalg.norm(c - d[:, :2].mean(0)) > 0.5 * size for d in distinct):
                    distinct.append(pts)
            return FaceLandmarks(points=distinct[0], score=1.0, image_size=(w, h), num_faces=len(distinct))
    return None


def detect_landmarks(image: np.ndarray) -> FaceLandmarks | None:
    """One-shot detection on a single image (loads the models each call)."""
    with FaceMeshDetector(video=False) as det:
        return det.detect(image)
