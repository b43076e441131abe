"""Speech -> timed phones with PocketSphinx (shipped US-English model).

Two ways, same output (a list of :class:`Phone`, ARPAbet without stress,
silence as ``"SIL"``):

* :func:`align` - **forced alignment** with a transcript (much more
  accurate).  Pass 1 aligns the words (``Decoder.set_align_text``), pass 2
  aligns their phones (``Decoder.set_alignment``).  Words missing from
  CMUdict get a pronunciation from :mod:`animation.g2p`'s letter-to-sound
  rules (listed in ``PhoneResult.oov``), never dropped.
* :func:`recognise` - **phone recognition** without a transcript: the
  all-phone search with PocketSphinx's phone language model
  (``en-us-phone.lm.bin``).

The audio is 16 kHz mono float32 (``formats.audio.load_audio``).  Decoders
are built once per process (~0.3 s each) and reused; a lock makes them safe
to call from the UI's worker thread.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

import numpy as np

from ..core.errors import FaceForgeError
from . import g2p

RATE = 16000
FRAME_RATE = 100  # PocketSphinx frames per second (its default -frate)
_NON_SPEECH = {"SIL", "<sil>", "<s>", "</s>", "NULL"}

_lock = threading.RLock()
LONG_MARGIN = 3.0  # s at the end of a stretch whose words are left to the next stretch
SUB_SECONDS = 5.0  # long recordings: committed words are phone-aligned in groups of about this
CHAIN_BEAM = 1e-40  # word finding in long recordings (skip arcs make a narrow beam safe)
_decoders: dict[str, object] = {}


@dataclass
class Phone:
    phone: str  # ARPAbet (AA..ZH) or "SIL"
    start: float  # seconds
    end: float
    word: str = ""

    @property
    def mid(self) -> float:
        return 0.5 * (self.start + self.end)


@dataclass
class PhoneResult:
    phones: list[Phone]
    method: str  # "align" (forced alignment with transcript) or "recognise" (phone recognition)
    duration: float
    oov: list[str] = field(default_factory=list)  # words pronounced by letter-to-sound rules
    words: list[tuple[str, float, float]] = field(default_factory=list)
    pieces: int = 1  # audio pieces aligned separately (long recordings)
    fallback_pieces: int = 0  # pieces that could not be aligned and were phone-recognised

    def as_tuples(self) -> list[tuple[str, float, float]]:
        return [(p.phone, p.start, p.end) for p in self.phones]


def normalise_phone(name: str) -> str:
    """PocketSphinx / MFA phone label -> ARPAbet without stress, or "SIL" for non-speech."""
    name = name.strip().upper()
    if not name or name in _NON_SPEECH or name.startswith("+") or name in {"SP", "SPN", "<EPS>"}:
        return "SIL"
    name = name.rstrip("012")
    return name if name in g2p.ARPABET else "SIL"


def _model_paths():
    try:
        from pocketsphinx import get_model_path
    except ImportError as exc:  # pragma: no cover - bundled with the extension
        raise FaceForgeError("PocketSphinx is not available; reinstall the FaceForge extension "
                             "(or choose the Energy method, which needs no speech model)") from exc
    root = get_model_path()
    return root, os.path.join(root, "en-us", "en-us-phone.lm.bin")


def _decoder(kind: str):
    """A cached Decoder (US-English model + CMUdict): "align" / "align_fast" / "align_wide"
    (forced alignment with different beam widths), "chain" (long-form word finding) or
    "allphone" (phone recognition with the phone language model)."""
    dec = _decoders.get(kind)
    if dec is not None:
        return dec
    # lm=None: no word language model (alignment uses a grammar, recognition the phone LM); the
    # extension ships pocketsphinx without it (scripts/build_extension.py WHEEL_PRUNE)
    from pocketsphinx import Decoder

    _root, phone_lm = _model_paths()
    if kind == "align":  # wide beams: a forced alignment must reach the end of the transcript
        dec = Decoder(samprate=RATE, lm=None, bestpath=False, loglevel="FATAL", beam=1e-100, wbeam=1e-80,
                      pbeam=1e-100)
    elif kind == "align_fast":  # short groups of known words (long recordings)
        dec = Decoder(samprate=RATE, lm=None, bestpath=False, loglevel="FATAL", beam=1e-60, wbeam=1e-40,
                      pbeam=1e-60)
    elif kind == "chain":  # long-form word finding (skip arcs make narrower beams safe)
        dec = Decoder(samprate=RATE, lm=None, bestpath=False, loglevel="FATAL", beam=CHAIN_BEAM, wbeam=CHAIN_BEAM,
                      pbeam=CHAIN_BEAM)
    elif kind == "align_wide":
        dec = Decoder(samprate=RATE, lm=None, bestpath=False, loglevel="FATAL", beam=1e-250, wbeam=1e-250,
                      pbeam=1e-250)
    else:
        dec = Decoder(samprate=RATE, lm=None, allphone=phone_lm, lw=2.0, beam=1e-20, pbeam=1e-20,
                      bestpath=False, loglevel="FATAL")
    _decoders[kind] = dec
    return dec


def _decode_pass(dec, pcm: bytes) -> None:
    dec.start_utt()
    try:
        dec.process_raw(pcm, full_utt=True)
    finally:
        dec.end_utt()


def _pcm(samples: np.ndarray) -> bytes:
    x = np.asarray(samples, dtype=np.float32)
    return (np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def _merge_silence(phones: list[Phone], duration: float) -> list[Phone]:
    """Sort, clip to [0, duration], merge adjacent silences, fill gaps with silence."""
    out: list[Phone] = []
    t = 0.0
    for p in sorted(phones, key=lambda q: q.start):
        start, end = max(p.start, t), min(p.end, duration)
        if end <= start:
            continue
        if start > t + 1e-6:
            out.append(Phone("SIL", t, start))
        if out and p.phone == "SIL" and out[-1].phone == "SIL":
            out[-1].end = end
        else:
            out.append(Phone(p.phone, start, end, p.word))
        t = end
    if t < duration - 1e-6:
        if out and out[-1].phone == "SIL":
            out[-1].end = duration
        else:
            out.append(Phone("SIL", t, duration))
    # merge silences created by the gap filling
    merged: list[Phone] = []
    for p in out:
        if merged and p.phone == "SIL" and merged[-1].phone == "SIL":
            merged[-1].end = p.end
        else:
            merged.append(p)
    return merged


def prepare_words(dec, words: list[str]) -> list[str]:
    """Add letter-to-sound pronunciations for words missing from the dictionary; return them."""
    oov = []
    for w in dict.fromkeys(words):
        if dec.lookup_word(w) is None:
            phones = g2p.letters_to_phones(w)
            if not phones:
                continue
            dec.add_word(w, " ".join(phones), True)
            oov.append(w)
    return oov


def transcript_language(transcript: str) -> tuple[bool, str]:
    """Whether ``transcript`` reads as English to the aligner, and why not.

    Two tests on the text alone.  Its letters are plain Latin: English prose has almost
    no accented letters (a loan word like "cafe" now and then), French, German or Spanish
    prose has 1-5 %, Chinese, Japanese or Cyrillic text is all other letters.  And, for a
    transcript of at least 5 words, at least ``ENGLISH_KNOWN`` of them are in the English
    pronouncing dictionary.  CMUdict holds many foreign names, so this second test only
    catches texts that are clearly not English; a short or unaccented foreign text can
    pass, and then the aligner decides (a transcript it cannot align is not used)."""
    letters = [c for c in transcript if c.isalpha()]
    if not letters:
        return False, "it has no letters"
    other = 1.0 - sum(c.isascii() for c in letters) / len(letters)
    if other > MAX_ACCENTED:
        return False, f"{other:.0%} of its letters are accented or not Latin"
    words = g2p.transcript_words(transcript)
    if not words:
        return False, "it has no words"
    if len(words) >= 5:
        with _lock:
            dec = _decoder("align")
            known = sum(dec.lookup_word(w) is not None for w in words) / len(words)
        if known < ENGLISH_KNOWN:
            return False, f"only {known:.0%} of its words are English words"
    return True, ""


ENGLISH_KNOWN = 0.6
MAX_ACCENTED = 0.015


def gate_to_speech(phones: list[Phone], segments, min_inside: float = 0.3) -> list[Phone]:
    """Phones outside speech become silence: ``segments`` ``[(start_s, end_s)]`` are where the
    voice-activity model hears speech.  A speech phone less than ``min_inside`` of which lies
    in speech is silence (breath, noise, clicks the recogniser read as phones); one that
    crosses a segment's edge is cut back to it."""
    out: list[Phone] = []
    for p in phones:
        if p.phone == "SIL" or p.end <= p.start:
            out.append(Phone(p.phone, p.start, p.end, p.word))
            continue
        parts = [(max(a, p.start), min(b, p.end)) for a, b in segments if b > p.start and a < p.end]
        inside = sum(b - a for a, b in parts)
        if inside < min_inside * (p.end - p.start):
            out.append(Phone("SIL", p.start, p.end))
            continue
        a, b = parts[0][0], parts[-1][1]
        if a > p.start:
            out.append(Phone("SIL", p.start, a))
        out.append(Phone(p.phone, a, b, p.word))
        if b < p.end:
            out.append(Phone("SIL", b, p.end))
    return _merge_silence(out, max((p.end for p in phones), default=0.0))


