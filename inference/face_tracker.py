"""FaceForge's own Face Mesh tracker: MediaPipe's Face Mesh models on onnxruntime.

The models (``models/face_detector.onnx``, ``models/face_landmarks.onnx``) are
MediaPipe's short-range BlazeFace detector and its attention face landmark
model (Apache-2.0), converted by ``scripts/convert_face_models.py`` at build
time.  This module is the graph around them, following MediaPipe's
``face_landmark_front_cpu`` graph:

1. **detect** (when not tracking): letterbox the image into 128x128, decode 896
   SSD anchors (box + 6 keypoints), sigmoid scores, weighted non-maximum
   suppression (IoU 0.3), project back to the image;
2. **ROI from a detection**: the box's centre, rotation from the eye keypoints
   (0 -> 1), squared on the long side, scaled 1.5;
3. **landmarks**: the ROI warped to 192x192 (bilinear, border replicated), the
   model gives 468 mesh points plus refined lips, eyes and irises (478 points)
   and a face-presence logit (< ``min_tracking_confidence`` = lost);
4. **ROI from landmarks** (tracking mode): the landmarks' box, rotation from
   points 33 -> 263, squared, scaled 1.5 - the next frame starts there and only
   runs the detector while fewer faces than ``max_faces`` are tracked.

Shapes and units: images ``(H, W, 3)`` uint8 RGB (or BGR with ``bgr=True``: the full frame
is never converted, only the 128x128 / 192x192 model inputs); :class:`Face` points ``(478, 3)``
float32 in pixels (x right, y down, z scaled like x, negative toward the camera).
Pure: numpy, OpenCV, onnxruntime; never bpy.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from .onnx_session import open_session

MODELS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models")
DETECTOR_PATH = os.path.join(MODELS_DIR, "face_detector.onnx")
LANDMARKS_PATH = os.path.join(MODELS_DIR, "face_landmarks.onnx")

DETECTOR_SIZE = 128
LANDMARK_SIZE = 192
NUM_LANDMARKS = 478

# Refined index sets of the attention model's outputs (MediaPipe's
# tensors_to_face_landmarks_with_attention graph).
LIPS = np.array([
    61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409,
    78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415,
    76, 77, 90, 180, 85, 16, 315, 404, 320, 307, 306, 184, 74, 73, 72, 11, 302, 303, 304, 408,
    62, 96, 89, 179, 86, 15, 316, 403, 319, 325, 292, 183, 42, 41, 38, 12, 268, 271, 272, 407])
LEFT_EYE = np.array([
    33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173,
    130, 25, 110, 24, 23, 22, 26, 112, 243, 247, 30, 29, 27, 28, 56, 190,
    226, 31, 228, 229, 230, 231, 232, 233, 244, 113, 225, 224, 223, 222, 221, 189,
    35, 124, 46, 53, 52, 65, 143, 111, 117, 118, 119, 120, 121, 128, 245,
    156, 70, 63, 105, 66, 107, 55, 193])
RIGHT_EYE = np.array([
    263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398,
    359, 255, 339, 254, 253, 252, 256, 341, 463, 467, 260, 259, 257, 258, 286, 414,
    446, 261, 448, 449, 450, 451, 452, 453, 464, 342, 445, 444, 443, 442, 441, 413,
    265, 353, 276, 283, 282, 295, 372, 340, 346, 347, 348, 349, 350, 357, 465,
    383, 300, 293, 334, 296, 336, 285, 417])
LEFT_IRIS = np.arange(468, 473)
RIGHT_IRIS = np.arange(473, 478)
# the iris points take the mean depth of their eye's 16 contour points
LEFT_EYE_Z = LEFT_EYE[:16]
RIGHT_EYE_Z = RIGHT_EYE[:16]
ROI_ROTATION_FROM = (33, 263)  # landmarks -> next frame's ROI


@dataclass
class Rect:
    """A rotated rectangle in normalised image coordinates (MediaPipe's NormalizedRect)."""

    x_center: float
    y_center: float
    width: float
    height: float
    rotation: float = 0.0  # radians, clockwise on screen (y down)


@dataclass
class Detection:
    score: float
    box: np.ndarray  # (4,) xmin, ymin, width, height, normalised
    keypoints: np.ndarray  # (6, 2) normalised: right eye, left eye, nose, mouth, right ear, left ear


@dataclass
class Face:
    points: np.ndarray  # (478, 3) float32, pixels
    presence: float  # the landmark model's face-presence probability
    roi: Rect  # the ROI the points were read in


def normalize_radians(angle: float) -> float:
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def ssd_anchors() -> np.ndarray:
    """(896, 2) anchor centres of the short-range detector (fixed size 1): strides 8, 16, 16, 16,
    two anchors per cell and layer; layers of equal stride share one grid."""
    strides = [8, 16, 16, 16]
    out = []
    layer = 0
    while layer < len(strides):
        per_cell = 0
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            per_cell += 2  # aspect ratio 1.0 + the interpolated scale
            last += 1
        size = int(math.ceil(DETECTOR_SIZE / strides[layer]))
        ys, xs = np.meshgrid((np.arange(size) + 0.5) / size, (np.arange(size) + 0.5) / size, indexing="ij")
        centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(centres, per_cell, axis=0))
        layer = last
    return np.concatenate(out).astype(np.float32)


