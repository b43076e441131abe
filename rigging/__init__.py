"""Pure rigging math on vertex/triangle arrays (binding, shapes, weights). Never imports bpy."""