def _align_piece(samples: np.ndarray, words: list[str], t0: float, kinds=("align", "align_wide")):
    """Align ``words`` to one piece of audio (caller holds the lock); phones and words offset by t0."""
    pcm = _pcm(samples)
    kind = "align"
    try:
        for kind in kinds:
            dec = _decoder(kind)
            prepare_words(dec, words)
            try:
                dec.set_align_text(" ".join(words))
            except RuntimeError as exc:
                raise FaceForgeError(f"PocketSphinx could not build an alignment for the transcript "
                                     f"({exc})") from exc
            _decode_pass(dec, pcm)
            if dec.hyp() is not None:
                break
        else:
            raise FaceForgeError("The transcript could not be aligned to this audio: check that it "
                                 "matches what is said (English), or use phone recognition / "
                                 "the Energy method")
        return _phone_pass(dec, pcm, t0)
    except BaseException as exc:
        if not isinstance(exc, FaceForgeError):
            _decoders.pop(kind, None)  # never reuse a decoder left mid-utterance
        raise


def _phone_pass(dec, pcm: bytes, t0: float):
    """Second pass after a word-level decode: phones (and words) with times offset by t0."""
    dec.set_alignment()
    _decode_pass(dec, pcm)
    alignment = dec.get_alignment()
    if alignment is None:
        raise FaceForgeError("Phone alignment failed for this audio; try the Energy method")
    phones: list[Phone] = []
    wordlist: list[tuple[str, float, float]] = []
    for w in alignment:
        wname = w.name.split("(")[0]
        ws, wd = t0 + w.start / FRAME_RATE, w.duration / FRAME_RATE
        if wname not in ("<sil>", "<s>", "</s>") and not wname.startswith("["):
            wordlist.append((wname, ws, ws + wd))
        for p in w:
            s = t0 + p.start / FRAME_RATE
            phones.append(Phone(normalise_phone(p.name), s, s + p.duration / FRAME_RATE, wname))
    return phones, wordlist


