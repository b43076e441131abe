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
    """A cached Decoder: kind "align" (default model + dict) or "allphone"."""
    dec = _decoders.get(kind)
    if dec is not None:
        return dec
    from pocketsphinx import Decoder

    _root, phone_lm = _model_paths()
    if kind == "align":  # wide beams: a forced alignment must reach the end of the transcript
        dec = Decoder(samprate=RATE, bestpath=False, loglevel="FATAL", beam=1e-100, wbeam=1e-80,
                      pbeam=1e-100)
    elif kind == "align_wide":
        dec = Decoder(samprate=RATE, bestpath=False, loglevel="FATAL", beam=1e-250, wbeam=1e-250,
                      pbeam=1e-250)
    else:
        dec = Decoder(samprate=RATE, allphone=phone_lm, lw=2.0, beam=1e-20, pbeam=1e-20,
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


def _align_piece(samples: np.ndarray, words: list[str], t0: float):
    """Align ``words`` to one piece of audio (caller holds the lock); phones and words offset by t0."""
    pcm = _pcm(samples)
    kind = "align"
    try:
        for kind in ("align", "align_wide"):
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


def _align_window(dec, samples: np.ndarray, window: list[str], t0: float, stop_prob: float = 0.05):
    """Align a *prefix* of ``window`` to a piece of long audio: a chain grammar
    w1 -> w2 -> ... where the utterance may end after any word (so the aligner
    itself decides how many words this piece holds), then a normal two-pass
    alignment of those words.  Returns (phones, words, n_consumed) or None."""
    pcm = _pcm(samples)
    n = len(window)
    transitions = [(i, i + 1, 1.0 - stop_prob, w) for i, w in enumerate(window)]
    transitions += [(i, n, stop_prob) for i in range(n)]
    fsg = dec.create_fsg("faceforge_piece", 0, n, transitions)
    dec.set_fsg("faceforge_piece", fsg)
    dec.activate_search("faceforge_piece")
    _decode_pass(dec, pcm)
    if dec.hyp() is None:
        return None
    consumed = sum(1 for seg in dec.seg() if seg.word.split("(")[0] in window and not seg.word.startswith("<"))
    if consumed == 0:
        return None
    # sub-word alignment can't follow an FSG search: re-align the words found, the usual way
    phones, words = _align_piece(samples, window[:consumed], t0)
    return phones, words, consumed


def _voiced_frames(samples: np.ndarray) -> np.ndarray:
    """(n10ms,) bool: frames louder than the recording's speech threshold."""
    hop = RATE // 100
    n = len(samples) // hop
    e = 10 * np.log10(np.square(np.asarray(samples[: n * hop], np.float32)).reshape(n, hop).mean(1) + 1e-10)
    return e > np.percentile(e, 97) - 25.0 if n else np.zeros(0, bool)


def align(samples: np.ndarray, transcript: str, report=None, chunk_seconds: float = 20.0) -> PhoneResult:
    """Forced alignment of ``transcript`` to 16 kHz mono ``samples``.

    Audio longer than ~1.5 x ``chunk_seconds`` is cut at its quietest moments
    into pieces of about ``chunk_seconds`` and aligned piece by piece (the
    cost of one alignment grows with the square of its length; pieces keep
    it linear): each piece gets the next words of the transcript through a
    chain grammar that may stop after any word, so the aligner itself finds
    where the piece's speech ends and the next piece starts at the next
    word.  A piece that can't be aligned is phone-recognised instead
    (counted in ``PhoneResult.fallback_pieces``).

    Raises FaceForgeError when the transcript has no words or cannot be
    aligned to the audio (wrong transcript / not English / no speech).
    """
    words = g2p.transcript_words(transcript)
    if not words:
        raise FaceForgeError("The transcript has no words; type what is said, or leave it empty to "
                             "recognise phones without one")
    duration = len(samples) / RATE
    pieces = _chunk_bounds(samples, chunk_seconds)
    phones: list[Phone] = []
    wordlist: list[tuple[str, float, float]] = []
    fallback = 0
    with _lock:
        dec = _decoder("align")
        oov = prepare_words(dec, words)
        if len(pieces) == 1:
            if report:
                report(0.05, "aligning words to the transcript")
            phones, wordlist = _align_piece(samples, words, 0.0)
        else:
            voiced = _voiced_frames(samples)
            hop = RATE // 100
            per = np.array([voiced[a // hop: b // hop].sum() for a, b in pieces], dtype=np.float64) + 1.0
            nxt = 0
            for k, (a, b) in enumerate(pieces):
                if report:
                    report(k / len(pieces), f"aligning {a / RATE:.0f}-{b / RATE:.0f} s to the transcript")
                left = len(words) - nxt
                if left <= 0:
                    break
                est = left * per[k] / per[k:].sum()
                window = words[nxt: nxt + int(est * 1.5) + 8] if k < len(pieces) - 1 else words[nxt:]
                got = None
                try:
                    got = _align_window(dec, samples[a:b], window, a / RATE)
                except (RuntimeError, FaceForgeError):
                    _decoders.pop("align", None)
                    dec = _decoder("align")
                if got is None or got[2] == 0:
                    fallback += 1
                    rec = recognise(samples[a:b])
                    for p in rec.phones:
                        p.start, p.end = p.start + a / RATE, p.end + a / RATE
                    phones += rec.phones
                    nxt += int(round(est))  # skip the words this piece probably held
                    continue
                phones += got[0]
                wordlist += got[1]
                nxt += got[2]
    if report:
        report(1.0, "aligned")
    result = PhoneResult(_merge_silence(phones, duration), "align", duration, oov, wordlist)
    result.fallback_pieces = fallback
    result.pieces = len(pieces)
    return result


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
