"""Public API: generate the 52 ARKit shape keys on a face mesh, transfer them, list them.

``generate_shape_keys_job(obj, ...)`` is a job (see ``core/jobs.py``): run it
with ``run_sync`` from scripts, the operator runs it modally.  It reads the
mesh and its landmarks (``obj.faceforge.landmarks``), hands the heavy pure
work (:func:`rigging.deform.generate`) to a worker, and writes the keys at the
very end, so a cancel or an error leaves the object as it was.

Keys are named exactly as ARKit (``core.arkit.ARKIT_NAMES``) on a Basis.
Keys FaceForge made are remembered in ``obj.faceforge.rig.generated``;
other shape keys are never touched.  Re-running needs ``replace=True``.
"""

from __future__ import annotations

import numpy as np

from ..core.arkit import ARKIT_NAMES
from ..core.errors import FaceForgeError
from ..core.jobs import Offload, Progress
from . import binding as _binding
from . import mesh as _mesh


def faceforge_keys(obj) -> list[str]:
    """Names of the shape keys on ``obj`` that FaceForge generated."""
    if obj is None or obj.type != "MESH" or obj.data.shape_keys is None:
        return []
    made = set(obj.faceforge.rig.generated.split(",")) if obj.faceforge.rig.generated else set()
    return [kb.name for kb in obj.data.shape_keys.key_blocks if kb.name in made]


def arkit_keys(obj) -> list[str]:
    """ARKit-named shape keys present on ``obj`` (made by anyone), in ARKit order."""
    if obj is None or obj.type != "MESH" or obj.data.shape_keys is None:
        return []
    keys = obj.data.shape_keys.key_blocks
    return [n for n in ARKIT_NAMES if n in keys]


def ensure_intensity_items(obj) -> None:
    """Give ``obj.faceforge.rig.intensity`` one scale (default 1) per ARKit shape."""
    items = obj.faceforge.rig.intensity
    have = {it.name for it in items}
    for name in ARKIT_NAMES:
        if name not in have:
            it = items.add()
            it.name = name
            it.value = 1.0


def _intensities(obj) -> dict[str, float]:
    out = {}
    for item in obj.faceforge.rig.intensity:
        out[item.name] = item.value
    return out


def _write_keys(obj, base: np.ndarray, active: np.ndarray, disps: dict, scales: dict) -> list[str]:
    _mesh.ensure_basis(obj)
    written = []
    for name in ARKIT_NAMES:
        if name not in disps:
            continue
        co = base.copy()
        co[active] += disps[name] * float(scales.get(name, 1.0))
        _mesh.set_shape_key(obj, name, co)
        kb = obj.data.shape_keys.key_blocks[name]
        kb.slider_min, kb.slider_max = 0.0, 1.0
        written.append(name)
    obj.faceforge.rig.generated = ",".join(written)
    return written


def _check_replace(obj, replace: bool):
    existing = arkit_keys(obj)
    if not existing:
        return
    ours = set(faceforge_keys(obj))
    foreign = [n for n in existing if n not in ours]
    if foreign:
        raise FaceForgeError(
            f"'{obj.name}' already has ARKit shape keys FaceForge did not make ({', '.join(foreign[:3])}"
            f"{'...' if len(foreign) > 3 else ''}): rename or delete them, or use Transfer Shape Keys")
    if not replace:
        raise FaceForgeError(f"'{obj.name}' already has FaceForge's shape keys: enable Replace to regenerate them")


def generate_shape_keys_job(obj, intensity: float = 1.0, replace: bool = False, names=ARKIT_NAMES):
    """Job: build the ARKit shape keys on ``obj`` from its landmarks.

    ``intensity`` scales every shape; per-shape scales come from
    ``obj.faceforge.rig.intensity``.  Returns a dict: ``keys`` (names written),
    ``skipped`` ({name: reason}), ``notes``, ``vertices_moved``.
    """
    from ..rigging import deform

    _mesh.require_mesh(obj)
    lm = _binding.landmark_positions(obj)
    _check_replace(obj, replace)
    if obj.data.shape_keys is not None:
        # build from the true rest shape (the Basis), not from a posed mix
        base = _mesh.shape_key_coords(obj, obj.data.shape_keys.key_blocks[0].name)
    else:
        base = _mesh.vertex_coords(obj.data)
    tris, _ = _mesh.triangles(obj.data)
    lm = _binding.read_binding(obj).positions(base)
    yield Progress(0.02, "reading the mesh")
    rig, disps = yield Offload(deform.generate, (base, tris, lm), {"names": names}, report=True,
                               span=(0.05, 0.9))
    ensure_intensity_items(obj)
    scales = _intensities(obj)
    scales = {n: scales.get(n, 1.0) * intensity for n in ARKIT_NAMES}
    yield Progress(0.92, "writing shape keys")
    for name in faceforge_keys(obj):  # replace=True was checked above
        kb = obj.data.shape_keys.key_blocks[name]
        obj.shape_key_remove(kb)
    written = _write_keys(obj, base, rig.active, disps, scales)
    skipped = {n: "the mesh has no tongue" for n in names if n not in disps}
    yield Progress(1.0, "done")
    return {"keys": written, "skipped": skipped, "notes": list(rig.notes), "vertices_moved": int(len(rig.active))}


