"""Pure core: ARKit names, errors and small shared types. Never imports bpy."""