def _find_words(dec, samples: np.ndarray, window: list[str], stop_prob: float = 0.05):
    """Word-level pass over a stretch of long audio with a chain grammar w1 -> w2 -> ...
    that may end after any word: the aligner itself finds how many of the window's words
    the stretch holds.  Returns [(word, start_s, end_s)] relative to the stretch, or None."""
    n = len(window)
    prepare_words(dec, window)
    transitions = [(i, i + 1, 0.9 - stop_prob, w) for i, w in enumerate(window)]
    # a word of the transcript that isn't said (or mis-heard) may be skipped, at a price,
    # so one mismatch can't stall the chain (fillers absorb extra "uh"s and noises)
    transitions += [(i, i + 2, 0.1, w) for i, w in enumerate(window[1:])]
    transitions += [(i, n, stop_prob) for i in range(n)]
    fsg = dec.create_fsg("faceforge_piece", 0, n, transitions)
    try:
        dec.remove_search("faceforge_piece")
    except (KeyError, RuntimeError):
        pass
    dec.add_fsg("faceforge_piece", fsg)
    dec.activate_search("faceforge_piece")
    _decode_pass(dec, _pcm(samples))
    if dec.hyp() is None:
        return None
    found = []
    for seg in dec.seg():
        w = seg.word.split("(")[0]
        if w.startswith(("<", "[", "+")):
            continue
        found.append((w, seg.start_frame / FRAME_RATE, (seg.end_frame + 1) / FRAME_RATE))
    return found


