"""Reading speech recordings: any common file -> 16 kHz mono float32.

``load_audio(path)`` tries, in order:

1. **soundfile** (libsndfile 1.2: wav, flac, ogg/vorbis/opus, mp3, aiff, ...);
2. **FFmpeg** as a subprocess (``ffmpeg`` on PATH, or ``$FACEFORGE_FFMPEG``)
   for what libsndfile can't read: m4a/aac, video files with an audio track
   (mp4, mov, mpg, mkv...).

Whatever the rate and channel count, the signal is mixed down to mono and
resampled with :func:`scipy.signal.resample_poly` (polyphase, anti-aliased)
to :data:`RATE` (16 kHz, what the speech models expect).

Every failure is a :class:`~core.errors.FaceForgeError` with a sentence the
user can act on: a missing, empty, corrupt or silent file, or a format that
needs FFmpeg when it is not installed (the Blender layer then falls back to
Blender's own audio library, see ``api/lipsync.py``).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..core import limits
from ..core.errors import FaceForgeError

RATE = 16000
# What FaceForge takes as a speech recording (a batch take, a file beside a preview).
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aac", ".opus")
# Files soundfile reads directly (libsndfile >= 1.1 has mp3).
SOUNDFILE_EXTS = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au", ".w64", ".caf"}
MIN_SECONDS = 0.05
SILENCE_DBFS = -60.0


class NeedsDecoder(FaceForgeError):
    """The file is in a format only FFmpeg (or Blender's audio library) can read."""


@dataclass
class Audio:
    samples: np.ndarray  # (N,) float32 in [-1, 1], mono
    rate: int  # samples per second (RATE after load_audio)
    source_rate: int  # the file's own rate
    source_channels: int
    path: str = ""

    @property
    def duration(self) -> float:
        return len(self.samples) / float(self.rate)


def to_mono_16k(samples: np.ndarray, rate: int, target: int = RATE) -> np.ndarray:
    """(N,) or (N, C) samples at ``rate`` -> (M,) float32 mono at ``target``."""
    x = np.asarray(samples)
    if x.dtype.kind in "iu":
        x = x.astype(np.float32) / float(np.iinfo(x.dtype).max)
    x = x.astype(np.float32, copy=False)
    if x.ndim == 2:
        x = x.mean(axis=1)
    elif x.ndim != 1:
        raise ValueError(f"samples must be (N,) or (N, C), got {x.shape}")
    rate = int(round(rate))
    if rate != target and len(x):
        from scipy.signal import resample_poly

        ratio = Fraction(target, rate).limit_denominator(1000)
        x = resample_poly(x, ratio.numerator, ratio.denominator).astype(np.float32)
    return np.clip(x, -1.0, 1.0)


def ffmpeg_path() -> str | None:
    env = os.environ.get("FACEFORGE_FFMPEG")
    if env and os.path.isfile(env):
        return env
    return shutil.which("ffmpeg")


def _read_soundfile(path: str):
    import soundfile as sf

    with sf.SoundFile(path) as f:  # not even a recognisable header: the caller tries FFmpeg
        declared, rate = f.frames, f.samplerate
        if rate > 0:  # the header's length, before decoding a sample
            limits.check_seconds(declared / rate, os.path.basename(path))
        try:
            data = f.read(dtype="float32", always_2d=True)
        except Exception as exc:  # the header is fine, the data is not
            raise FaceForgeError(f"{os.path.basename(path)} is corrupt or truncated ({exc}); "
                                 "re-export it as WAV or FLAC") from exc
    if declared > 0 and len(data) < 0.98 * declared:
        raise FaceForgeError(f"{os.path.basename(path)} is corrupt or truncated: it declares "
                             f"{declared / rate:.2f} s but only {len(data) / rate:.2f} s could be decoded; "
                             "re-export it as WAV or FLAC")
    return data, int(rate)


def _read_ffmpeg(path: str):
    exe = ffmpeg_path()
    if exe is None:
        raise NeedsDecoder(f"{os.path.basename(path)}: this format needs FFmpeg, which was not found; "
                           "install FFmpeg (or set FACEFORGE_FFMPEG) or convert the file to WAV/FLAC")
    most = limits.current().seconds
    cmd = [exe, "-v", "error", "-nostdin", "-i", path, "-vn", "-ac", "1", "-ar", str(RATE),
           "-t", f"{most + 1:.3f}", "-f", "f32le", "-"]  # never decode more than the take limit
    proc = subprocess.run(cmd, capture_output=True, timeout=600)
    if proc.returncode != 0 or not proc.stdout:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        why = msg[-1] if msg else "no audio stream"
        raise FaceForgeError(f"Could not read audio from {os.path.basename(path)} ({why}); "
                             "is it a sound or video file with an audio track?")
    data = np.frombuffer(proc.stdout, dtype=np.float32).reshape(-1, 1)
    if len(data) > most * RATE:
        limits.check_seconds(len(data) / RATE, os.path.basename(path), at_least=True)
    return data, RATE


def check_signal(x: np.ndarray, rate: int, name: str) -> None:
    """Raise a FaceForgeError for clips too short or silent to animate from."""
    if len(x) < MIN_SECONDS * rate:
        raise FaceForgeError(f"{name} is too short ({len(x) / rate * 1000:.0f} ms); "
                             f"lip sync needs at least {MIN_SECONDS * 1000:.0f} ms of audio")
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak <= 10 ** (SILENCE_DBFS / 20):
        raise FaceForgeError(f"{name} is silent (peak {20 * math.log10(max(peak, 1e-12)):.0f} dBFS); "
                             "check that it is the right file and that the recording has sound")


def load_audio(path: str, check: bool = True) -> Audio:
    """Read ``path`` and return 16 kHz mono float32 :class:`Audio`.

    Raises FaceForgeError for a missing/empty/corrupt file, a clip shorter
    than 50 ms or a silent one (``check=False`` skips the last two).
    """
    path = os.path.abspath(os.path.expanduser(path))
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise FaceForgeError(f"Audio file not found: {path}")
    if os.path.getsize(path) == 0:
        raise FaceForgeError(f"{name} is empty (0 bytes)")
    ext = os.path.splitext(path)[1].lower()
    data = rate = None
    sf_error = None
    if ext in SOUNDFILE_EXTS:
        try:
            data, rate = _read_soundfile(path)
        except FaceForgeError:
            raise
        except Exception as exc:  # soundfile.LibsndfileError, RuntimeError, ...
            sf_error = exc
    if data is None:
        try:
            data, rate = _read_ffmpeg(path)
        except NeedsDecoder:
            if sf_error is not None:
                raise FaceForgeError(f"{name} could not be read ({sf_error}); the file may be corrupt "
                                     "or truncated - re-export it as WAV or FLAC") from sf_error
            raise
        except FaceForgeError as exc:
            if sf_error is not None:
                raise FaceForgeError(f"{name} could not be read: it may be corrupt or truncated "
                                     "(neither libsndfile nor FFmpeg could decode it); "
                                     "re-export it as WAV or FLAC") from exc
            raise
    channels = data.shape[1] if data.ndim == 2 else 1
    x = to_mono_16k(data, rate)
    if check:
        check_signal(x, RATE, name)
    return Audio(samples=x, rate=RATE, source_rate=int(rate), source_channels=int(channels), path=path)


def from_array(samples: np.ndarray, rate: int, name: str = "audio", check: bool = True) -> Audio:
    """Wrap samples already in memory (e.g. decoded by Blender's ``aud``)."""
    samples = np.asarray(samples)
    channels = samples.shape[1] if samples.ndim == 2 else 1
    x = to_mono_16k(samples, rate)
    if check:
        check_signal(x, RATE, name)
    return Audio(samples=x, rate=RATE, source_rate=int(rate), source_channels=int(channels), path=name)


def to_int16(x: np.ndarray) -> np.ndarray:
    """float32 [-1, 1] -> int16 PCM (what PocketSphinx reads)."""
    return (np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)
