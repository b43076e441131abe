"""Reading speech: every common format, rate and channel count -> 16 kHz mono; clear errors."""

import shutil
import subprocess

import numpy as np
import pytest

from faceforge.core.errors import FaceForgeError
from faceforge.formats import audio as au


def test_resampling_keeps_pitch_and_mixes_channels():
    sr = 44100
    t = np.arange(sr) / sr
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 440 * t)], 1) * 0.5
    x = au.to_mono_16k(stereo, sr)
    assert x.dtype == np.float32 and abs(len(x) - 16000) <= 1
    spec = np.abs(np.fft.rfft(x))
    assert abs(np.argmax(spec) * 16000 / len(x) - 440) < 2
    assert abs(np.abs(x).max() - 0.5) < 0.02
    ints = au.to_mono_16k((stereo * 32767).astype(np.int16), sr)
    np.testing.assert_allclose(ints, x, atol=2e-3)


@pytest.mark.parametrize("rel,rate,channels", [
    ("audio/mfa/common_voice_en_22058264.mp3", 48000, 1),  # Common Voice: 48 kHz mp3
    ("audio/jfk/jfk.flac", 44100, 2),  # 44.1 kHz stereo flac
    ("audio/mfa/acoustic_corpus.wav", 16000, 1),
    ("video/grid/bbaf2n.mpg", None, None),  # audio track of an MPEG-1 video (FFmpeg)
])
def test_real_files_load_as_16k_mono(data, rel, rate, channels):
    a = au.load_audio(str(data / rel))
    assert a.rate == 16000 and a.samples.ndim == 1 and a.samples.dtype == np.float32
    assert a.duration > 0.5 and np.abs(a.samples).max() > 0.05
    if rate:
        assert a.source_rate == rate and a.source_channels == channels


def test_48k_stereo_mp3_and_m4a(data, tmp_path):
    """A 48 kHz stereo mp3 (written by libsndfile) and an AAC .m4a (FFmpeg) read like the original."""
    import soundfile as sf

    ref = au.load_audio(str(data / "audio" / "mfa" / "mfa_thoughts.flac"))
    up = au.to_mono_16k(ref.samples, 16000, target=48000)
    stereo = np.stack([up, 0.5 * up], 1)
    mp3 = tmp_path / "speech.mp3"
    sf.write(mp3, stereo, 48000, format="MP3")
    a = au.load_audio(str(mp3))
    assert (a.source_rate, a.source_channels) == (48000, 2)
    assert abs(a.duration - ref.duration) < 0.1
    n = min(len(a.samples), len(ref.samples))
    env = lambda v: np.convolve(np.abs(v[:n]), np.ones(400) / 400, "same")  # noqa: E731
    assert np.corrcoef(env(a.samples), env(ref.samples))[0, 1] > 0.9
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed: m4a needs it (scripts/setup_env.sh installs it)")
    m4a = tmp_path / "speech.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(mp3), "-c:a", "aac", str(m4a)], check=True)
    b = au.load_audio(str(m4a))
    assert abs(b.duration - ref.duration) < 0.15


def test_bad_files_raise_actionable_errors(data, tmp_path, monkeypatch):
    import soundfile as sf

    with pytest.raises(FaceForgeError, match="not found"):
        au.load_audio(str(tmp_path / "nope.wav"))
    (tmp_path / "empty.flac").write_bytes(b"")
    with pytest.raises(FaceForgeError, match="empty"):
        au.load_audio(str(tmp_path / "empty.flac"))
    (tmp_path / "noise.wav").write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(FaceForgeError, match="corrupt|Could not read"):
        au.load_audio(str(tmp_path / "noise.wav"))
    raw = (data / "audio" / "mfa" / "mfa_the.flac").read_bytes()
    (tmp_path / "cut.flac").write_bytes(raw[: len(raw) // 3])
    with pytest.raises(FaceForgeError, match="corrupt or truncated"):
        au.load_audio(str(tmp_path / "cut.flac"))
    sf.write(tmp_path / "quiet.wav", np.full(16000, 1e-5, np.float32), 16000)
    with pytest.raises(FaceForgeError, match="silent"):
        au.load_audio(str(tmp_path / "quiet.wav"))
    sf.write(tmp_path / "blip.wav", np.full(400, 0.3, np.float32), 16000)
    with pytest.raises(FaceForgeError, match="too short"):
        au.load_audio(str(tmp_path / "blip.wav"))
    # no FFmpeg: formats only it can read say so (the Blender layer then uses Blender's decoder)
    monkeypatch.setattr(au, "ffmpeg_path", lambda: None)
    with pytest.raises(au.NeedsDecoder, match="FFmpeg"):
        au.load_audio(str(data / "video" / "grid" / "bbaf2n.mpg"))


def test_blender_decoder_fallback_without_ffmpeg(ff, data, monkeypatch):
    from faceforge.api import lipsync

    monkeypatch.setattr(au, "ffmpeg_path", lambda: None)
    a = lipsync.read_audio(str(data / "video" / "grid" / "bbaf2n.mpg"))
    assert a.rate == 16000 and 2.5 < a.duration < 3.5 and np.abs(a.samples).max() > 0.05


def test_transcript_words_and_letter_to_sound():
    from faceforge.animation import g2p

    assert g2p.transcript_words("Hello, [noise] World! <VOCNOISE> I'm 42.") == \
        ["hello", "world", "i'm", "forty", "two"]
    assert g2p.letters_to_phones("make") == ["M", "EY", "K"]
    assert g2p.letters_to_phones("yknow") == ["Y", "N", "OW"]
    for w in ("faceforge", "blorptastic", "mediapipe", "xyzzy"):
        phones = g2p.letters_to_phones(w)
        assert phones and set(phones) <= set(g2p.ARPABET)
    # bilabial letters give bilabial phones: what lip sync cares about most
    assert "M" in g2p.letters_to_phones("zimbo") and "P" in g2p.letters_to_phones("plopz")
