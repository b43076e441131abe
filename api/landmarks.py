"""Detect MediaPipe Face Mesh landmarks on a mesh and bind them to its surface.

``detect_landmarks_job(obj)`` (a job generator; see ``core/jobs.py``):

1. renders the front (-Y) at low resolution and scores it with MediaPipe's
   face detector; where it shows a face, Face Mesh (478 points, with irises)
   runs on a full-size render of it, and a frontal fit ends the search there;
2. else renders the mesh from the other likely axes too (the mesh's front is
   not always -Y), scores each view, and tries them best score first; a view
   counts only where Face Mesh fits the face, and the first frontal one wins
   (a profile can score higher with the detector and still not be fitted);
   else the most frontal that fitted.  A second, tighter render of that view
   refines the points;
3. casts each point back onto the surface, skipping eyelashes, eyeballs and
   other small parts (iris points may land on the eyeball);
4. on a mirror-symmetric mesh, makes the landmarks symmetric too (each averaged
   with its twin's reflection across the mesh's own mirror plane);
5. stores the binding (triangle + barycentric per landmark, confidence) on
   the object - only at the very end, so a failure changes nothing.
"""

from __future__ import annotations

import numpy as np

from ..core import params
from ..core.errors import FaceForgeError
from ..core.jobs import Offload, Progress, run_sync
from ..inference.views import CANDIDATE_VIEWS, FRONTAL_TURN, bounding_sphere, face_sphere, turn, view_order
from ..facemodel.model import preload as preload_face_model
from ..rigging import binding as pure_binding
from . import mesh as mesh_api
from .binding import write_binding
from .render import render_view

DETECT_RES = 256
# The search renders only feed the face detector's score: FXAA is as good as 8 samples there and
# several times faster (Face Mesh's own renders keep the scene's anti-aliasing).
SEARCH_AA = "FXAA"
# The front view's detector score from which Face Mesh is tried on it before any other view.
# (A frontal face scores 0.92-0.93 on the ICT head and re-meshed model heads; a profile seen
# from -Y 0.6: it goes to the full search, as does any face scored lower.)
FRONT_FIRST_SCORE = 0.8


def _detector():
    from ..inference.face_mesh import FaceMeshDetector

    return FaceMeshDetector(video=False, max_faces=1, min_confidence=0.3)


def _score_views(det, images):
    return [det.detection_score(img) for img in images]


def _landmarks(det, image):
    return det.detect(image, with_score=True)


