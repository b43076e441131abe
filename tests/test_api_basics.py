"""The bpy adapter: bulk mesh arrays, shape keys and F-curve baking (4.2-5.0 API)."""

import bpy
import numpy as np
import pytest

from faceforge.core.arkit import ARKIT_NAMES


def make_grid():
    bpy.ops.mesh.primitive_grid_add(x_subdivisions=10, y_subdivisions=10, size=2)
    return bpy.context.active_object


def test_mesh_arrays_and_shape_keys(ff):
    from faceforge.api import mesh

    obj = make_grid()
    arr = mesh.mesh_arrays(obj)
    n = len(obj.data.vertices)
    assert arr.verts.shape == (n, 3) and arr.tris.shape == (2 * len(obj.data.polygons), 3) and arr.tris.max() < n
    moved = arr.verts + [0, 0, 0.1]
    mesh.set_shape_key(obj, "jawOpen", moved)
    assert obj.data.shape_keys.key_blocks[0].name == "Basis"
    np.testing.assert_allclose(mesh.shape_key_coords(obj, "jawOpen"), moved, atol=1e-6)
    with pytest.raises(ValueError):
        mesh.set_shape_key(obj, "bad", moved[:10])


def test_bake_shape_keys_fast_and_exact(ff):
    from faceforge.api import actions, mesh

    obj = make_grid()
    base = mesh.mesh_arrays(obj).verts
    for name in ARKIT_NAMES:
        mesh.set_shape_key(obj, name, base)
    frames = np.arange(1, 301)
    weights = np.random.default_rng(0).random((300, 52))
    existing = bpy.data.actions.new("UserAction")
    obj.data.shape_keys.animation_data_create().action = existing
    action = actions.bake_shape_keys(obj, ARKIT_NAMES, frames, weights, "Take")
    assert action is not existing and action.name.startswith("Take")
    assert "UserAction" in bpy.data.actions  # the user's action survives
    got = actions.sample_shape_key_curves(obj, ARKIT_NAMES, frames[::37])
    np.testing.assert_allclose(got, weights[::37], atol=1e-5)
    assert len(actions.all_fcurves(action)) == 52
    # Replacing reuses the action and replaces only those curves.
    again = actions.bake_shape_keys(obj, ARKIT_NAMES[:2], frames, weights[:, :2] * 0, "Take", replace=True)
    assert again is action and len(actions.all_fcurves(action)) == 52
    assert actions.sample_shape_key_curves(obj, ARKIT_NAMES[:3], [10])[0, :2].max() == 0


def test_binding_round_trip_follows_the_mesh(ff):
    from faceforge.api import binding, mesh

    obj = make_grid()
    arr = mesh.mesh_arrays(obj)
    rng = np.random.default_rng(1)
    tri = arr.tris[rng.integers(0, len(arr.tris), 478)]
    bary = rng.random((478, 3))
    bary /= bary.sum(1, keepdims=True)
    b = binding.Binding(tri, bary, np.ones(478))
    binding.write_binding(obj, b, source="MANUAL")
    back = binding.read_binding(obj)
    np.testing.assert_array_equal(back.verts, tri)
    np.testing.assert_allclose(back.bary, bary, atol=1e-6)
    moved = arr.verts * 2.0
    np.testing.assert_allclose(binding.landmark_positions(obj, moved), b.positions(arr.verts) * 2, atol=1e-5)
    assert obj.faceforge.landmarks.source == "MANUAL"
