"""Closed loop: emotion presets on a face made from a photo, rendered, re-detected by MediaPipe.

The face is a mask made from a real GRID video frame (``rig_fixtures.photo_mask``)
and rigged by the rig stage's generated ARKit shape keys (``api.shape_keys``).

Then for each emotion: ``api.expressions.pose_emotion`` -> Cycles render -> MediaPipe -> the
measured direction of change versus the neutral render (smile corners up for happiness, inner
brows up for sadness, brows down and lips pressed for anger, eyes wide and jaw open for
surprise...).
"""

from pathlib import Path

import numpy as np
import pytest

from test_emotions import CHARACTERISTIC, landmark_features

# shape -> [(landmarks, (dx, dy) in IOD units, image axes: x right, y DOWN, radius in IOD)]
# "Left" = the subject's left = the image's right (larger x).  Pairs: (subject right, subject left).
R_BROW_IN, L_BROW_IN = (107, 66, 55, 65), (336, 296, 285, 295)
R_BROW_OUT, L_BROW_OUT = (70, 63, 46, 53), (300, 293, 276, 283)
R_UPPER_LID, L_UPPER_LID = (159, 158, 160, 161, 157, 27, 28, 29, 30), (386, 385, 387, 388, 384, 257, 258, 259, 260)
R_LOWER_LID, L_LOWER_LID = (145, 144, 153, 154, 163), (374, 373, 380, 381, 390)
R_CORNER, L_CORNER = (61, 146, 91, 185, 76, 62), (291, 375, 321, 409, 306, 292)
UPPER_LIP = (0, 37, 267, 39, 269, 13, 82, 312, 81, 311)
LOWER_LIP = (17, 84, 314, 181, 405, 14, 87, 317, 178, 402)
INNER_LOWER_LIP = (14, 87, 317, 178, 402, 88, 318, 95, 324)
CHIN = (152, 148, 377, 176, 400, 149, 378, 199, 200, 175, 171, 396, 18, 83, 313)
R_NOSE, L_NOSE = (129, 64, 98, 48), (358, 294, 327, 278)
R_CHEEK, L_CHEEK = (117, 118, 101, 50), (346, 347, 330, 280)



def new_shape_key(obj, name):
    """A shape key at value 0 on every Blender line (5.x creates new keys at 1.0)."""
    from faceforge.api.compat import new_shape_key as _new

    return _new(obj, name)

def _sided(right, left, d, r, mirror_x=True):
    dx, dy = d
    return {"Right": [(right, (-dx if mirror_x else dx, dy), r)], "Left": [(left, (dx, dy), r)]}


def stand_in_rig():
    rig = {
        "browInnerUp": [(R_BROW_IN + L_BROW_IN, (0.0, -0.13), 0.25)],
        "jawOpen": "JAW",  # a hinge, below: everything under the lips' parting line drops
        "mouthShrugLower": [(LOWER_LIP, (0.0, -0.04), 0.15)],
        "mouthShrugUpper": [(UPPER_LIP, (0.0, -0.02), 0.15)],
        "mouthRollLower": [(LOWER_LIP[5:], (0.0, -0.03), 0.12)],
        "mouthRollUpper": [(UPPER_LIP[5:], (0.0, 0.03), 0.12)],
        "mouthClose": [],
    }
    sided = {
        "browDown": (R_BROW_IN + R_BROW_OUT, L_BROW_IN + L_BROW_OUT, (0.03, 0.12), 0.25),
        "browOuterUp": (R_BROW_OUT, L_BROW_OUT, (0.0, -0.12), 0.22),
        "eyeWide": (R_UPPER_LID, L_UPPER_LID, (0.0, -0.07), 0.12),
        "eyeSquint": (R_LOWER_LID, L_LOWER_LID, (0.0, -0.04), 0.12),
        "cheekSquint": (R_CHEEK, L_CHEEK, (0.0, -0.06), 0.2),
        "mouthSmile": (R_CORNER, L_CORNER, (0.1, -0.14), 0.22),
        "mouthFrown": (R_CORNER, L_CORNER, (0.0, 0.12), 0.22),
        "mouthStretch": (R_CORNER, L_CORNER, (0.14, 0.04), 0.22),
        "mouthDimple": (R_CORNER, L_CORNER, (0.06, 0.0), 0.18),
        "mouthPress": (R_CORNER, L_CORNER, (0.0, 0.0), 0.1),
        "mouthLowerDown": (LOWER_LIP[:5], LOWER_LIP[:5], (0.0, 0.08), 0.15),
        "mouthUpperUp": (UPPER_LIP, UPPER_LIP, (0.0, -0.08), 0.15),
        "noseSneer": (R_NOSE, L_NOSE, (0.0, -0.07), 0.15),
    }
    for name, (right, left, d, r) in sided.items():
        for side, parts in _sided(right, left, d, r).items():
            rig[name + side] = parts
    # lips pressed: both lips toward each other and thinner
    for side in ("Left", "Right"):
        rig["mouthPress" + side] = [(UPPER_LIP[5:], (0.0, 0.02), 0.1), (LOWER_LIP[:5], (0.0, -0.05), 0.12)]
    return rig


