"""Pure inference: face detection and landmarks on images, models. Never imports bpy."""
