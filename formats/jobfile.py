"""Batch job files (TOML or JSON) and take discovery (pure).

A job file says which character to animate with which takes, and what to
write::

    # job.toml - paths are relative to this file
    character = "head.blend"
    object = "Face"            # optional: the mesh with the ARKit shape keys
    out = "out"
    jobs = 2                   # worker processes
    formats = ["fbx", "glb"]
    preset = "unreal"          # default | unreal | unity | godot
    preview = true
    preview_size = 256
    takes = "takes/"           # a folder, or a list:
    # [[takes]]
    # path = "takes/interview.mp4"
    # name = "interview"       # optional (default: the file name)
    # kind = "video"           # optional (default: from the extension)

The same settings come from command-line arguments (which win).  A take's
*kind* picks the stage that animates it (:data:`KIND_BY_EXT`).
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import asdict, dataclass, field

from ..core import params
from ..core.errors import FaceForgeError
from ..core.paths import safe_filename
from .audio import AUDIO_EXTENSIONS
from .video import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

KIND_BY_EXT: dict[str, str] = {
    **{e: "video" for e in VIDEO_EXTENSIONS},
    **{e: "image" for e in IMAGE_EXTENSIONS},
    **{e: "speech" for e in AUDIO_EXTENSIONS},
    ".txt": "text",
    ".csv": "livelink",
}
FORMATS = ("fbx", "glb", "gltf")
PRESETS = ("default", "unreal", "unity", "godot")


KINDS = tuple(sorted(set(KIND_BY_EXT.values())))
# Names a take can't have: the batch's own files in the output folder.
RESERVED_NAMES = frozenset({"batch_report.json"})


@dataclass
class TakeSpec:
    path: str
    name: str  # a safe file name (core.paths.safe_filename), unique in the batch: <out>/<name>/
    kind: str


@dataclass
class BatchPlan:
    character: str
    out: str
    takes: list[TakeSpec]
    object: str = ""
    jobs: int = 1
    formats: list[str] = field(default_factory=lambda: ["fbx", "glb"])
    preset: str = "default"
    preview: bool = True
    preview_size: int = 256
    skipped: list[str] = field(default_factory=list)  # files in a takes folder no stage reads
    limits: dict = field(default_factory=dict)  # core.limits.Limits.to_dict() for the workers

    def to_dict(self) -> dict:
        return asdict(self)


def kind_of(path: str) -> str | None:
    return KIND_BY_EXT.get(os.path.splitext(path)[1].lower())


def load_job_file(path: str) -> dict:
    """A job file's settings as a dict (paths still relative to the file)."""
    if not os.path.isfile(path):
        raise FaceForgeError(f"Job file not found: {path}")
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".toml", ".json"):
        raise FaceForgeError(f"Job files are .toml or .json, not '{ext}'")
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh) if ext == ".toml" else json.load(fh)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise FaceForgeError(f"Can't read the job file {os.path.basename(path)}: {exc}") from None
    except OSError as exc:
        raise FaceForgeError(f"Can't read the job file {path}: {exc.strerror or exc}") from None
    if not isinstance(data, dict):
        raise FaceForgeError(f"The job file {os.path.basename(path)} holds a {type(data).__name__}; it must hold "
                             "settings by name (character, takes, out, ...)")
    return data


def take_name(name) -> str:
    """A take's name as the batch uses it for ``<out>/<name>/<name>.fbx``: a safe file name
    (``"../../x"`` -> ``"_.._x"``: it can never leave the output folder)."""
    return safe_filename(str(name), fallback="take")


def _unique(name: str, taken: set[str]) -> str:
    """``take_name(name)``, made unique among ``taken`` (case-insensitively: file systems that
    ignore case would mix ``Take`` and ``take``)."""
    base = take_name(name)
    out, i = base, 2
    while out.lower() in taken or out.lower() in RESERVED_NAMES:
        out, i = f"{base}_{i}", i + 1
    taken.add(out.lower())
    return out