def detect_landmarks_job(obj, resolution: int = 512, symmetric: bool = True):
    """Find the face on ``obj``, bind 478 landmarks to it; returns a summary dict.

    With ``symmetric``, on a mesh that is mirror-symmetric round the face the
    landmarks are made symmetric too (MediaPipe's left and right differ by a few
    percent of the eye distance on a symmetric head)."""
    mesh_api.require_mesh(obj)
    resolution = params.check("landmarks.resolution", resolution, "The render size")
    if obj.mode != "OBJECT":
        raise FaceForgeError("Switch to Object Mode first")
    yield Progress(0.0, "reading the mesh")
    preload_face_model()  # the rig stage that usually follows needs it: it loads while we render
    arrays = mesh_api.mesh_arrays(obj, world=True)
    if len(arrays.tris) == 0:
        raise FaceForgeError(f"'{obj.name}' has no faces to look at")
    centre, radius = bounding_sphere(arrays.verts)
    det = yield Offload(_detector)
    try:
        # 1. which way does the face look?  The front first (-Y, Blender's front, where most heads
        # look): where Face Mesh fits a frontal face there, the other views are never rendered.
        images = []

        def look(i):
            name, view, up = CANDIDATE_VIEWS[i]
            img, cam = render_view([obj], centre, view, up, radius, resolution=DETECT_RES, aa=SEARCH_AA)
            images.append((name, view, up, img, cam))

        best, failed, tried = None, [], set()

        def try_view(i):
            """Face Mesh on view ``i`` at the full resolution; True when it found a frontal face."""
            nonlocal best
            tried.add(i)
            name, view, up = images[i][:3]
            img, cam = render_view([obj], centre, view, up, radius, resolution=resolution)
            face = yield Offload(_landmarks, (det, img))
            if face is None:
                failed.append(name)
                return False
            t = turn(face.points)
            if best is None or t < best[0]:
                best = (t, i, face, cam)
            return t < FRONTAL_TURN

        yield Progress(0.05, f"looking for the face ({CANDIDATE_VIEWS[0][0]})")
        look(0)
        (front_score,) = yield Offload(_score_views, (det, [images[0][3]]))
        frontal = False
        if front_score >= FRONT_FIRST_SCORE:
            yield Progress(0.1, f"face found looking {CANDIDATE_VIEWS[0][0]}: detecting landmarks")
            frontal = yield from try_view(0)
            # a try before the search: it counts as a failed view only if no other view fits
            front_failed = failed[:]
            failed.clear()
        else:
            front_failed = []
        if not frontal:
            # 2. every view, scored by the face detector; the views that show a face, best score
            # first: keep one only where Face Mesh fits it, the first frontal one, else the most frontal
            for i in range(1, len(CANDIDATE_VIEWS)):
                name = CANDIDATE_VIEWS[i][0]
                yield Progress(0.05 + 0.35 * i / len(CANDIDATE_VIEWS), f"looking for the face ({name})")
                look(i)
            scores = yield Offload(_score_views, (det, [im[3] for im in images]))
            order = view_order(scores)
            if not order and best is None:
                raise FaceForgeError(
                    f"No face found on '{obj.name}' from any side. For a cartoon or non-human face, "
                    "place a few key points by hand and use Fit Template (manual landmarks).")
            order = [i for i in order if i not in tried]
            for k, i in enumerate(order):
                yield Progress(0.42 + 0.15 * k / len(order), f"face found looking {images[i][0]}: detecting landmarks")
                if (yield from try_view(i)):
                    break
            if best is None or best[0] >= FRONTAL_TURN:
                failed[:0] = front_failed
        if best is None:
            raise FaceForgeError(f"MediaPipe saw a face on '{obj.name}' (looking {', '.join(failed)}) but could not "
                                 "fit its landmarks in any view; try a higher render size or the manual path")
        _, i, face, cam = best
        name, view, up = images[i][:3]
        origins, dirs = cam.rays(face.points[:, :2])
        rough = pure_binding.rough_positions(origins, dirs, centre, radius)
        fcentre, fradius = face_sphere(rough)
        yield Progress(0.6, "refining on a close-up")
        img2, cam2 = render_view([obj], fcentre, view, up, fradius, resolution=resolution)
        face2 = yield Offload(_landmarks, (det, img2))
        if face2 is not None:
            face, cam = face2, cam2
        # 3. bind
        yield Progress(0.7, "binding landmarks to the surface")
        bound, mirrored = yield Offload(pure_binding.bind_landmarks,
                                        (cam, face.points, arrays.verts, arrays.tris, symmetric))
    finally:
        det.close()
    bound.confidence = conf = bound.confidence * face.score
    yield Progress(0.98, "storing landmarks")
    write_binding(obj, bound, source="DETECTED", score=face.score, view_axis=name, symmetric=mirrored)
    yield Progress(1.0, "done")
    notes = []
    if failed:
        notes.append(f"MediaPipe could not fit the landmarks looking {', '.join(failed)}; used the view looking {name}")
    return {"object": obj.name, "landmarks": len(bound.verts), "score": face.score, "view": name,
            "views_failed": failed, "notes": notes, "frontal": bool(best[0] < FRONTAL_TURN),
            "on_surface": int((conf > 0).sum()), "fallback": int((conf < 0.75 * face.score).sum()),
            "symmetric": mirrored}


def detect_landmarks(obj, **kwargs):
    """Synchronous wrapper (scripts, command line)."""
    return run_sync(detect_landmarks_job(obj, **kwargs))


def clear_landmarks(obj) -> None:
    """Remove ``obj``'s landmarks (every field of its landmark state back to the default) and any
    landmark empties being edited."""
    from .scene import reset_settings

    _remove_edit_collection(obj)
    reset_settings(obj.faceforge.landmarks)


def edited_mesh(obj):
    """The mesh whose landmarks ``obj`` shows: the mesh itself, or the owner of a landmark-editing
    empty; None for anything else."""
    if obj is not None and obj.type == "EMPTY":
        return obj.faceforge.landmarks.edit_owner
    return obj if obj is not None and obj.type == "MESH" else None


# --- editing and the manual path -------------------------------------------

EDIT_COLLECTION = "FaceForge Landmarks"
_EDIT_PREFIX = "FF_LM_"
_KEY_PREFIX = "FF_KEY_"


def _edit_collection(obj, create=True):
    """The collection holding ``obj``'s landmark empties (found by their owner, so a renamed mesh
    keeps them); a new one when ``create``."""
    import bpy

    for coll in bpy.data.collections:
        if coll.name.startswith(EDIT_COLLECTION) and coll.objects and \
                coll.objects[0].faceforge.landmarks.edit_owner == obj:
            return coll
    if not create:
        return None
    coll = bpy.data.collections.new(f"{EDIT_COLLECTION} ({obj.name})")
    bpy.context.scene.collection.children.link(coll)
    return coll


def _make_empties(obj, names, positions, size, shape="SPHERE"):
    import bpy

    coll = _edit_collection(obj)
    for name, p in zip(names, positions):
        e = bpy.data.objects.new(name, None)
        e.empty_display_type, e.empty_display_size = shape, size
        e.location = p
        e.faceforge.landmarks.edit_owner = obj
        coll.objects.link(e)
    return coll


