"""Animate from speech: an audio file -> lip-sync keyframes on a character's ARKit shape keys.

``lipsync_job`` is the one public entry point (the operator and the
``faceforge lipsync`` command both call it).  See docs/lipsync.md.

Layering (how speech combines with other takes): lip sync owns the jaw,
mouth and tongue shapes (``animation.visemes.SPEECH_SHAPES``) *during the
clip's frames* and nothing else.  It writes into the character's current
shape-key action, so one action carries every layer (what FBX/glTF export
bakes):

* upper-face curves (brows, eyes, cheeks, nose) of an emotion or a video
  take are never touched;
* keys of the speech channels *outside* the clip's frame range are kept,
  keys inside it are replaced by the speech;
* ``replace=False`` (default) leaves the original action untouched: the
  result goes into a copy named ``<action>+speech`` (the original keeps a
  fake user, so it is not lost on save); ``replace=True`` edits the current
  action in place, as does running lip sync again on a ``+speech`` action.  With no action yet, a new ``<object>_speech`` action.
"""

from __future__ import annotations

import os
import time

import numpy as np

import bpy

from ..animation import lipsync as ls
from ..animation import phonemes as ph
from ..animation import speech_life
from ..animation import visemes as vz
from ..animation.retime import change_basis
from ..core.arkit import INDEX
from ..core import limits, params
from ..core.errors import FaceForgeError
from ..core.jobs import Offload, Progress
from ..formats import audio as au
from . import actions
from .scene import scene_fps

MIN_SPEECH_SHAPES = ("jawOpen",)


def speech_shapes_on(obj) -> list[str]:
    """The speech shapes (jaw/mouth/tongue ARKit names) that ``obj`` has as shape keys."""
    key = obj.data.shape_keys
    have = set(key.key_blocks.keys()) if key is not None else set()
    return [n for n in vz.SPEECH_SHAPES if n in have]


def check_character(obj) -> list[str]:
    """Raise a FaceForgeError unless ``obj`` is a mesh with ARKit mouth shape keys; return them."""
    if obj is None:
        raise FaceForgeError("Select the character's face mesh first (nothing is selected)")
    if obj.type != "MESH":
        raise FaceForgeError(f"'{obj.name}' is a {obj.type.lower()}, not a mesh: select the face mesh")
    names = speech_shapes_on(obj)
    if not all(n in names for n in MIN_SPEECH_SHAPES):
        raise FaceForgeError(f"'{obj.name}' has no ARKit mouth shape keys (jawOpen, mouthClose, ...): "
                             "build them in the Rig stage first, or select the rigged face")
    return names


def read_audio(path: str) -> au.Audio:
    """``formats.audio.load_audio``, falling back to Blender's own decoder (aud, FFmpeg inside
    Blender) for formats libsndfile can't read when no FFmpeg program is installed."""
    try:
        return au.load_audio(path)
    except au.NeedsDecoder:
        import aud

        try:
            sound = aud.Sound(path)
            rate, _channels = sound.specs
            data = sound.data()
        except Exception as exc:
            raise FaceForgeError(f"Could not read audio from {os.path.basename(path)} ({exc}); "
                                 "convert it to WAV or FLAC") from exc
        return au.from_array(data, int(rate), name=os.path.basename(path))


def resolve_transcript(audio_path: str, transcript: str | None, use_sidecar: bool = True):
    """(text or None, where it came from: "given", a file path, or "")."""
    if transcript and transcript.strip():
        t = transcript.strip()
        if os.path.isfile(t) and t.lower().endswith((".txt", ".lab")):
            with open(t, encoding="utf-8", errors="replace") as f:
                return f.read().strip(), t
        return t, "given"
    if use_sidecar:
        stem = os.path.splitext(audio_path)[0]
        text = ph.find_transcript(audio_path)
        if text:
            src = next(stem + e for e in (".txt", ".lab", ".TXT", ".LAB") if os.path.isfile(stem + e))
            return text, src
    return None, ""


def _analyse(path, fps, transcript, method, intensity, tongue, life, report, start_frame=1):
    t0 = time.perf_counter()
    report(0.0, "reading audio")
    audio = read_audio(path)
    limits.check_take(audio.duration, fps, os.path.basename(path), start_frame=start_frame)  # before analysing
    report(0.05, f"{audio.duration:.1f} s of audio")
    result = ls.analyse(audio.samples, fps, transcript, method, intensity, tongue,
                        report=lambda f, m="": report(0.05 + 0.9 * f, m))
    layers = None
    if life:
        report(0.96, "blinks, brows and nods")
        layers = speech_life.speech_life(audio.samples, fps, audio.duration, result.segments or [], life,
                                         intensity=intensity)
    return audio, result, layers, time.perf_counter() - t0


