"""FaceForge's diffusion worker: a separate process with torch + diffusers.

Run by :class:`inference.diffusion_client.DiffusionWorker` with the Python
set in the add-on preferences (never inside Blender)::

    <worker python> diffusion_worker.py --model-dir /path/to/pipeline [--device cpu]

Speaks JSON lines: one request per stdin line, one response per stdout line
(``{"id", "ok", ...}``; see diffusion_client.py).  Loads the pipeline from the
local folder once (``local_files_only``: never downloads) and picks the call
from its class: InstructPix2Pix (image + instruction), inpainting (image +
mask, DiffEdit-style: only the masked face region changes) or plain
image-to-image.  Standalone on purpose: no FaceForge imports, and torch is
imported only in ``main`` so the add-on can import this module without it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback


def _reply(out, **msg) -> None:
    out.write(json.dumps(msg) + "\n")
    out.flush()


# The oldest diffusers this worker supports: ``use_safetensors`` and the pipelines it picks from
# (InstructPix2Pix, inpainting, image-to-image) as used here.
MIN_DIFFUSERS = (0, 21, 0)


def _version_tuple(text: str) -> tuple[int, ...]:
    out = []
    for part in str(text).split(".")[:3]:
        digits = "".join(c for c in part if c.isdigit()) or "0"
        out.append(int(digits))
    return tuple(out + [0] * (3 - len(out)))


def check_diffusers(version: str) -> None:
    """A RuntimeError naming the upgrade when ``version`` is older than :data:`MIN_DIFFUSERS`."""
    if _version_tuple(version) < MIN_DIFFUSERS:
        need = ".".join(map(str, MIN_DIFFUSERS))
        raise RuntimeError(f"diffusers {version} is too old for FaceForge's worker: install diffusers>={need} "
                           "in the worker Python")


class Editor:
    def __init__(self, model_dir: str, device: str = "cpu"):
        import diffusers
        import torch
        from diffusers import DiffusionPipeline

        check_diffusers(diffusers.__version__)
        self.torch = torch
        self.device = device
        # use_safetensors=True: weights load only from .safetensors files, never from pickles
        # (a pickled .bin can run code when it is loaded); local_files_only: never downloads.
        self.pipe = DiffusionPipeline.from_pretrained(model_dir, local_files_only=True, use_safetensors=True,
                                                      safety_checker=None, requires_safety_checker=False)
        self.pipe.to(device)
        self.pipe.set_progress_bar_config(disable=True)
        self.kind = type(self.pipe).__name__

    def edit(self, image_path: str, prompt: str, mask_path: str | None, steps: int, seed: int,
             out_path: str | None) -> str:
        from PIL import Image

        image = Image.open(image_path).convert("RGB")
        size = image.size
        w, h = (max(8, size[0] // 8 * 8), max(8, size[1] // 8 * 8))
        image = image.resize((w, h))
        gen = self.torch.Generator(device="cpu").manual_seed(int(seed))
        common = dict(prompt=prompt, num_inference_steps=int(steps), generator=gen, output_type="pil")
        if "Inpaint" in self.kind:
            if not mask_path:
                raise ValueError("this pipeline inpaints: send mask_path (white = face region to edit)")
            mask = Image.open(mask_path).convert("L").resize((w, h))
            result = self.pipe(image=image, mask_image=mask, height=h, width=w, **common)
        elif "InstructPix2Pix" in self.kind:
            result = self.pipe(image=image, image_guidance_scale=1.5, **common)
        else:
            result = self.pipe(image=image, strength=0.6, **common)
        edited = result.images[0].resize(size)
        if not out_path:
            root, _ext = os.path.splitext(image_path)
            out_path = f"{root}_edited.png"
        edited.save(out_path)
        return out_path


def serve(editor_factory, stdin=sys.stdin, stdout=sys.stdout) -> int:
    """The request loop (separate from main so tests can drive it with any editor)."""
    editor = None
    for line in stdin:
        line = line.strip()
        if not line:
            continue
        rid = None
        try:
            req = json.loads(line)
            rid = req.get("id")
            cmd = req.get("cmd")
            if cmd == "quit":
                _reply(stdout, id=rid, ok=True)
                return 0
            if editor is None:
                editor = editor_factory()
            if cmd == "ping":
                _reply(stdout, id=rid, ok=True, pipeline=getattr(editor, "kind", "?"))
            elif cmd == "edit":
                for key in ("image_path", "prompt"):
                    if not req.get(key):
                        raise ValueError(f"'edit' needs '{key}'")
                path = editor.edit(req["image_path"], req["prompt"], req.get("mask_path"),
                                   int(req.get("steps", 20)), int(req.get("seed", 0)), req.get("out_path"))
                _reply(stdout, id=rid, ok=True, image_path=path)
            else:
                raise ValueError(f"unknown command {cmd!r} (use ping, edit, quit)")
        except Exception as exc:  # every failure is a reply, the worker keeps serving
            traceback.print_exc(file=sys.stderr)
            _reply(stdout, id=rid, ok=False, error=f"{type(exc).__name__}: {exc}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="FaceForge diffusion worker (JSON lines on stdin/stdout)")
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    # Libraries print to stdout; keep it for the protocol only.
    proto = sys.stdout
    sys.stdout = sys.stderr
    return serve(lambda: Editor(args.model_dir, args.device), stdout=proto)


if __name__ == "__main__":
    sys.exit(main())
