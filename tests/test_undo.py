"""Operators are undoable: one Ctrl+Z restores the scene as it was before."""

import bpy
import pytest
from skimage import data as skdata


@pytest.fixture
def photo(tmp_path):
    import cv2

    path = tmp_path / "astronaut.png"
    cv2.imwrite(str(path), cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR))
    return path


def test_face_from_photo_and_detect_landmarks_undo(ff, photo):
    bpy.context.scene.faceforge.landmarks.photo_path = str(photo)
    bpy.ops.ed.undo_push(message="start")
    assert bpy.ops.faceforge.face_from_photo("EXEC_DEFAULT", True) == {"FINISHED"}
    assert "PhotoFace" in bpy.data.objects
    obj = bpy.data.objects["PhotoFace"]
    obj.faceforge.landmarks.points.clear()  # pretend it came without landmarks
    bpy.context.view_layer.objects.active = obj
    bpy.ops.ed.undo_push(message="cleared")
    assert bpy.ops.faceforge.detect_landmarks("EXEC_DEFAULT", True) == {"FINISHED"}
    assert len(bpy.data.objects["PhotoFace"].faceforge.landmarks.points) == 478
    bpy.ops.ed.undo()  # the detection
    assert len(bpy.data.objects["PhotoFace"].faceforge.landmarks.points) == 0
    bpy.ops.ed.undo()  # our manual clearing
    assert len(bpy.data.objects["PhotoFace"].faceforge.landmarks.points) == 478
    bpy.ops.ed.undo()  # the face from photo
    assert "PhotoFace" not in bpy.data.objects
