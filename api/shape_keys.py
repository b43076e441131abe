"""Generate the 52 ARKit shape keys on a face mesh (and transfer them from a reference).

``generate_shape_keys_job(obj, source=...)``: reads the mesh and its bound landmarks, makes
the shapes in an offloaded pure step (``rigging.scan_rig.make_shapes``: the scan-based face
model fitted to the mesh and its shapes transferred, or FaceForge's procedural library for
stylised faces; ``auto`` picks from how well the face model fits and says why), then writes
one shape key per ARKit name on a Basis.  Only FaceForge's own keys are ever replaced; the
user's other shape keys are kept, and existing ARKit keys are only regenerated when
``replace=True``.
"""

from __future__ import annotations

import numpy as np

from ..core import params
from ..core.arkit import ARKIT_NAMES
from ..core.errors import FaceForgeError
from ..core.jobs import Offload, Progress, run_sync
from ..rigging import scan_rig
from . import mesh as mesh_api
from .binding import landmark_positions, read_binding
from .character import arkit_keys


def parse_scales(text: str) -> dict[str, float]:
    """``"jawOpen=0.8, mouthSmileLeft=1.2"`` -> dict (validated names)."""
    out = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        if "=" not in part:
            raise FaceForgeError(f"Shape scale '{part}' should look like jawOpen=0.8")
        name, value = (s.strip() for s in part.split("=", 1))
        if name not in ARKIT_NAMES:
            raise FaceForgeError(f"'{name}' is not an ARKit shape name")
        try:
            out[name] = float(value)
        except ValueError as exc:
            raise FaceForgeError(f"Shape scale for {name} is not a number: '{value}'") from exc
    return out


def base_coords(obj) -> np.ndarray:
    """Basis coordinates (the first shape key's, or the mesh's when it has none)."""
    key = obj.data.shape_keys
    if key is None:
        return mesh_api.vertex_coords(obj.data)
    return mesh_api.shape_key_coords(obj, key.key_blocks[0].name)


def generated_keys(obj) -> list[str]:
    """The shape keys FaceForge generated (or transferred) on ``obj``, as recorded on it."""
    return [n for n in obj.faceforge.rig.generated.split(",") if n]


def user_keys(obj) -> list[str]:
    """``obj``'s ARKit-named shape keys that FaceForge did not make (sculpted or imported by the user)."""
    ours = set(generated_keys(obj))
    return [n for n in arkit_keys(obj) if n not in ours]


def _check_replace(obj, replace: bool, names) -> list[str]:
    """The user's own ARKit-named keys among ``names``, which are never written over; a
    FaceForgeError when ``obj`` has ARKit keys and ``replace`` is off, or nothing is left to write."""
    have = arkit_keys(obj)
    if have and not replace:
        raise FaceForgeError(f"'{obj.name}' already has {len(have)} ARKit shape keys; "
                             "turn on Replace Existing (--replace) to regenerate FaceForge's keys")
    theirs = [n for n in user_keys(obj) if n in names]
    if names and len(theirs) == len(names):
        raise FaceForgeError(f"Every ARKit shape key on '{obj.name}' is your own (FaceForge did not make them), "
                             "and Replace Existing only regenerates FaceForge's keys: delete or rename yours first")
    return theirs


def _kept_note(kept: list[str]) -> list[str]:
    if not kept:
        return []
    return [f"kept {len(kept)} shape key(s) FaceForge did not make ({', '.join(kept[:4])}"
            f"{', ...' if len(kept) > 4 else ''}); delete or rename them to have them generated"]


SOURCES = scan_rig.SOURCES


def source_note(result: dict) -> str:
    """One line: which shapes were made and why (``Scan-based shapes: the face model fits...``)."""
    return f"{scan_rig.SOURCE_LABELS[result['source']].capitalize()} shapes: {result['source_reason']}"