def discover_takes(entries, base: str = ".") -> tuple[list[TakeSpec], list[str]]:
    """Takes from folders, files or dicts ({path, name?, kind?}); returns (takes, skipped files)."""
    if isinstance(entries, (str, dict)):
        entries = [entries]
    takes, skipped, names = [], [], set()
    if not isinstance(entries, (list, tuple, type(None))):
        raise FaceForgeError(f"'takes' must be a folder, a file or a list of them, not {entries!r}")
    for entry in entries or ():
        if not isinstance(entry, (str, dict, os.PathLike)):
            raise FaceForgeError(f"A take must be a path or a table with a 'path', not {entry!r}")
        spec = dict(entry) if isinstance(entry, dict) else {"path": os.fspath(entry)}
        if not isinstance(spec.get("path"), str) or not spec["path"].strip():
            raise FaceForgeError(f"A take in the job file has no 'path': {entry}")
        unknown = set(spec) - {"path", "name", "kind"}
        if unknown:
            raise FaceForgeError(f"Unknown take setting(s) {', '.join(sorted(map(str, unknown)))} in {entry}: "
                                 "a take has path, name and kind")
        path = os.path.normpath(os.path.join(base, os.path.expanduser(str(spec["path"]))))
        if os.path.isdir(path):
            for fname in sorted(os.listdir(path)):
                full = os.path.join(path, fname)
                if fname.startswith(".") or not os.path.isfile(full):
                    continue
                kind = kind_of(fname)
                if kind is None:
                    skipped.append(full)
                    continue
                stem = os.path.splitext(fname)[0]
                takes.append(TakeSpec(full, _unique(stem, names), kind))
            continue
        if not os.path.exists(path):
            raise FaceForgeError(f"Take not found: {path}")
        kind = spec.get("kind") or kind_of(path)
        if kind is None:
            raise FaceForgeError(f"Don't know how to animate '{os.path.basename(path)}': give it a kind "
                                 f"(one of {', '.join(KINDS)})")
        if kind not in KINDS:
            raise FaceForgeError(f"Unknown take kind '{kind}' for {os.path.basename(path)}: use one of "
                                 f"{', '.join(KINDS)}")
        name = spec.get("name") or os.path.splitext(os.path.basename(path))[0]
        takes.append(TakeSpec(path, _unique(str(name), names), str(kind)))
    return takes, skipped


def make_plan(job: dict | None = None, base: str = ".", **overrides) -> BatchPlan:
    """Merge a job file's settings (paths relative to ``base``) with overrides (None = not given)."""
    if job is not None and not isinstance(job, dict):
        raise FaceForgeError(f"A job must be settings by name (character, takes, out, ...), not a {type(job).__name__}")
    job = dict(job or {})
    over = {k: v for k, v in overrides.items() if v is not None}
    unknown = set(job) - {"character", "object", "out", "jobs", "formats", "preset", "preview",
                          "preview_size", "takes"}
    if unknown:
        raise FaceForgeError(f"Unknown setting(s) in the job file: {', '.join(sorted(unknown))}")

    def path_of(key):
        if key in over:
            return os.path.abspath(str(over[key]))
        if key in job:
            if not isinstance(job[key], str) or not job[key].strip():
                raise FaceForgeError(f"'{key}' in the job file must be a path, not {job[key]!r}")
            return os.path.normpath(os.path.join(base, os.path.expanduser(job[key])))
        return None

    character = path_of("character")
    if not character:
        raise FaceForgeError("No character given: pass --character head.blend (or 'character' in the job file)")
    if not os.path.isfile(character):
        raise FaceForgeError(f"Character file not found: {character}")
    out = path_of("out") or os.path.abspath("out/batch")
    if "takes" in over:
        takes, skipped = discover_takes(over["takes"], ".")
    else:
        takes, skipped = discover_takes(job.get("takes"), base)
    if not takes:
        raise FaceForgeError("No takes to run: pass --takes FOLDER (videos, audio, .txt timelines, "
                             "Live Link Face .csv)")
    formats = over.get("formats", job.get("formats", ["fbx", "glb"]))
    if isinstance(formats, str):
        formats = [f for f in formats.replace(" ", "").split(",") if f]
    if not isinstance(formats, (list, tuple)) or not all(isinstance(f, str) for f in formats) or not formats:
        raise FaceForgeError(f"'formats' must list one or more of {', '.join(FORMATS)}, not {formats!r}")
    formats = list(dict.fromkeys(f.lower() for f in formats))
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise FaceForgeError(f"Unknown export format(s) {', '.join(bad)}: use {', '.join(FORMATS)}")
    preset = str(over.get("preset", job.get("preset", "default"))).lower()
    if preset not in PRESETS:
        raise FaceForgeError(f"Unknown preset '{preset}': use {', '.join(PRESETS)}")
    jobs = params.check("batch.jobs", over.get("jobs", job.get("jobs", 1)), "'jobs'")
    size = params.check("preview.size", over.get("preview_size", job.get("preview_size", 256)), "'preview_size'")
    preview = over.get("preview", job.get("preview", True))
    if not isinstance(preview, bool):
        raise FaceForgeError(f"'preview' must be true or false, not {preview!r}")
    obj = over.get("object", job.get("object", ""))
    if not isinstance(obj, str):
        raise FaceForgeError(f"'object' must be the face mesh's name, not {obj!r}")
    return BatchPlan(character=character, out=out, takes=takes, object=obj, jobs=jobs, formats=formats,
                     preset=preset, preview=preview, preview_size=size, skipped=skipped,
                     limits=dict(over.get("limits") or {}))
