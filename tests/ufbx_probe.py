"""Read an FBX file with ufbx (the loader Godot uses) and print what an engine would see, as JSON.

Run in its own process (``python tests/ufbx_probe.py spec.json``): ufbx's Python objects must
outlive what refers to them, so this script keeps every one alive and leaves with ``os._exit``.

spec: {"fbx": path, "times": [seconds...], "vertices": [control-point indices], "bones": [names]}
out:  {"fps", "unit_meters", "stacks": [[name, begin, end]], "channels": [blend channel names],
       "skins": N, "height_m": rest height (metres), "weights": {t: {name: w}},
       "rotations": {t: {bone: [qx, qy, qz, qw]}}, "positions": {t: [[x, y, z] metres]},
       "rest": [[x, y, z] metres]}
"""

import json
import os
import sys

import numpy as np
import ufbx

KEEP = []


def _positions(scene, idx):
    mesh = scene.meshes[0]
    KEEP.append(mesh)
    vp = mesh.skinned_position
    KEEP.append(vp)
    values = vp.values
    KEEP.append(values)
    return np.array([[values[i].x, values[i].y, values[i].z] for i in idx])


def main():
    spec = json.load(open(sys.argv[1]))
    scene = ufbx.load_file(spec["fbx"], evaluate_skinning=True)
    KEEP.append(scene)
    unit = scene.settings.unit_meters
    stack_objs = list(scene.anim_stacks)
    KEEP.extend(stack_objs)
    stacks = [[st.name, st.time_begin, st.time_end] for st in stack_objs]
    mesh = scene.meshes[0]
    KEEP.append(mesh)
    channels = [c for bd in mesh.blend_deformers for c in bd.channels]
    KEEP.extend(channels)
    idx = list(spec.get("vertices", []))
    allv = _positions(scene, range(mesh.num_vertices))
    out = dict(fps=scene.settings.frames_per_second, unit_meters=unit, stacks=stacks,
               channels=[c.name for c in channels], skins=len(mesh.skin_deformers),
               height_m=float(np.ptp(allv[:, 1]) * unit), rest=(allv[idx] * unit).tolist(),
               weights={}, rotations={}, positions={})
    if stack_objs:
        anim = stack_objs[0].anim
        KEEP.append(anim)
        node_objs = list(scene.nodes)
        KEEP.extend(node_objs)
        nodes = {n.name: n for n in node_objs}
        KEEP.extend(nodes.values())
        for t in spec.get("times", []):
            out["weights"][str(t)] = {c.name: ufbx.evaluate_blend_weight(anim, c, t) for c in channels}
            rots = {}
            for b in spec.get("bones", []):
                q = ufbx.evaluate_transform(anim, nodes[b], t).rotation
                rots[b] = [q.x, q.y, q.z, q.w]
            out["rotations"][str(t)] = rots
            evaluated = ufbx.evaluate_scene(scene, anim, t, evaluate_skinning=True)
            KEEP.append(evaluated)
            out["positions"][str(t)] = (_positions(evaluated, idx) * unit).tolist()
    sys.stdout.write(json.dumps(out))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
