"""Rig I on other meshes: the MediaPipe canonical face (any mesh), transfer from a reference
head made by the generator, the contact sheet and the `faceforge rig` command line."""

import bpy
import numpy as np
import pytest

import rig_fixtures as RF
from faceforge.core.jobs import run_sync


def canonical_face(data):
    """MediaPipe's canonical face: vertex i is landmark i; irises bound near the eye centres."""
    from faceforge.api import binding, mesh, scene
    from faceforge.rigging import regions as R

    obj = scene.import_mesh(str(data / "mesh" / "mediapipe_canonical" / "canonical_face_model.obj"), name="Canon")
    arr = mesh.mesh_arrays(obj)
    assert len(arr.verts) == 468
    left, right = R.eye_centres(np.vstack([arr.verts, np.zeros((10, 3))]))
    iris = []
    for c in (right, left):
        _, near = np.linalg.norm(arr.verts - c, axis=1), None
        iris += [int(np.argmin(np.linalg.norm(arr.verts - c, axis=1)))] * 5
    verts = np.c_[np.r_[np.arange(468), iris], np.zeros(478), np.zeros(478)].astype(np.int32)
    bary = np.zeros((478, 3))
    bary[:, 0] = 1
    binding.write_binding(obj, binding.Binding(verts, bary, np.ones(478)), source="PHOTO")
    return obj


def _lips_gap(lm):
    return np.linalg.norm(lm[13] - lm[14])


def test_generate_on_the_canonical_face(data):
    from faceforge.api import binding, mesh, shape_keys

    obj = canonical_face(data)
    out = run_sync(shape_keys.generate_shape_keys_job(obj), on_progress=None)
    assert "tongueOut" in out["skipped"] and len(out["generated"]) == 51
    base = mesh.shape_key_coords(obj, "Basis")
    jaw = mesh.shape_key_coords(obj, "jawOpen")
    fr = __import__("faceforge.rigging.regions", fromlist=["x"]).face_frame(binding.landmark_positions(obj))
    assert (_lips_gap(jaw) - _lips_gap(base)) / fr.scale > 0.12  # the mouth opens
    assert np.abs(jaw[10] - base[10]).max() == 0  # the forehead stays


def test_transfer_from_a_reference_head_made_by_the_generator(data):
    from faceforge.api import binding, mesh, shape_keys
    from faceforge.rigging import regions as R

    ref = RF.import_ict(data)
    run_sync(shape_keys.generate_shape_keys_job(ref), on_progress=None)
    obj = canonical_face(data)
    out = run_sync(shape_keys.transfer_shape_keys_job(obj, ref), on_progress=None)
    assert len(out["transferred"]) >= 51
    base = mesh.shape_key_coords(obj, "Basis")
    fr = R.face_frame(binding.landmark_positions(obj))
    jaw = fr.to_local(mesh.shape_key_coords(obj, "jawOpen")) - fr.to_local(base)
    assert jaw[152, 1] < -0.2 and jaw[152, 2] < 0  # chin down and back
    assert np.abs(jaw[10]).max() < 0.01  # forehead still (1 % of the chin's travel)
    blink = fr.to_local(mesh.shape_key_coords(obj, "eyeBlinkLeft"))
    b0 = fr.to_local(base)
    gap = b0[386, 1] - b0[374, 1]
    # the left upper lid comes down towards the lower lid; the right eye stays.  Known gap: on
    # this coarse mask (468 vertices) the lid comes down 34 % of the way from the ICT head's
    # rig (scan-based, with FaceForge's own blinks), 44 % from its transferred scan blink and
    # 70 % from a procedural rig: reference transfer onto a coarse mask loses the lid's rotation
    assert b0[386, 1] - blink[386, 1] > 0.3 * gap
    assert np.abs(blink[159] - b0[159]).max() < 0.05 * gap


def test_contact_sheet_png(data, tmp_path):
    import cv2

    from faceforge.api import shape_keys

    obj = RF.import_ict(data)
    from faceforge.api import contact_sheet

    run_sync(shape_keys.generate_shape_keys_job(obj), on_progress=None)
    out = run_sync(contact_sheet.contact_sheet_job(obj, str(tmp_path / "sheet.png"), size=96, columns=2,
                                                   names=("jawOpen", "eyeBlinkLeft", "mouthSmileLeft")),
                   on_progress=None)
    img = cv2.imread(out["path"])
    assert out["shapes"] == 3 and img.shape == (2 * 96, 2 * 96, 3)
    # tiles differ: the jawOpen tile is not the neutral tile
    assert np.abs(img[:96, 96:].astype(int) - img[:96, :96].astype(int)).mean() > 0.5


def test_cli_rig_needs_landmarks_or_detection(tmp_path, data):
    from faceforge import cli

    code = cli.main(["rig", "--mesh", str(tmp_path / "missing.obj"), "--out", str(tmp_path / "x.blend")])
    assert code == 2