def _splice_channel(bag, name: str, frames: np.ndarray, values: np.ndarray):
    """Replace the keys of one shape-key channel within [frames[0], frames[-1]], keep the rest."""
    splice_curve(bag, f'key_blocks["{name}"].value', 0, frames, values, SPEECH_GROUP)


def splice_curve(bag, path: str, index: int, frames: np.ndarray, values: np.ndarray, group: str):
    """Replace the keys of one F-curve within [frames[0], frames[-1]], keep the keys outside."""
    old = bag.fcurves.find(path, index=index)
    f_all, v_all = frames, values
    if old is not None and len(old.keyframe_points):
        co = np.empty(len(old.keyframe_points) * 2, dtype=np.float32)
        old.keyframe_points.foreach_get("co", co)
        of, ov = co[0::2], co[1::2]
        keep = (of < frames[0] - 0.5) | (of > frames[-1] + 0.5)
        f_all = np.concatenate([of[keep], frames])
        v_all = np.concatenate([ov[keep], values])
        order = np.argsort(f_all, kind="stable")
        f_all, v_all = f_all[order], v_all[order]
    actions.write_curves(bag, [(path, index)], f_all, v_all[:, None], group=group)


SPEECH_GROUP = "FaceForge Speech"  # F-curve group of everything lip sync writes


def keyed_in(action, path: str, first: float, last: float) -> bool:
    """Whether ``action`` has a key on an F-curve of ``path`` between ``first`` and ``last``
    that another take wrote (lip sync's own curves, group ``SPEECH_GROUP``, do not count)."""
    if action is None:
        return False
    for fc in actions.all_fcurves(action):
        if fc.group is not None and fc.group.name == SPEECH_GROUP:
            continue
        if fc.data_path == path and len(fc.keyframe_points):
            co = np.empty(len(fc.keyframe_points) * 2, dtype=np.float32)
            fc.keyframe_points.foreach_get("co", co)
            if np.any((co[0::2] >= first - 0.5) & (co[0::2] <= last + 0.5)):
                return True
    return False


def _write_life(obj, action, bag, life, frames, have: set[str]) -> dict:
    """The life layers into the take, each only where nothing else animates it already
    (a video take's eyes, brows and head, an emotion's brows win).  Returns what was written."""
    out = {"blinks": 0, "brows": 0, "head": "", "kept": []}
    first, last = float(frames[0]), float(frames[-1])
    for layer, names in (("blinks", speech_life.BLINK_SHAPES), ("brows", speech_life.BROW_SHAPES)):
        if layer not in life.layers:
            continue
        for n in names:
            if n not in have:
                continue
            if keyed_in(action, f'key_blocks["{n}"].value', first, last):
                out["kept"].append(n)
                continue
            splice_curve(bag, f'key_blocks["{n}"].value', 0, frames, life.weights[:, INDEX[n]], SPEECH_GROUP)
            out[layer] += 1
    if "head" in life.layers:
        from .animate_video import face_axes, head_channels

        axes, _from_landmarks = face_axes(obj)
        rots = change_basis(speech_life.head_matrices(life.head), axes)
        hc = head_channels(obj, rots)
        anim = hc.owner.animation_data
        own = anim.action if anim is not None else None
        if any(keyed_in(own, p, first, last) for p, _i in hc.channels[:1]):
            out["kept"].append(hc.label)
        else:
            if own is not None:
                hbag = actions.channels_for(own, hc.owner)
            elif actions.SLOTTED:  # the speech action animates the head too, through its own slot
                hbag = actions.channels_for(action, hc.owner)
            else:
                hbag = actions.channels_for(bpy.data.actions.new(f"{action.name}_head"), hc.owner)
            for c, (path, index) in enumerate(hc.channels):
                splice_curve(hbag, path, index, frames, hc.values[:, c], SPEECH_GROUP)
            out["head"] = hc.label
    return out


def target_action(obj, replace: bool):
    """The action speech is written into (see the module docstring); (action, created_from)."""
    key = obj.data.shape_keys
    anim = key.animation_data
    current = anim.action if anim is not None else None
    if current is None:
        return bpy.data.actions.new(f"{obj.name}_speech"), None
    if replace or current.name.endswith("+speech"):  # in place (a previous speech take is ours)
        return current, current
    current.use_fake_user = True  # the untouched original survives a save even when unassigned
    copy = current.copy()
    copy.name = f"{current.name}+speech"
    copy.use_fake_user = False
    return copy, current


def add_sound_strip(scene, path: str, start_frame: int):
    """Add ``path`` as a sound strip at ``start_frame`` (reusing an identical one); returns its name."""
    seq = scene.sequence_editor or scene.sequence_editor_create()
    strips = seq.strips if hasattr(seq, "strips") else seq.sequences
    apath = os.path.abspath(path)
    for s in strips:
        if s.type == "SOUND" and s.sound and os.path.abspath(bpy.path.abspath(s.sound.filepath)) == apath \
                and int(s.frame_start) == int(start_frame):
            return s.name
    used = {s.channel for s in strips}
    channel = next(c for c in range(1, 129) if c not in used)
    strip = strips.new_sound(name=os.path.basename(path), filepath=apath, channel=channel,
                             frame_start=int(start_frame))
    scene.sync_mode = "AUDIO_SYNC"  # play back in step with the sound
    return strip.name