def _remove_edit_collection(obj):
    import bpy

    coll = _edit_collection(obj, create=False)
    if coll is not None:
        for o in list(coll.objects):
            bpy.data.objects.remove(o)
        bpy.data.collections.remove(coll)


def _face_size(pos):
    from ..inference.face_mesh import EYE_INNER_LEFT, EYE_INNER_RIGHT, EYE_OUTER_LEFT, EYE_OUTER_RIGHT

    return float(np.linalg.norm((pos[EYE_OUTER_LEFT] + pos[EYE_INNER_LEFT]) / 2 -
                                (pos[EYE_OUTER_RIGHT] + pos[EYE_INNER_RIGHT]) / 2))


def begin_edit(obj) -> int:
    """Show the landmarks as small empties the user can move (world space)."""
    from .binding import landmark_positions

    pos = landmark_positions(obj, world=True)
    _remove_edit_collection(obj)
    _make_empties(obj, [f"{_EDIT_PREFIX}{i:03d}" for i in range(len(pos))], pos, _face_size(pos) * 0.02)
    return len(pos)


def _rebind(obj, world_points, confidence):
    """Bind world points to the nearest skin of ``obj``."""
    arrays = mesh_api.mesh_arrays(obj, world=True)
    return pure_binding.bind_to_skin(world_points, arrays.verts, arrays.tris, confidence)


def apply_edit(obj, mirror: bool = True) -> int:
    """Rebind the landmarks to where the user moved the empties (snapped to the
    surface); with ``mirror`` each moved point's left/right twin moves mirrored.
    Returns how many landmarks the user moved."""
    import bpy

    from ..rigging.landmark_edit import mirror_edits
    from .binding import landmark_positions, read_binding

    coll = _edit_collection(obj, create=False)
    if coll is None:
        raise FaceForgeError("Nothing to apply: start with Edit Landmarks")
    old = landmark_positions(obj, world=True)
    new = old.copy()
    for o in coll.objects:
        if o.name.startswith(_EDIT_PREFIX):
            new[int(o.name[len(_EDIT_PREFIX):len(_EDIT_PREFIX) + 3])] = np.array(o.matrix_world.translation)
    moved = int((np.linalg.norm(new - old, axis=1) > 1e-7).sum())
    if mirror:
        new = mirror_edits(old, new, tol=1e-7)
    conf = read_binding(obj).confidence
    b = _rebind(obj, new, conf)
    keep = np.linalg.norm(new - old, axis=1) <= 1e-7  # untouched points keep their exact binding
    old_b = read_binding(obj)
    b.verts[keep], b.bary[keep] = old_b.verts[keep], old_b.bary[keep]
    lm = obj.faceforge.landmarks
    write_binding(obj, b, source=lm.source if lm.source != "NONE" else "MANUAL", score=lm.score,
                  view_axis=lm.view_axis, symmetric=lm.symmetric and (mirror or moved == 0))
    _remove_edit_collection(obj)
    bpy.context.view_layer.objects.active = obj
    return moved


def cancel_edit(obj) -> None:
    """Drop the edit empties; the landmarks stay as they were."""
    _remove_edit_collection(obj)


def place_key_points(obj) -> list[str]:
    """Create one named empty per key point, roughly placed on the mesh's front.

    The user snaps them onto the face (eye corners, mouth corners, nose tip,
    chin) and runs :func:`fit_manual`.
    """
    from ..rigging.landmark_edit import KEY_POINTS, template

    arrays = mesh_api.mesh_arrays(obj, world=True)
    centre, radius = bounding_sphere(arrays.verts)
    tpl = template()[0]
    ids = list(KEY_POINTS.values())
    scale = radius * 0.8 / np.ptp(tpl[:, 2])
    pos = centre + (tpl[ids] - tpl[ids].mean(0)) * scale - np.array([0, radius, 0])
    _remove_edit_collection(obj)
    _make_empties(obj, [f"{_KEY_PREFIX}{n}" for n in KEY_POINTS], pos, radius * 0.03, shape="PLAIN_AXES")
    return list(KEY_POINTS)


def fit_manual(obj) -> dict:
    """Fit all 478 landmarks to the placed key points and bind them (source MANUAL)."""
    import bpy

    from ..rigging.landmark_edit import fit_template

    coll = _edit_collection(obj, create=False)
    keys = {}
    if coll is not None:
        bpy.context.view_layer.update()  # matrix_world of empties placed or moved by a script
        for o in coll.objects:
            if o.name.startswith(_KEY_PREFIX):
                keys[o.name[len(_KEY_PREFIX):]] = np.array(o.matrix_world.translation)
    fitted = fit_template(keys)
    b = _rebind(obj, fitted, np.full(len(fitted), 0.3))
    write_binding(obj, b, source="MANUAL", score=0.0, view_axis="")
    _remove_edit_collection(obj)
    bpy.context.view_layer.objects.active = obj
    return {"object": obj.name, "key_points": len(keys), "landmarks": len(fitted)}
