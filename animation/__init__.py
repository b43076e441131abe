"""Pure animation: solving, filtering, lip sync, expressions, timelines. Never imports bpy."""