def lipsync_job(obj, audio_path: str, transcript: str | None = None, method: str = "auto",
                intensity: float = 1.0, start_frame: int = 1, replace: bool = False,
                use_sidecar_transcript: bool = True, add_sound: bool = True, scene=None,
                life=speech_life.LAYERS):
    """Lip sync ``obj`` (ARKit shape keys) to the speech in ``audio_path``.

    transcript: the words said (text, or a .txt/.lab path); None/empty =
    the ``.txt``/``.lab`` next to the audio when ``use_sidecar_transcript``,
    else phone recognition.  method: ``auto`` | ``phonemes`` | ``energy``.
    life: the life layers to add while speaking (``speech_life.LAYERS``: blinks, brows,
    head; empty = mouth only); each is written only where the take has no keys of its own.
    Returns a dict: method used and why, frames, action, sound strip, timing, life layers.
    """
    scene = scene or bpy.context.scene
    names = check_character(obj)
    if not audio_path:
        raise FaceForgeError("Choose an audio file (wav, flac, mp3, ogg, m4a, or a video with sound)")
    audio_path = os.path.abspath(bpy.path.abspath(audio_path))
    if not os.path.isfile(audio_path):
        raise FaceForgeError(f"Audio file not found: {audio_path}")
    intensity = params.check("lipsync.intensity", intensity)
    start_frame = params.check("start_frame", start_frame)
    text, text_source = resolve_transcript(audio_path, transcript, use_sidecar_transcript)
    fps = params.check("fps", scene_fps(scene), "The scene's frame rate")
    tongue = "tongueOut" in names
    yield Progress(0.0, "analysing speech")
    life = tuple(life or ())
    unknown = set(life) - set(speech_life.LAYERS)
    if unknown:
        raise FaceForgeError(f"Unknown life layers {sorted(unknown)}; use {', '.join(speech_life.LAYERS)}")
    audio, result, layers, seconds = yield Offload(
        _analyse, (audio_path, fps, text, method, intensity, tongue, life), {"start_frame": start_frame},
        report=True, span=(0.0, 0.9))
    yield Progress(0.92, "baking keyframes")
    w = result.track.weights
    frames = start_frame + np.arange(len(w), dtype=np.float32)
    values = w[:, [INDEX[n] for n in names]]
    # -- apply to Blender data (all at the end: a cancel above changed nothing) --
    key = obj.data.shape_keys
    action, original = target_action(obj, replace)
    bag = actions.channels_for(action, key, slot_name=key.name)
    for k, name in enumerate(names):
        _splice_channel(bag, name, frames, values[:, k])
    lived = _write_life(obj, action, bag, layers, frames, set(key.key_blocks.keys())) if layers else None
    strip = None
    if add_sound:
        try:
            strip = add_sound_strip(scene, audio_path, start_frame)
        except RuntimeError as exc:  # Blender couldn't open the sound: keys are still good
            strip = None
            print(f"[faceforge] could not add a sound strip: {exc}")
    end_frame = int(frames[-1])
    if scene.frame_end < end_frame:
        scene.frame_end = end_frame
    yield Progress(1.0, "done")
    return {
        "object": obj.name,
        "method": result.method,
        "method_label": result.method_label,
        "reason": result.reason,
        "transcript_source": text_source,
        "oov": list(result.oov or []),
        "phones": len([p for p in (result.phones or []) if p.phone != "SIL"]),
        "frames": (int(start_frame), end_frame),
        "fps": fps,
        "channels": len(names),
        "action": action.name,
        "original_action": original.name if original is not None else None,
        "sound_strip": strip,
        "duration_s": audio.duration,
        "analysis_s": seconds,
        "realtime": audio.duration / max(seconds, 1e-9),
        "life": lived,
    }


def summary(result: dict) -> str:
    """One line for the operator / command line."""
    s = (f"Lip sync on '{result['object']}': {result['duration_s']:.1f} s, frames "
         f"{result['frames'][0]}-{result['frames'][1]}, by {result['method_label']} "
         f"({result['reason']}); action '{result['action']}'")
    lived = result.get("life")
    if lived:
        parts = [n for n in ("blinks", "brows") if lived[n]] + ([f"head ({lived['head']})"] if lived["head"] else [])
        if parts:
            s += f"; life: {', '.join(parts)}"
        if lived["kept"]:
            s += f"; kept the take's own {', '.join(lived['kept'])}"
    if result["oov"]:
        s += f"; letter-to-sound for: {', '.join(result['oov'][:8])}"
    return s