def trim_to_voice(phones: list[Phone], samples: np.ndarray, min_quiet: float = 0.08,
                  keep: float = 0.03) -> list[Phone]:
    """Give back to silence the quiet ends of phones next to a pause.

    The aligner tends to stretch a phrase's last phone over the following silence (and the
    first over the one before), which keeps the mouth open after the voice has stopped.  A
    speech phone bordering silence whose edge is quiet for >= ``min_quiet`` s is cut back to
    ``keep`` s past its last (or before its first) loud frame.
    """
    voiced = voiced_frames(samples)
    if not len(voiced):
        return phones
    fr = 100.0
    out = [Phone(p.phone, p.start, p.end, p.word) for p in phones]
    for i, p in enumerate(out):
        if p.phone == "SIL":
            continue
        a, b = int(p.start * fr), min(int(np.ceil(p.end * fr)), len(voiced))
        loud = np.flatnonzero(voiced[a:b])
        if i + 1 < len(out) and out[i + 1].phone == "SIL" or i + 1 == len(out):
            last = (a + loud[-1] + 1) / fr if len(loud) else p.start
            if p.end - last >= min_quiet:
                new_end = max(p.start + 0.03, last + keep)
                if i + 1 < len(out):
                    out[i + 1].start = new_end
                p.end = new_end
        if i > 0 and out[i - 1].phone == "SIL":
            first = (a + loud[0]) / fr if len(loud) else p.end
            if first - p.start >= min_quiet:
                new_start = min(p.end - 0.03, first - keep)
                out[i - 1].end = new_start
                p.start = new_start
    if out and out[-1].phone != "SIL" and phones and out[-1].end < phones[-1].end:
        out.append(Phone("SIL", out[-1].end, phones[-1].end))
    return out


def voiced_frames(samples: np.ndarray) -> np.ndarray:
    """(n10ms,) bool: frames louder than the recording's speech threshold."""
    hop = RATE // 100
    n = len(samples) // hop
    e = 10 * np.log10(np.square(np.asarray(samples[: n * hop], np.float32)).reshape(n, hop).mean(1) + 1e-10)
    return e > np.percentile(e, 97) - 25.0 if n else np.zeros(0, bool)