def read_canonical_tris(path: Path) -> np.ndarray:
    tris = []
    for line in path.read_text().splitlines():
        if line.startswith("f "):
            tris.append([int(p.split("/")[0]) - 1 for p in line.split()[1:4]])
    return np.asarray(tris, dtype=np.int32)


INNER_LIPS = {78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415}


def build_photo_face(rgb, points, tris, image_path):
    """A mesh whose vertices are the photo's landmarks (Blender X = image x, Z = -image y, Y = depth)."""
    import bpy

    h, w = rgb.shape[:2]
    p = points[:468].astype(np.float64)
    scale = 0.01
    verts = np.stack([p[:, 0] - w / 2, p[:, 2], -(p[:, 1] - h / 2)], axis=1) * scale
    # open the mouth: drop the triangles spanning the lips' inner contour
    tris = np.asarray([t for t in tris.tolist() if not set(t) <= INNER_LIPS])
    mesh = bpy.data.meshes.new("PhotoFace")
    mesh.from_pydata(verts.tolist(), [], tris.tolist())
    uv = mesh.uv_layers.new(name="UV")
    loops = np.empty(len(mesh.loops), dtype=np.int32)
    mesh.loops.foreach_get("vertex_index", loops)
    coords = np.stack([p[loops, 0] / w, 1.0 - p[loops, 1] / h], axis=1).astype(np.float32)
    uv.data.foreach_set("uv", coords.ravel())
    mat = bpy.data.materials.new("Photo")
    mat.use_nodes = True
    nt = mat.node_tree
    nt.nodes.clear()
    tex = nt.nodes.new("ShaderNodeTexImage")
    tex.image = bpy.data.images.load(str(image_path))
    emit = nt.nodes.new("ShaderNodeEmission")
    out = nt.nodes.new("ShaderNodeOutputMaterial")
    nt.links.new(tex.outputs["Color"], emit.inputs["Color"])
    nt.links.new(emit.outputs["Emission"], out.inputs["Surface"])
    mesh.materials.append(mat)
    obj = bpy.data.objects.new("PhotoFace", mesh)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    return obj, verts, scale


def add_stand_in_shape_keys(obj, verts, points, iod_px, scale):
    from faceforge.core.arkit import ARKIT_NAMES

    p2 = points[:468, :2].astype(np.float64)
    new_shape_key(obj, "Basis")
    for name, parts in ((n, stand_in_rig().get(n, [])) for n in ARKIT_NAMES):
        disp = np.zeros((468, 2))
        if parts == "JAW":
            parting = p2[[13, 14], 1].mean()
            below = np.clip((p2[:, 1] - parting) / (0.35 * iod_px), 0.0, 1.0) ** 0.5
            below[list(UPPER_LIP)] = 0.0
            below[list(INNER_LOWER_LIP)] = np.maximum(below[list(INNER_LOWER_LIP)], 0.6)
            disp[:, 1] = below * 0.35 * iod_px
            parts = []
        for lms, (dx, dy), radius in parts:
            centre = p2[list(lms)]
            dist = np.linalg.norm(p2[:, None, :] - centre[None], axis=2).min(1) / iod_px
            fall = np.exp(-0.5 * (dist / (radius / 2.0)) ** 2)
            disp += fall[:, None] * np.array([dx, dy]) * iod_px
        co = verts.copy()
        co[:, 0] += disp[:, 0] * scale
        co[:, 2] -= disp[:, 1] * scale  # image y down = Blender -Z
        kb = new_shape_key(obj, name)
        kb.data.foreach_set("co", co.astype(np.float32).ravel())


