"""Transcript text -> words, and English letter-to-sound rules for unknown words.

PocketSphinx's aligner needs a pronunciation for every word of the
transcript.  Words in CMUdict (shipped with PocketSphinx, ~135k entries) use
the dictionary; any other word (names, slang like "yknow", typos) gets one
from :func:`letters_to_phones` here instead of being dropped.

The rules are a small greedy longest-match grapheme table with a few context
rules (soft c/g before e/i/y, silent final e, "magic e" long vowels, doubled
consonants).  They are not a trained G2P model: they give a plausible
phone sequence whose *visemes* are right far more often than the exact
phones - which is what lip sync needs (lip closure for m/b/p, rounding for
o/u/w, teeth for f/v ...).  Digits are spelled out as English words.

Phones are CMU ARPAbet without stress marks (39 phones), as PocketSphinx's
en-us model uses.
"""

from __future__ import annotations

import re

ARPABET = ("AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH",
           "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH",
           "UW", "V", "W", "Y", "Z", "ZH")

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
         "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(n: int) -> list[str]:
    """Spell a non-negative integer in English words (up to the billions)."""
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    for size, name in ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred")):
        if n >= size:
            rest = n % size
            return number_words(n // size) + [name] + (number_words(rest) if rest else [])
    return []


_NOISE = re.compile(r"\[[^\]]*\]|<[^>]*>|\{[^}]*\}")


def transcript_words(text: str) -> list[str]:
    """Normalise a transcript to lower-case words (punctuation dropped, digits spelled).

    Bracketed annotations (``[noise]``, ``<VOCNOISE>``, ``{laugh}``) are dropped.
    Apostrophes inside words are kept ("don't", "i'm").
    """
    text = _NOISE.sub(" ", text.lower())
    words: list[str] = []
    for tok in re.findall(r"[a-z0-9']+", text.replace("\u2019", "'")):
        tok = tok.strip("'")
        if not tok:
            continue
        for part in re.findall(r"\d+|[a-z']+", tok):
            if part.isdigit():
                words.extend(number_words(int(part)) if len(part) < 10 else [_ONES[int(d)] for d in part])
            else:
                words.append(part)
    return words


# Longest graphemes first; context rules handled in letters_to_phones.
_GRAPHEMES = {
    "tch": ["CH"], "sch": ["S", "K"], "igh": ["AY"], "ough": ["AO"], "augh": ["AO"], "eigh": ["EY"],
    "tion": ["SH", "AH", "N"], "sion": ["ZH", "AH", "N"], "ture": ["CH", "ER"], "que": ["K"],
    "ch": ["CH"], "sh": ["SH"], "th": ["TH"], "ph": ["F"], "wh": ["W"], "ck": ["K"], "ng": ["NG"],
    "qu": ["K", "W"], "gh": [], "kn": ["N"], "wr": ["R"], "mb": ["M"], "dg": ["JH"],
    "ee": ["IY"], "ea": ["IY"], "oo": ["UW"], "ou": ["AW"], "ow": ["OW"], "oi": ["OY"], "oy": ["OY"],
    "ai": ["EY"], "ay": ["EY"], "au": ["AO"], "aw": ["AO"], "ei": ["EY"], "ey": ["IY"], "ie": ["IY"],
    "oa": ["OW"], "ue": ["UW"], "ew": ["UW"], "ar": ["AA", "R"], "er": ["ER"], "ir": ["ER"],
    "ur": ["ER"], "or": ["AO", "R"],
    "a": ["AE"], "b": ["B"], "c": ["K"], "d": ["D"], "e": ["EH"], "f": ["F"], "g": ["G"], "h": ["HH"],
    "i": ["IH"], "j": ["JH"], "k": ["K"], "l": ["L"], "m": ["M"], "n": ["N"], "o": ["AA"], "p": ["P"],
    "q": ["K"], "r": ["R"], "s": ["S"], "t": ["T"], "u": ["AH"], "v": ["V"], "w": ["W"],
    "x": ["K", "S"], "y": ["Y"], "z": ["Z"],
}
_LONG = {"a": "EY", "e": "IY", "i": "AY", "o": "OW", "u": "UW", "y": "AY"}
_VOWELS = set("aeiouy")
_MAXLEN = max(len(g) for g in _GRAPHEMES)


def letters_to_phones(word: str) -> list[str]:
    """English letter-to-sound rules: a plausible ARPAbet pronunciation for any word."""
    w = re.sub(r"[^a-z]", "", word.lower())
    if not w:
        return []
    n = len(w)
    # silent final e after a consonant ("make", "smile"), but not "the", "be"
    silent_e = n > 2 and w.endswith("e") and w[-2] not in _VOWELS
    end = n - 1 if silent_e else n
    phones: list[str] = []
    i = 0
    while i < end:
        c = w[i]
        nxt = w[i + 1] if i + 1 < n else ""
        # soft c / g
        if c == "c" and nxt in ("e", "i", "y"):
            phones.append("S")
            i += 1
            continue
        if c == "g" and nxt in ("e", "i", "y") and i > 0:
            phones.append("JH")
            i += 1
            continue
        if c == "y":
            if i == 0:
                phones.append("Y")
            else:
                phones.append("IY" if i == end - 1 else "IH")
            i += 1
            continue
        # magic e: vowel + single consonant + final silent e -> long vowel
        if silent_e and c in _LONG and i == end - 2 and w[i + 1] not in _VOWELS:
            phones.append(_LONG[c])
            i += 1
            continue
        for size in range(min(_MAXLEN, end - i), 0, -1):
            g = w[i:i + size]
            if g in _GRAPHEMES:
                phones.extend(_GRAPHEMES[g])
                i += size
                break
        # doubled consonant sounds once ("ll", "ss", "tt")
        while i < end and i > 0 and w[i] == w[i - 1] and w[i] not in _VOWELS:
            i += 1
    if not phones:  # a word of silent letters: spell the first letter
        phones = list(_GRAPHEMES.get(w[0], ["AH"]))
    # no two identical phones in a row
    out = [p for k, p in enumerate(phones) if k == 0 or p != phones[k - 1]]
    return out