def align(samples: np.ndarray, transcript: str, report=None, chunk_seconds: float = 15.0,
          single_seconds: float = 40.0) -> PhoneResult:
    """Forced alignment of ``transcript`` to 16 kHz mono ``samples``.

    Audio longer than ``single_seconds`` is aligned ``chunk_seconds`` at a time
    (the cost of one alignment grows with the square of its length;
    stretches keep it linear), anchored on words: see :func:`_align_long`.
    A stretch that can't be aligned is phone-recognised instead (counted in
    ``PhoneResult.fallback_pieces``).

    Raises FaceForgeError when the transcript has no words or cannot be
    aligned to the audio (wrong transcript / not English / no speech).
    """
    words = g2p.transcript_words(transcript)
    if not words:
        raise FaceForgeError("The transcript has no words; type what is said, or leave it empty to "
                             "recognise phones without one")
    duration = len(samples) / RATE
    fallback = 0
    with _lock:
        dec = _decoder("align")
        oov = prepare_words(dec, words)
        if len(samples) <= single_seconds * RATE:
            if report:
                report(0.05, "aligning words to the transcript")
            phones, wordlist = _align_piece(samples, words, 0.0)
            n_pieces = 1
        else:
            phones, wordlist, fallback, n_pieces = _align_long(samples, words, chunk_seconds, report)
    if report:
        report(1.0, "aligned")
    phones = trim_to_voice(_merge_silence(phones, duration), samples)
    result = PhoneResult(phones, "align", duration, oov, wordlist)
    result.fallback_pieces = fallback
    result.pieces = n_pieces
    return result


