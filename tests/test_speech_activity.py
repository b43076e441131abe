"""Speech II (pure layers): voice activity, choosing the method honestly, pauses at rest,
prosody, and the life layers (blinks, brows, nods) while speaking.

References are independent of what is tested: the Montreal Forced Aligner's TextGrids for
pauses, PocketSphinx's alignment to the transcript for JFK's pauses, espeak-ng for speech in
other languages, synthetic tones for pitch.  Figures are printed (``pytest -s``).
"""

import shutil
import subprocess

import numpy as np
import pytest

from faceforge.animation import lipsync as ls
from faceforge.animation import prosody, speech_life
from faceforge.animation import visemes as vz
from faceforge.core.arkit import INDEX
from faceforge.formats.audio import load_audio
from faceforge.formats.textgrid import read_textgrid
from faceforge.inference import vad

from audio_fixtures import sung_vowel


def pause_frames(phones, fps, n, min_pause=0.3, edge=0.1):
    """(n,) bool: frames inside reference silences of at least ``min_pause`` s, ``edge`` s
    away from the speech on either side (the lips' own closing/opening movement)."""
    t = np.arange(n) / fps
    mask = np.zeros(n, dtype=bool)
    for p, s, e in phones:
        if p in ("SIL", "sil", "sp", "") and e - s >= min_pause:
            mask |= (t >= s + edge) & (t <= e - edge)
    return mask


@pytest.fixture(scope="module")
def jfk(data):
    audio = load_audio(str(data / "audio" / "jfk" / "jfk.flac"))
    return audio.samples, (data / "audio" / "jfk" / "jfk.txt").read_text()


def test_voice_activity_model_is_shipped_and_finds_the_phrases(jfk, data):
    assert vad.available(), "models/silero-vad.onnx is missing: run scripts/setup_env.sh"
    samples, _ = jfk
    segs = vad.speech_segments(samples)
    # JFK's line has four phrases ("And so my fellow Americans | ask not | what your country
    # can do for you | ask what you can do for your country")
    assert 4 <= len(segs) <= 6, segs
    # against the MFA reference: speech frames found, pauses left alone
    tg = read_textgrid(str(data / "alignments" / "mfa" / "acoustic_corpus.TextGrid"))
    audio = load_audio(str(data / "audio" / "mfa" / "acoustic_corpus.wav"))
    t = np.arange(0, tg.xmax, 0.01)
    ref = np.zeros(len(t), dtype=bool)
    for iv in tg.tier("phones").intervals:
        if iv.text not in ("", "sil", "sp", "spn"):
            ref |= (t >= iv.start) & (t < iv.end)
    hyp = vad.speech_mask(vad.speech_segments(audio.samples), t)
    recall, precision = (ref & hyp).sum() / ref.sum(), (ref & hyp).sum() / hyp.sum()
    print(f"\nVAD vs MFA reference speech: recall {recall:.3f}, precision {precision:.3f}")
    assert recall > 0.95 and precision > 0.85


def test_pauses_return_to_rest_without_a_transcript(jfk, data):
    """Recognition invents phones in breaths and noise; voice activity keeps the mouth shut there."""
    samples, text = jfk
    for fps in (24, 30):
        aligned = ls.analyse(samples, fps, text, "phonemes")
        n = len(aligned.track.weights)
        pause = pause_frames([(p.phone, p.start, p.end) for p in aligned.phones], fps, n)
        assert pause.sum() > 40
        for transcript in (text, None):
            a = ls.analyse(samples, fps, transcript, "phonemes")
            closed = np.mean(vz.lip_opening(a.track.weights)[pause] <= vz.LIPS_CLOSED)
            print(f"\nJFK {fps} fps, {'with' if transcript else 'without'} transcript: "
                  f"closed in {closed:.1%} of {pause.sum()} pause frames")
            assert closed >= 0.9
    # the same against the MFA reference's own silences
    tg = read_textgrid(str(data / "alignments" / "mfa" / "acoustic_corpus.TextGrid"))
    audio = load_audio(str(data / "audio" / "mfa" / "acoustic_corpus.wav"))
    ref = [(iv.text or "SIL", iv.start, iv.end) for iv in tg.tier("phones").intervals]
    a = ls.analyse(audio.samples, 30, None, "phonemes")
    pause = pause_frames(ref, 30, len(a.track.weights))
    closed = np.mean(vz.lip_opening(a.track.weights)[pause] <= vz.LIPS_CLOSED)
    print(f"MFA acoustic_corpus without transcript: closed in {closed:.1%} of {pause.sum()} pause frames")
    assert closed >= 0.9


def _espeak(tmp_path, voice, text):
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is missing: run scripts/setup_env.sh (it installs it for these tests)")
    path = tmp_path / f"{voice}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True, capture_output=True)
    return load_audio(str(path)).samples


FRENCH = ("Je voudrais réserver une table pour deux personnes ce soir, près de la fenêtre. "
          "Le renard brun rapide saute par-dessus le chien paresseux.")
RUSSIAN = "Быстрая коричневая лиса прыгает через ленивую собаку. Я хотел бы заказать столик на двоих."