def _warp(image: np.ndarray, cx: float, cy: float, w: float, h: float, rotation: float, size: int,
          border_zero: bool, bgr: bool = False) -> np.ndarray:
    """The rotated rectangle (pixels) resampled to ``size`` x ``size`` RGB uint8, as MediaPipe's
    OpenCV image-to-tensor converter does (corners to corners, bilinear).  ``bgr``: ``image`` is
    BGR (OpenCV's order); only the small result has its channels swapped."""
    import cv2

    src = cv2.boxPoints(((cx, cy), (w, h), rotation * 180.0 / math.pi)).astype(np.float32)
    dst = np.array([[0, size], [0, 0], [size, 0], [size, size]], np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    crop = cv2.warpPerspective(image, m, (size, size), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT if border_zero else cv2.BORDER_REPLICATE,
                               borderValue=0)
    return crop[:, :, ::-1] if bgr else crop


def _iou(a, b) -> float:
    """IoU of two axis-aligned boxes (xmin, ymin, width, height)."""
    ix = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    iy = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def weighted_nms(scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray,
                 threshold: float = 0.3) -> list[Detection]:
    """MediaPipe's weighted NMS: each kept detection is the score-weighted mean of the ones
    overlapping the best remaining one by more than ``threshold`` IoU; keeps its score."""
    order = list(np.argsort(-scores, kind="stable"))
    out = []
    while order:
        top = order[0]
        cand, rest = [], []
        for i in order:
            (cand if _iou(boxes[i], boxes[top]) > threshold else rest).append(i)
        w = scores[cand].astype(np.float64)
        corners = np.stack([boxes[cand, 0], boxes[cand, 1], boxes[cand, 0] + boxes[cand, 2],
                            boxes[cand, 1] + boxes[cand, 3]], axis=1)
        mean = (corners * w[:, None]).sum(0) / w.sum()
        kps = (keypoints[cand] * w[:, None, None]).sum(0) / w.sum()
        out.append(Detection(float(scores[top]),
                             np.array([mean[0], mean[1], mean[2] - mean[0], mean[3] - mean[1]], np.float32),
                             kps.astype(np.float32)))
        if len(rest) == len(order):
            break
        order = rest
    return out


def rect_from_detection(det: Detection, width: int, height: int) -> Rect:
    """FaceDetectionFrontDetectionToRoi: box centre, rotation from the eyes, square, x1.5."""
    x0, y0 = det.keypoints[0] * (width, height)
    x1, y1 = det.keypoints[1] * (width, height)
    rotation = normalize_radians(-math.atan2(-(y1 - y0), x1 - x0))
    b = det.box
    return _square_scale(Rect(float(b[0] + b[2] / 2), float(b[1] + b[3] / 2), float(b[2]), float(b[3]), rotation),
                         width, height)


def rect_from_landmarks(points_norm: np.ndarray, width: int, height: int) -> Rect:
    """FaceLandmarkLandmarksToRoi: the landmarks' box, rotation 33 -> 263, square, x1.5."""
    xmin, ymin = points_norm[:, 0].min(), points_norm[:, 1].min()
    xmax, ymax = points_norm[:, 0].max(), points_norm[:, 1].max()
    a, b = ROI_ROTATION_FROM
    x0, y0 = points_norm[a, 0] * width, points_norm[a, 1] * height
    x1, y1 = points_norm[b, 0] * width, points_norm[b, 1] * height
    rotation = normalize_radians(-math.atan2(-(y1 - y0), x1 - x0))
    return _square_scale(Rect(float(xmin + xmax) / 2, float(ymin + ymax) / 2, float(xmax - xmin), float(ymax - ymin),
                              rotation), width, height)


def _square_scale(r: Rect, width: int, height: int, scale: float = 1.5) -> Rect:
    long_side = max(r.width * width, r.height * height)
    return Rect(r.x_center, r.y_center, long_side / width * scale, long_side / height * scale, r.rotation)


def associate(from_detections: list[Rect], previous: list[Rect], threshold: float = 0.5) -> list[Rect]:
    """AssociationNormRectCalculator: detection rects, then each tracked rect replacing any
    rect it overlaps by more than ``threshold`` IoU (axis-aligned, rotation ignored)."""
    out: list[Rect] = []

    def box(r: Rect):
        return (r.x_center - r.width / 2, r.y_center - r.height / 2, r.width, r.height)

    def add(r: Rect):
        out[:] = [o for o in out if _iou(box(r), box(o)) <= threshold]
        out.append(r)

    for i, r in enumerate(from_detections):
        if i == 0:
            out.append(r)
        else:
            add(r)
    for r in previous:
        add(r)
    return out


class FaceTracker:
    """Face Mesh with irises on onnxruntime.  ``video=True``: tracking mode (frames in order;
    the ROI comes from the previous frame, the detector runs again when a face is lost).

    ``provider``: execution provider (see ``onnx_session.PROVIDERS``; default the process-wide
    choice); ``message`` says when it fell back to the CPU.  ``threads``: intra-op threads."""

    def __init__(self, video: bool = False, max_faces: int = 1, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, provider: str | None = None, threads: int = 1):
        self.video = video
        self.max_faces = max(1, int(max_faces))
        self.min_detection_confidence = float(min_detection_confidence)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self._det, msg1 = open_session(DETECTOR_PATH, provider, threads)
        self._lm, msg2 = open_session(LANDMARKS_PATH, provider, threads)
        self.message = msg1 or msg2
        self.provider = self._lm.get_providers()[0]
        self._det_in = self._det.get_inputs()[0].name
        self._det_out = [o.name for o in self._det.get_outputs()]
        self._lm_in = self._lm.get_inputs()[0].name
        self._lm_out = [o.name for o in self._lm.get_outputs()]
        self._anchors = ssd_anchors()
        self._tracked: list[Rect] = []
        self.last_detections: list[Detection] | None = None  # None: the detector did not run this frame

    def reset(self) -> None:
        """Forget the tracked faces (the next frame runs the detector)."""
        self._tracked = []

    # ----------------------------------------------------------------- detector
    def detect_faces(self, image: np.ndarray, min_score: float | None = None, bgr: bool = False) -> list[Detection]:
        """Face detections (best first), normalised to the image (``bgr``: the image is BGR)."""
        h, w = image.shape[:2]
        side = float(max(w, h))  # letterbox: the square ROI round the whole image
        crop = _warp(image, w / 2.0, h / 2.0, side, side, 0.0, DETECTOR_SIZE, border_zero=True, bgr=bgr)
        x = crop.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)
        raw, logits = self._det.run(self._det_out, {self._det_in: x[None]})
        raw, logits = raw[0], logits[0, :, 0]
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -100.0, 100.0)))
        thresh = self.min_detection_confidence if min_score is None else min_score
        keep = np.nonzero(scores >= thresh)[0]
        if len(keep) == 0:
            return []
        raw, scores, anchors = raw[keep], scores[keep], self._anchors[keep]
        cx = raw[:, 0] / DETECTOR_SIZE + anchors[:, 0]
        cy = raw[:, 1] / DETECTOR_SIZE + anchors[:, 1]
        bw = raw[:, 2] / DETECTOR_SIZE
        bh = raw[:, 3] / DETECTOR_SIZE
        boxes = np.stack([cx - bw / 2, cy - bh / 2, bw, bh], axis=1)
        kps = raw[:, 4:16].reshape(-1, 6, 2) / DETECTOR_SIZE + anchors[:, None, :]
        valid = (bw >= 0) & (bh >= 0)
        dets = weighted_nms(scores[valid], boxes[valid], kps[valid])
        # letterbox -> image: x_img = (x - 0.5) * side / w + 0.5
        sx, sy = side / w, side / h
        for d in dets:
            d.keypoints = np.stack([(d.keypoints[:, 0] - 0.5) * sx + 0.5, (d.keypoints[:, 1] - 0.5) * sy + 0.5], 1)
            x0, y0 = (d.box[0] - 0.5) * sx + 0.5, (d.box[1] - 0.5) * sy + 0.5
            d.box = np.array([x0, y0, d.box[2] * sx, d.box[3] * sy], np.float32)
        return dets

    # ----------------------------------------------------------------- landmarks
    def landmarks_in(self, image: np.ndarray, roi: Rect, bgr: bool = False) -> Face | None:
        """478 landmarks read in ``roi``, or None when the model says no face is there (``bgr``:
        the image is BGR)."""
        h, w = image.shape[:2]
        crop = _warp(image, roi.x_center * w, roi.y_center * h, roi.width * w, roi.height * h, roi.rotation,
                     LANDMARK_SIZE, border_zero=False, bgr=bgr)
        x = crop.astype(np.float32) * np.float32(1.0 / 255.0)
        outs = dict(zip(self._lm_out, self._lm.run(self._lm_out, {self._lm_in: x[None]})))
        presence = 1.0 / (1.0 + math.exp(-float(np.clip(outs["conv_faceflag"].ravel()[0], -80, 80))))
        if presence < self.min_tracking_confidence:
            return None
        pts = np.empty((NUM_LANDMARKS, 3), np.float64)
        pts[:468] = outs["output_mesh_identity"].reshape(468, 3)
        pts[LIPS, :2] = outs["output_lips"].reshape(-1, 2)
        pts[LEFT_EYE, :2] = outs["output_left_eye"].reshape(-1, 2)
        pts[RIGHT_EYE, :2] = outs["output_right_eye"].reshape(-1, 2)
        pts[LEFT_IRIS, :2] = outs["output_left_iris"].reshape(-1, 2)
        pts[RIGHT_IRIS, :2] = outs["output_right_iris"].reshape(-1, 2)
        pts[LEFT_IRIS, 2] = pts[LEFT_EYE_Z, 2].mean()
        pts[RIGHT_IRIS, 2] = pts[RIGHT_EYE_Z, 2].mean()
        pts /= LANDMARK_SIZE
        # crop-normalised -> image-normalised (MediaPipe's LandmarkProjection with a NORM_RECT)
        c, s = math.cos(roi.rotation), math.sin(roi.rotation)
        x0, y0 = pts[:, 0] - 0.5, pts[:, 1] - 0.5
        norm = np.empty_like(pts)
        norm[:, 0] = (c * x0 - s * y0) * roi.width + roi.x_center
        norm[:, 1] = (s * x0 + c * y0) * roi.height + roi.y_center
        norm[:, 2] = pts[:, 2] * roi.width
        return Face(points=norm, presence=presence, roi=roi)

    # ----------------------------------------------------------------- frames
    def process(self, image: np.ndarray, bgr: bool = False) -> list[Face]:
        """Faces in one frame (RGB uint8; ``bgr``: BGR, as OpenCV decodes it - only the small model
        inputs are converted), points in pixels.  In video mode, call in frame order."""
        h, w = image.shape[:2]
        tracked = self._tracked if self.video else []
        if len(tracked) >= self.max_faces:
            rects = tracked
            self.last_detections = None
        else:
            dets = self.detect_faces(image, bgr=bgr)[:self.max_faces]
            self.last_detections = dets
            rects = associate([rect_from_detection(d, w, h) for d in dets], tracked)
        faces, next_rects = [], []
        for roi in rects:
            face = self.landmarks_in(image, roi, bgr=bgr)
            if face is None:
                continue
            next_rects.append(rect_from_landmarks(face.points, w, h))
            faces.append(face)
        self._tracked = next_rects
        scale = np.array([w, h, w], np.float64)
        for f in faces:
            f.points = (f.points * scale).astype(np.float32)
        return faces