def transfer_shape_keys_job(obj, reference, replace: bool = False):
    """Job: carry the ARKit shape keys of ``reference`` (a head with landmarks) onto ``obj``.

    Landmark-guided non-rigid fit of the reference onto ``obj`` then transfer
    of each key's displacement (expressed in the faces' own frames).
    """
    from ..rigging import regions as R
    from ..rigging import transfer as T

    _mesh.require_mesh(obj)
    _mesh.require_mesh(reference, "the reference head")
    if reference == obj:
        raise FaceForgeError("Pick a different object as the reference head")
    names = arkit_keys(reference)
    if not names:
        raise FaceForgeError(f"'{reference.name}' has no ARKit-named shape keys to transfer")
    _check_replace(obj, replace)
    src_base = _mesh.shape_key_coords(reference, reference.data.shape_keys.key_blocks[0].name)
    src_tris, _ = _mesh.triangles(reference.data)
    src_lm = _binding.read_binding(reference).positions(src_base)
    disps = np.stack([_mesh.shape_key_coords(reference, n) - src_base for n in names])
    base = (_mesh.shape_key_coords(obj, obj.data.shape_keys.key_blocks[0].name)
            if obj.data.shape_keys is not None else _mesh.vertex_coords(obj.data))
    dst_lm = _binding.read_binding(obj).positions(base)
    yield Progress(0.02, "reading both meshes")
    out = yield Offload(T.transfer_displacements,
                        (src_base, src_tris, src_lm, disps, base, dst_lm, R.face_frame(src_lm),
                         R.face_frame(dst_lm)), report=True, span=(0.05, 0.9))
    for name in faceforge_keys(obj):
        obj.shape_key_remove(obj.data.shape_keys.key_blocks[name])
    written = _write_keys(obj, base, np.arange(len(base)), dict(zip(names, out)), {})
    yield Progress(1.0, "done")
    return {"keys": written, "skipped": {}, "notes": [f"transferred from '{reference.name}'"],
            "vertices_moved": int((np.abs(out).max(axis=(0, 2)) > 0).sum())}


def contact_sheet_job(obj, path: str, size: int = 192, columns: int = 9, samples: int = 4):
    """Job: render every ARKit key of ``obj`` at weight 1 into one labelled PNG grid."""
    import cv2

    from . import contact_sheet as CS

    _mesh.require_mesh(obj)
    names = arkit_keys(obj)
    if not names:
        raise FaceForgeError(f"'{obj.name}' has no ARKit shape keys yet: run Generate Shape Keys first")
    tiles = []
    todo = ["neutral"] + names
    for k, (name, img) in enumerate(CS.render_shapes(obj, todo, size=size, samples=samples, margin=0.82)):
        img = np.ascontiguousarray(img[:, :, ::-1])
        cv2.rectangle(img, (0, size - 22), (size, size), (40, 40, 40), -1)
        cv2.putText(img, name, (4, size - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(img)
        yield Progress((k + 1) / len(todo), f"rendered {name}")
    rows = -(-len(tiles) // columns)
    sheet = np.full((rows * size, columns * size, 3), 30, np.uint8)
    for k, t in enumerate(tiles):
        r, c = divmod(k, columns)
        sheet[r * size:(r + 1) * size, c * size:(c + 1) * size] = t
    import os

    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if not cv2.imwrite(path, sheet):
        raise FaceForgeError(f"Could not write the contact sheet to {path}")
    return {"path": path, "shapes": len(names)}