def _align_long(samples: np.ndarray, words: list[str], size_s: float, report=None):
    """Anchored long-form alignment.

    Decode ``size_s`` of audio at a time with the chain grammar (:func:`_find_words`), *commit*
    the words up to the last real pause (quiet in the audio, not just a gap the decoder left)
    that ends before the stretch's last ``margin`` seconds (the tail of a stretch is unreliable:
    a word may straddle its end), phone-align the committed words in short groups cut at pauses,
    and start the next stretch mid-pause, at the next word.  The last stretch aligns all
    remaining words.  A stretch where no word is found (music, noise) is phone-recognised."""
    n = len(samples)
    size = int(size_s * RATE)
    margin = LONG_MARGIN
    voiced = voiced_frames(samples)
    hop = RATE // 100
    rate = len(words) / max(1.0, voiced.sum() / 100.0)  # words per voiced second
    phones: list[Phone] = []
    wordlist: list[tuple[str, float, float]] = []
    pos, nxt, fallback, pieces = 0, 0, 0, 0
    while pos < n and nxt < len(words):
        pieces += 1
        if report:
            report(pos / n, f"aligning {pos / RATE:.0f} s of {n / RATE:.0f} s to the transcript")
        t0 = pos / RATE
        if n - pos <= size * 1.5:  # the last stretch: every remaining word
            try:
                ph_k, w_k = _align_piece(samples[pos:], words[nxt:], t0)
                phones += ph_k
                wordlist += w_k
            except FaceForgeError:
                fallback += 1
                phones += _shifted(recognise(samples[pos:]).phones, t0)
            nxt = len(words)
            pos = n
            break
        end = pos + size
        est = rate * voiced[pos // hop: end // hop].sum() / 100.0
        window = words[nxt: nxt + int(est * 1.4) + 8]
        try:
            found = _find_words(_decoder("chain"), samples[pos:end], window)
        except RuntimeError:
            found = None
        def quiet(a, b, _p=pos):
            seg = voiced[(_p + int(a * RATE)) // hop: (_p + int(b * RATE)) // hop]
            return len(seg) > 0 and seg.mean() < 0.2

        commit, stop = _commit_at_pause(found or [], size / RATE - margin, quiet)
        if not commit:  # nothing recognisable: recognise phones, keep the words for later
            fallback += 1
            stop = end - int(margin * RATE)
            phones += _shifted(recognise(samples[pos:stop]).phones, t0)
            pos = stop
            continue
        stop = pos + int(round(stop * RATE))
        k = _consumed(window, [w for w, _a, _b in commit])
        # phone-align the committed words in short groups cut at real pauses (cheaper: the
        # cost of an alignment grows faster than its length)
        cuts = [0.0]
        for i in range(len(commit) - 1):
            a, b = commit[i][2], commit[i + 1][1]
            if commit[i][2] - cuts[-1] >= SUB_SECONDS and b - a >= 0.1 and quiet(a, b):
                cuts.append(0.5 * (a + b))
        cuts.append((stop - pos) / RATE)
        for a, b in zip(cuts[:-1], cuts[1:]):
            group = [w for w, ws, we in commit if ws >= a - 1e-6 and we <= b + 1e-6]
            sa, sb = pos + int(a * RATE), pos + int(b * RATE)
            if not group:
                continue
            try:
                ph_k, w_k = _align_piece(samples[sa:sb], group, sa / RATE,
                                         kinds=("align_fast", "align", "align_wide"))
            except FaceForgeError:
                fallback += 1
                ph_k, w_k = _shifted(recognise(samples[sa:sb]).phones, sa / RATE), []
            phones += ph_k
            wordlist += w_k
        nxt += k
        pos = stop
    if pos < n:
        phones.append(Phone("SIL", pos / RATE, n / RATE))
    return phones, wordlist, fallback, pieces


def _consumed(window: list[str], said: list[str]) -> int:
    """How many words of ``window`` the chain went through to say ``said`` (it may skip single
    words): match in order, each next said word within two places of the last."""
    j = 0
    for w in said:
        for step in (0, 1):
            if j + step < len(window) and window[j + step] == w:
                j += step + 1
                break
        else:
            j += 1
    return min(j, len(window))


def _commit_at_pause(found, limit: float, quiet=None, min_gap: float = 0.1):
    """The words to commit from a stretch and where to cut it (s): after the last word that ends
    before ``limit`` *and* is followed by a pause (cut mid-pause: word edges next to a pause are
    reliable, edges inside running speech are not); else after the last word before ``limit``.
    ``quiet(a, b)`` checks that a gap is really quiet: the aligner may leave a gap over speech
    it could not fit near the end of a stretch."""
    last = None
    for i in range(len(found) - 1):
        if found[i][2] > limit:
            break
        a, b = found[i][2], found[i + 1][1]
        if b - a >= min_gap and (quiet is None or quiet(a, b)):
            last = i
    if last is not None:
        return found[: last + 1], 0.5 * (found[last][2] + found[last + 1][1])
    early = [w for w in found if w[2] <= limit] or found[:1]
    return early, (early[-1][2] if early else 0.0)


def _shifted(phones: list[Phone], t0: float) -> list[Phone]:
    for p in phones:
        p.start, p.end = p.start + t0, p.end + t0
    return phones


def recognise(samples: np.ndarray, report=None, chunk_seconds: float = 30.0) -> PhoneResult:
    """Phone recognition (no transcript) on 16 kHz mono ``samples``.

    Long audio is decoded in chunks of about ``chunk_seconds`` cut at the
    quietest moment near each boundary (progress, cancel and memory stay
    bounded).
    """
    duration = len(samples) / RATE
    cuts = _chunk_bounds(samples, chunk_seconds)
    phones: list[Phone] = []
    with _lock:
        dec = _decoder("allphone")
        try:
            for k, (a, b) in enumerate(cuts):
                if report:
                    report(k / len(cuts), f"recognising phones {a / RATE:.0f}-{b / RATE:.0f} s")
                _decode_pass(dec, _pcm(samples[a:b]))
                t0 = a / RATE
                for seg in dec.seg():
                    s = t0 + seg.start_frame / FRAME_RATE
                    e = t0 + (seg.end_frame + 1) / FRAME_RATE
                    phones.append(Phone(normalise_phone(seg.word), s, e))
        except BaseException:
            _decoders.pop("allphone", None)
            raise
    if report:
        report(1.0, "recognised")
    return PhoneResult(_merge_silence(phones, duration), "recognise", duration)


def _chunk_bounds(samples: np.ndarray, chunk_seconds: float) -> list[tuple[int, int]]:
    n = len(samples)
    size = int(chunk_seconds * RATE)
    if n <= size * 1.5:
        return [(0, n)]
    hop = RATE // 100
    energy = np.convolve(np.asarray(samples[: n // hop * hop], np.float32).reshape(-1, hop).__pow__(2).mean(1),
                         np.ones(20) / 20, mode="same")
    bounds, a = [], 0
    while n - a > size * 1.5:
        lo, hi = (a + int(size * 0.8)) // hop, min((a + int(size * 1.2)) // hop, len(energy))
        cut = (lo + int(np.argmin(energy[lo:hi]))) * hop
        bounds.append((a, cut))
        a = cut
    bounds.append((a, n))
    return bounds


def phonemes(samples: np.ndarray, transcript: str | None = None, report=None) -> PhoneResult:
    """Align when a transcript is given (falling back to recognition if it can't be aligned)."""
    if transcript and g2p.transcript_words(transcript):
        return align(samples, transcript, report=report)
    return recognise(samples, report=report)


def find_transcript(audio_path: str) -> str | None:
    """The text of a ``.txt`` or ``.lab`` file next to the audio (same stem), if any."""
    stem = os.path.splitext(audio_path)[0]
    for ext in (".txt", ".lab", ".TXT", ".LAB"):
        p = stem + ext
        if os.path.isfile(p):
            with open(p, encoding="utf-8", errors="replace") as f:
                text = f.read().strip()
            if text:
                return text
    return None


# -- evaluation against reference alignments (tests, benchmarks) -------------

def boundaries(phones) -> np.ndarray:
    """Times where the phone changes, from ``[(phone, start, end), ...]`` (silence included)."""
    out = []
    for (p, s, e) in phones:
        out.extend((s, e))
    return np.unique(np.round(np.asarray(out, dtype=np.float64), 4))


def boundary_errors(reference, hypothesis) -> dict:
    """Phone boundary errors of ``hypothesis`` against ``reference`` (both ``[(phone, start, end)]``).

    * ``matched_mae_ms``: phones paired by sequence alignment of their labels
      (difflib), mean |start and end differences| over the pairs - the usual
      forced-alignment measure; ``matched`` = fraction of reference phones paired.
    * ``nearest_mae_ms``: for every reference boundary between speech phones,
      the distance to the nearest hypothesis boundary - fair also when the
      phone labels differ (recognition without a transcript).
    """
    import difflib

    ref = [(normalise_phone(p), s, e) for p, s, e in reference]
    hyp = [(normalise_phone(p), s, e) for p, s, e in hypothesis]
    ref_sp = [r for r in ref if r[0] != "SIL"]
    hyp_sp = [h for h in hyp if h[0] != "SIL"]
    sm = difflib.SequenceMatcher(a=[r[0] for r in ref_sp], b=[h[0] for h in hyp_sp], autojunk=False)
    errs = []
    paired = 0
    for block in sm.get_matching_blocks():
        for k in range(block.size):
            r, h = ref_sp[block.a + k], hyp_sp[block.b + k]
            if h[2] <= r[1] or h[1] >= r[2]:  # a label match far away in time is no pairing
                continue
            errs += [abs(r[1] - h[1]), abs(r[2] - h[2])]
            paired += 1
    hb = boundaries(hyp)
    rb = boundaries(ref_sp)
    near = np.abs(rb[:, None] - hb[None, :]).min(axis=1) if len(hb) and len(rb) else np.array([np.inf])
    return {
        "matched_mae_ms": 1000.0 * float(np.mean(errs)) if errs else float("inf"),
        "matched_median_ms": 1000.0 * float(np.median(errs)) if errs else float("inf"),
        "matched": paired / max(1, len(ref_sp)),
        "nearest_mae_ms": 1000.0 * float(np.mean(near)),
        "within_50ms": float(np.mean(np.asarray(errs) <= 0.05)) if errs else 0.0,
        "n_reference": len(ref_sp),
    }