def test_method_is_chosen_from_the_audio_and_the_transcript(tmp_path, jfk):
    """English with its transcript is aligned; a transcript in another language is not used
    (phones are recognised: the documented path for other languages), and the result says why;
    a sung voice takes the energy path and says so."""
    samples, text = jfk
    assert ls.analyse(samples, 30, text, "auto").method == "align"
    for voice, words in (("fr", FRENCH), ("ru", RUSSIAN)):
        x = _espeak(tmp_path, voice, words)
        a = ls.analyse(x, 30, words, "auto")
        assert a.method == "recognise" and "does not read as English" in a.reason, (voice, a.reason)
        assert vz.lip_opening(a.track.weights).max() > 0.3  # the mouth still speaks
        b = ls.analyse(x, 30, None, "auto")
        assert b.method == "recognise" and "other than English" in b.reason
    x, _env = sung_vowel(6.0, melody=True)
    a = ls.analyse(x, 30, None, "auto")
    assert a.method == "energy" and ("singing" in a.reason or "no speech" in a.reason), a.reason
    forced = ls.analyse(x, 30, None, "phonemes")  # the override still wins
    assert forced.method == "recognise"


def test_pitch_tracker_and_held_notes(jfk):
    sr = 16000
    t = np.arange(sr) / sr
    for f0 in (90.0, 160.0, 310.0):
        tone = np.sign(np.sin(2 * np.pi * f0 * t)).astype(np.float32) * 0.3  # rich in harmonics
        p = prosody.pitch(tone)
        assert np.nanmedian(np.abs(p.f0 / f0 - 1)) < 0.01 and p.voiced.mean() > 0.9, f0
    sung, _ = sung_vowel(4.0, melody=True)
    assert prosody.sung_fraction(prosody.pitch(sung)) > 0.8
    speech = prosody.sung_fraction(prosody.pitch(jfk[0]))
    print(f"\nheld-note fraction: JFK {speech:.2f}")
    assert speech < 0.3


def test_loud_syllables_open_wider():
    phones = [("SIL", 0, 0.2)] + [(p, 0.2 + 0.15 * k, 0.35 + 0.15 * k) for k, p in enumerate(["AA", "T", "AA"])] + \
             [("SIL", 0.65, 1.0)]
    quiet = ls.phones_to_weights(phones, 30, loudness=np.zeros(31))
    loud = ls.phones_to_weights(phones, 30, loudness=np.ones(31))
    plain = ls.phones_to_weights(phones, 30)
    jaw = INDEX["jawOpen"]
    assert loud.weights[:, jaw].max() > plain.weights[:, jaw].max() > quiet.weights[:, jaw].max()
    # closed lips stay closed whatever the loudness (mouthClose scales with jawOpen)
    bil = ls.phones_to_weights([("SIL", 0, 0.2), ("M", 0.2, 0.3), ("AA", 0.3, 0.5), ("SIL", 0.5, 0.8)], 30,
                               loudness=np.ones(25))
    assert vz.lip_opening(bil.weights)[int(0.25 * 30)] <= vz.LIPS_CLOSED


def test_life_layers_while_speaking(jfk):
    samples, _ = jfk
    duration = len(samples) / 16000
    segs = vad.speech_segments(samples)
    life = speech_life.speech_life(samples, 30, duration, segs)
    again = speech_life.speech_life(samples, 30, duration, segs)
    np.testing.assert_array_equal(life.weights, again.weights)  # seeded from the audio itself
    blink = life.weights[:, INDEX["eyeBlinkLeft"]]
    np.testing.assert_array_equal(blink, life.weights[:, INDEX["eyeBlinkRight"]])
    rate = len(life.blinks) / duration * 60
    print(f"\nJFK 11 s: {len(life.blinks)} blinks ({rate:.0f}/min), {len(life.accents)} pitch accents, "
          f"head pitch range {np.degrees(np.ptp(life.head[:, 0])):.1f} deg")
    assert 10 <= rate <= 35
    assert blink.max() > 0.99 and np.mean(blink > 0.5) < 0.1  # blinks close fully, briefly
    ends = [b for a, b in segs[:-1]]
    assert any(any(0 <= s - e <= 0.3 for e in ends) for s in life.blinks)  # a blink at a phrase end
    assert len(life.accents) >= 3
    brow = life.weights[:, INDEX["browInnerUp"]]
    for tc, strength in life.accents:
        k = int(round(tc * 30))
        assert brow[k] > 0.3 * speech_life.BROW_RAISE * strength
    assert 0.5 < np.degrees(np.abs(life.head).max()) < 5.0
    # outside speech the head rests
    t = np.arange(len(life.head)) / 30
    far = ~vad.speech_mask([(a - 0.35, b + 0.35) for a, b in segs], t)
    assert np.abs(life.head[far]).max() < 1e-6
    # each layer can be turned off
    only_blinks = speech_life.speech_life(samples, 30, duration, segs, layers=("blinks",))
    assert only_blinks.weights[:, INDEX["browInnerUp"]].max() == 0 and np.abs(only_blinks.head).max() == 0
    assert only_blinks.shapes == speech_life.BLINK_SHAPES
    with pytest.raises(ValueError):
        speech_life.speech_life(samples, 30, duration, segs, layers=("dance",))