def render(path, obj, size=256, samples=4):
    """Cycles, orthographic, framing the face's base mesh; a dark background shows through the mouth."""
    import bpy

    scene = bpy.context.scene
    co = np.array([v.co for v in obj.data.vertices])
    lo, hi = co.min(0), co.max(0)
    cam = bpy.data.objects.get("Cam")
    if cam is None:
        cam = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
        scene.collection.objects.link(cam)
    cam.data.type = "ORTHO"
    cam.data.ortho_scale = float(max(hi[0] - lo[0], hi[2] - lo[2]) * 1.35)
    cam.location = (float((lo[0] + hi[0]) / 2), -50.0, float((lo[2] + hi[2]) / 2 - 0.05 * (hi[2] - lo[2])))
    cam.rotation_euler = (np.pi / 2, 0.0, 0.0)
    cam.data.clip_end = 200
    scene.camera = cam
    scene.render.engine = "CYCLES"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    scene.cycles.device = "CPU"
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    if scene.world is None:
        scene.world = bpy.data.worlds.new("World")
    scene.world.use_nodes = False
    scene.world.color = (0.03, 0.02, 0.02)
    scene.render.filepath = str(path)
    scene.render.image_settings.file_format = "PNG"
    bpy.ops.render.render(write_still=True)


def photo_face(data, tmp_out, det):
    """A face mask made from a real GRID video frame (``rig_fixtures.photo_mask``), rigged by the rig
    stage's 52 generated ARKit shape keys; returns (object, the photo's own landmarks)."""
    import cv2
    import rig_fixtures as RF

    from faceforge.api import shape_keys

    cap = cv2.VideoCapture(str(data / "video/grid/bbaf2n.mpg"))
    ok, bgr = cap.read()
    cap.release()
    assert ok
    rgb = cv2.resize(bgr[..., ::-1], None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC).copy()
    photo = tmp_out / "photo.png"
    cv2.imwrite(str(photo), rgb[..., ::-1])
    found = det.detect(rgb)
    assert found is not None
    obj = RF.photo_mask(photo)
    shape_keys.generate_shape_keys(obj)
    return obj, found


def seen_features(obj, det, path):
    """Render the posed face and measure MediaPipe's re-detected landmarks."""
    import cv2

    from faceforge.api import contact_sheet
    from faceforge.api.render import render_view

    centre, view_dir, up, radius = contact_sheet.face_view(obj)
    rgb, _cam = render_view([obj], centre, view_dir, up, radius * 1.2, resolution=384)
    cv2.imwrite(str(path), rgb[..., ::-1])
    seen = det.detect(rgb)
    assert seen is not None, f"MediaPipe lost the face in {path.name}"
    return landmark_features(seen.points)


@pytest.mark.slow
def test_each_emotion_moves_redetected_landmarks_in_its_direction(ff, data, tmp_out):
    from faceforge.animation import emotions
    from faceforge.api import expressions
    from faceforge.inference.face_mesh import FaceMeshDetector

    with FaceMeshDetector(video=False) as det:
        obj, found = photo_face(data, tmp_out, det)
        feats = {}
        for name in emotions.EMOTIONS:
            expressions.pose_emotion(obj, name, 1.0)
            feats[name] = seen_features(obj, det, tmp_out / f"{name}.png")
    # the neutral render reproduces the photo's face
    for feature in ("eye_open", "mouth_width", "inner_brow_height"):
        assert feats["neutral"][feature] == pytest.approx(landmark_features(found.points)[feature], rel=0.2)
    wrong = []
    for name, expect in CHARACTERISTIC.items():
        for feature, sign in expect.items():
            delta = feats[name][feature] - feats["neutral"][feature]
            print(f"{name:10s} {feature:18s} {delta:+.4f} (expected {'+' if sign > 0 else '-'})")
            if np.sign(delta) != sign or abs(delta) < 0.01:
                wrong.append((name, feature, round(float(delta), 4)))
    assert not wrong, wrong


@pytest.mark.slow
def test_text_prompts_closed_loop_not_smiling_does_not_smile(ff, data, tmp_out):
    from faceforge.api import expressions
    from faceforge.inference.face_mesh import FaceMeshDetector

    lifts = {}
    with FaceMeshDetector(video=False) as det:
        obj, _found = photo_face(data, tmp_out, det)
        for i, prompt in enumerate(("neutral", "very happy", "not smiling", "happy but not smiling",
                                    "a big grin")):
            expressions.pose_from_text(obj, prompt)
            lifts[prompt] = seen_features(obj, det, tmp_out / f"text{i}.png")["corner_lift"]
    d = {p: lifts[p] - lifts["neutral"] for p in lifts}
    print(d)
    assert d["very happy"] > 0.03 and d["a big grin"] > 0.03
    assert abs(d["not smiling"]) < 0.01  # no smile seen
    assert d["happy but not smiling"] < 0.5 * d["very happy"]
