"""The thin bpy adapter layer and FaceForge's public Python API.

Functions here move data between Blender and the pure packages (numpy arrays
in, numpy arrays out) and expose each stage as one public function - the one
its operator calls and the command line calls.  Long ones are job generators
(see ``core/jobs.py``); call them through ``run_sync`` from scripts.
"""