def generate_shape_keys_job(obj, intensity: float = 1.0, scales: dict[str, float] | None = None,
                            replace: bool = False, source: str = "auto"):
    """Generate the ARKit shape keys on ``obj``; returns a summary dict.

    ``source``: ``auto`` (scan-based where the face model fits the mesh, else procedural),
    ``scan`` or ``procedural`` (see ``rigging.scan_rig.make_shapes``); the result says which
    was used (``source``) and why (``source_reason``), what the mesh lacks (``left_out``) and
    the face model's fit residual per region (``residual``, IOD).  ``replace`` regenerates the
    keys FaceForge made before (``obj.faceforge.rig.generated``); ARKit-named keys the user
    made are never written over (they are listed in ``notes``)."""
    mesh_api.require_mesh(obj)
    intensity = params.check("rig.intensity", intensity)
    if source not in SOURCES:
        raise FaceForgeError(f"Unknown shape source '{source}': use one of {', '.join(SOURCES)}")
    binding = read_binding(obj)  # clear message when there are no landmarks
    kept = _check_replace(obj, replace, ARKIT_NAMES)
    scales = {n: params.check("expression.scale", v, f"The scale of {n}") for n, v in (scales or {}).items()}
    yield Progress(0.0, "reading the mesh")
    verts = base_coords(obj)
    tris = mesh_api.triangles(obj.data)[0]
    lm = landmark_positions(obj, coords=verts)
    made = yield Offload(scan_rig.make_shapes, (verts, tris, lm), {"source": source, "weights": binding.confidence},
                         report=True, span=(0.05, 0.85))
    yield Progress(0.9, "writing shape keys")
    generated = []
    for name in ARKIT_NAMES:
        if name not in made.shapes or name in kept:
            continue
        coords = verts.copy()
        coords[made.active] += made.shapes[name] * (intensity * scales.get(name, 1.0))
        mesh_api.set_shape_key(obj, name, coords)
        generated.append(name)
    obj.faceforge.rig.generated = ",".join(generated)
    obj.faceforge.rig.shape_scales = ",".join(f"{k}={v:g}" for k, v in scales.items())
    obj.faceforge.rig.source = made.source
    yield Progress(1.0, "done")
    result = {"object": obj.name, "generated": generated, "skipped": [n for n in ARKIT_NAMES if n not in made.shapes],
              "kept": kept, "source": made.source, "source_reason": made.reason, "left_out": list(made.left_out),
              "residual": made.residual, "moving_vertices": int(len(made.active))}
    result["notes"] = [source_note(result)] + list(made.notes) + _kept_note(kept)
    return result


def generate_shape_keys(obj, **kwargs):
    return run_sync(generate_shape_keys_job(obj, **kwargs))


def set_pose(obj, values: dict[str, float]) -> None:
    """Set shape-key values by ARKit name (names the mesh lacks are ignored)."""
    key = obj.data.shape_keys
    if key is None:
        return
    for name, value in values.items():
        kb = key.key_blocks.get(name)
        if kb is not None:
            kb.value = float(value)


def reset_pose(obj) -> None:
    """All ARKit keys and the test-pose sliders back to 0."""
    pose = obj.faceforge.rig.pose
    for n in ARKIT_NAMES:
        if getattr(pose, n) != 0.0:
            pose.property_unset(n)
    set_pose(obj, {n: 0.0 for n in ARKIT_NAMES})


# --- transfer from a reference head --------------------------------------------

def transfer_shape_keys_job(obj, reference, replace: bool = False):
    """Transfer the reference head's ARKit keys onto ``obj`` (both need landmarks).

    The reference is fitted onto ``obj`` as the face model is for the scan-based shapes
    (landmarks, then its skin registered onto ``obj``'s), and its keys are carried over by
    deformation transfer, part by part (``rigging.reference.transfer_from_reference``).
    """
    from ..rigging.reference import transfer_from_reference

    mesh_api.require_mesh(obj)
    mesh_api.require_mesh(reference, "the reference head")
    names = arkit_keys(reference)
    if not names:
        raise FaceForgeError(f"'{reference.name}' has no ARKit shape keys to transfer")
    kept = _check_replace(obj, replace, names)
    names = [n for n in names if n not in kept]
    src_verts = base_coords(reference)
    src_tris = mesh_api.triangles(reference.data)[0]
    src_lm = landmark_positions(reference, coords=src_verts)
    dst_verts = base_coords(obj)
    dst_tris = mesh_api.triangles(obj.data)[0]
    dst_lm = landmark_positions(obj, coords=dst_verts)
    disps = np.stack([mesh_api.shape_key_coords(reference, n) - src_verts for n in names])
    yield Progress(0.1, "fitting the reference to this face")
    out = yield Offload(transfer_from_reference,
                        (src_verts, src_tris, src_lm, disps, dst_verts, dst_tris, dst_lm, names),
                        report=True, span=(0.1, 0.9))
    yield Progress(0.9, "writing shape keys")
    written = [n for n in names if n in out.shapes]
    for name in written:
        coords = dst_verts.copy()
        coords[out.active] += out.shapes[name]
        mesh_api.set_shape_key(obj, name, coords)
    obj.faceforge.rig.generated = ",".join(written)
    obj.faceforge.rig.source = "reference"
    return {"object": obj.name, "transferred": written, "reference": reference.name, "kept": kept,
            "skipped": [n for n in names if n not in out.shapes], "left_out": list(out.left_out),
            "notes": list(out.notes) + _kept_note(kept)}


def transfer_shape_keys(obj, reference, **kwargs):
    return run_sync(transfer_shape_keys_job(obj, reference, **kwargs))
