"""Free text -> ARKit weights: a prompt matched against a described expression library.

How a prompt becomes a pose (documented in docs/expressions.md):

1. **Emotion mixes skip the model**: "happy", "70% happy + 30% surprised" are
   parsed by :func:`animation.emotions.parse_mix` (bare names at the default
   intensity 0.7, like any clause; numbers as given).
2. **Clauses**: the prompt is split at commas, ";", "and", "but", "with",
   "while", "plus" ("a person smiling with eyes widened" -> "a person smiling",
   "eyes widened"); each clause is matched on its own and the results add up
   (clipped to [0, 1]), so prompts compose.
3. **Negation**: a clause containing not / no / never / without / n't is
   matched without the negation word and then *suppresses* what it matched:
   the shapes of the matched entries are multiplied down in the final pose
   ("happy but not smiling" keeps the happy brows and eyes, drops the smile;
   "not smiling" alone is a neutral face).
4. **Intensity words** scale a clause: hardly/barely 0.2, slightly 0.35,
   a bit/a little/kind of 0.45, somewhat/moderately/fairly 0.55, (none) 0.7,
   quite/pretty/rather 0.8, very/really/so 0.9, extremely/super/totally/
   utterly/incredibly/absolutely/completely 1.0; "70%" or "0.7" set it exactly.
5. **Matching**: the remaining words are embedded with all-MiniLM-L6-v2
   (:mod:`inference.text_embed`); each library entry scores the cosine to
   the mean of its descriptions' embeddings (its prototype), or to its best
   single description less 0.1 when that is higher; a softmax (temperature
   0.05) over the top 3 entries gives their shares; the clause pose is the
   share-weighted blend of those entries' ARKit weights times the clause
   intensity.  "no emotion" / "without expression" mean neutral.

6. **Named mouth actions** (laugh, shout, scream, gasp, yawn, kiss and their word
   stems, :data:`MOUTH_ACTIONS`) add their mouth in full to their clause, whatever
   else the clause matched ("terrified scream" = fear's brows and eyes + a screaming
   mouth); lips cannot press or roll in while the jaw hangs open.
7. **Reads as** is computed from the final pose (:func:`reads_as`), never from the words.

The result lists every matched entry with its share (the panel shows them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from ..core.arkit import ARKIT_NAMES, INDEX
from ..core.errors import FaceForgeError
from . import emotions


# --- the library ----------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    key: str
    label: str
    descriptions: tuple[str, ...]
    weights: np.ndarray = field(compare=False)  # (52,)
    emotion: str | None = None  # which basic emotion this entry is, if any
    hint: str | None = None  # the emotion a feature entry suggests (votes for "reads as")


def _pose(d: Mapping[str, float] | None = None, aus: Mapping[int, float] | None = None) -> np.ndarray:
    v = emotions.au_pose(aus or {})
    for name, w in (d or {}).items():
        v[INDEX[name]] += w
    return np.clip(v, 0.0, 1.0)


def _emotion_entry(name, label, descriptions):
    return Entry(name, label, tuple(descriptions), emotions.EMOTION_POSES[name], emotion=name)


LIBRARY: tuple[Entry, ...] = (
    # -- the seven basic emotions (poses from their FACS action units) ------------
    _emotion_entry("neutral", "Neutral", (
        "neutral", "neutral face", "no expression", "a blank face", "calm", "at rest",
        "a straight face", "deadpan", "serious and composed", "indifferent", "unemotional",
        "stoic", "still and idle", "default face", "composed", "vacant", "placid", "unmoved",
        "flat affect", "nothing in particular", "relaxed", "a relaxed face", "without emotion",
        "showing no feelings", "at ease")),
    _emotion_entry("happiness", "Happiness", (
        "happy", "happiness", "joy", "joyful", "a happy smiling face", "glad and pleased",
        "laughing", "in a good mood", "thrilled", "elated", "jubilant", "content", "blissful",
        "euphoric", "gleeful", "merry", "radiant", "tickled pink", "over the moon",
        "on cloud nine")),
    _emotion_entry("sadness", "Sadness", (
        "sad", "sadness", "unhappy", "sorrow", "crying", "weeping", "grieving", "grief",
        "feeling down and blue", "disappointed", "despair", "melancholy", "downcast", "dejected",
        "despondent", "mournful", "in tears", "forlorn", "woeful", "in low spirits", "upset")),
    _emotion_entry("surprise", "Surprise", (
        "surprised", "surprise", "wow", "in disbelief", "caught off guard", "unexpected news",
        "mouth agape in wonder", "astounded", "flabbergasted", "dumbfounded", "awestruck",
        "oh my god", "bewildered", "speechless", "gobsmacked", "whoa", "did not see that coming")),
    _emotion_entry("fear", "Fear", (
        "afraid", "fear", "scared", "fearful", "anxious and alarmed", "in danger", "dread",
        "nervous", "alarmed", "panic", "frozen with fear", "spooked", "in terror", "trembling",
        "threatened", "paranoid", "creeped out", "apprehensive", "a horror movie scream")),
    _emotion_entry("anger", "Anger", (
        "angry", "anger", "rage", "mad", "annoyed", "hostile", "cross and irritated",
        "frustrated", "outraged", "incensed", "wrathful", "infuriated", "irritated",
        "hot-tempered", "raging", "hateful", "aggressive", "resentful", "steaming mad",
        "up in arms", "losing my temper", "seeing red", "boiling with anger", "heated")),
    _emotion_entry("disgust", "Disgust", (
        "disgusted", "disgust", "yuck", "gross", "a bad smell", "distaste", "eww",
        "something rotten", "appalled", "nasty", "queasy", "sick to the stomach", "repugnant",
        "loathing", "icky", "abhorrent", "turned off", "yucky food", "a foul odor", "repelled",
        "that is disgusting", "wrinkling the nose at something")),
    # -- facial features / action units, for compositional prompts ---------------
    Entry("smile", "Smile (AU6+12)", ("smiling", "a smile", "grin", "mouth corners up"),
          _pose(aus={12: 1.0, 6: 0.4}), hint="happiness"),
    Entry("mouth_frown", "Mouth frown (AU15+17)", ("frowning mouth", "mouth corners down",
                                                   "a downturned mouth"),
          _pose(aus={15: 1.0, 17: 0.5}), hint="sadness"),
    Entry("brow_furrow", "Furrowed brows (AU4)", ("furrowed brows", "frowning brows", "brows knitted",
                                                  "scowl", "brows lowered"),
          _pose(aus={4: 1.0, 7: 0.3}), hint="anger"),
    Entry("brows_raised", "Raised brows (AU1+2)", ("raised eyebrows", "brows up", "eyebrows lifted"),
          _pose(aus={1: 1.0, 2: 1.0}), hint="surprise"),
    Entry("worried_brows", "Worried brows (AU1+4)", ("worried", "concerned", "inner brows raised"),
          _pose(aus={1: 1.0, 4: 0.4}), hint="sadness"),
    Entry("eyes_wide", "Eyes wide (AU5)", ("eyes wide open", "wide eyes", "eyes widened", "staring"),
          _pose(aus={5: 1.0}), hint="surprise"),
    Entry("squint", "Squint (AU6+7)", ("squinting", "narrowed eyes"), _pose(aus={7: 1.0, 6: 0.3})),
    Entry("eyes_closed", "Eyes closed (AU43)", ("eyes closed", "eyes shut", "sleeping"),
          _pose(aus={43: 1.0})),
    Entry("sleepy", "Sleepy", ("sleepy", "tired", "drowsy"),
          _pose({"eyeBlinkLeft": 0.5, "eyeBlinkRight": 0.5, "browInnerUp": 0.15})),
    Entry("wink", "Wink (left eye)", ("winking", "a wink"),
          _pose({"eyeBlinkLeft": 1.0, "cheekSquintLeft": 0.4, "mouthSmileLeft": 0.4})),
    Entry("mouth_open", "Mouth open (AU25+26)", ("mouth open", "open mouth", "jaw dropped", "gaping"),
          _pose(aus={25: 1.0, 26: 1.3}), hint="surprise"),
    Entry("yawn", "Yawn", ("yawning", "a big yawn"),
          _pose({"jawOpen": 1.0, "eyeSquintLeft": 0.6, "eyeSquintRight": 0.6, "mouthFunnel": 0.2})),
    Entry("lips_pressed", "Lips pressed (AU24)", ("lips pressed together", "tight lips",
                                                  "lips tightly closed"),
          _pose(aus={24: 1.0, 23: 0.5}), hint="anger"),
    Entry("pucker", "Pucker (AU18)", ("puckered lips", "a kiss", "pursed lips", "pouting"),
          _pose({"mouthPucker": 1.0, "mouthFunnel": 0.2})),
    Entry("cheek_puff", "Puffed cheeks", ("puffed cheeks", "cheeks full of air", "blowing air"),
          _pose({"cheekPuff": 1.0})),
    Entry("tongue_out", "Tongue out", ("tongue out", "sticking the tongue out"),
          _pose({"tongueOut": 1.0, "jawOpen": 0.3})),
    Entry("sneer", "Sneer (AU9+10)", ("sneer", "nose wrinkled", "upper lip raised"),
          _pose(aus={9: 1.0, 10: 0.8}), hint="disgust"),
    Entry("smirk", "Smirk", ("smirk", "half smile", "one-sided smile"),
          _pose({"mouthSmileLeft": 0.7, "mouthDimpleLeft": 0.3, "cheekSquintLeft": 0.2}), hint="happiness"),
    Entry("grimace", "Grimace (AU20)", ("grimace", "teeth clenched", "lips stretched tight"),
          _pose(aus={20: 1.0, 25: 0.6}, d={"mouthUpperUpLeft": 0.3, "mouthUpperUpRight": 0.3})),
    # -- mouth actions (also named by word: MOUTH_ACTIONS) and one-sided expressions --
    Entry("laugh", "Laugh (AU6+12+25+26)", ("laughing", "a big laugh", "roaring with laughter",
                                             "giggling", "cracking up"),
          _pose(aus={6: 1.0, 12: 1.0, 25: 1.0, 26: 0.8}), hint="happiness"),
    Entry("shout", "Shout (AU25+27)", ("shouting", "yelling", "hollering", "bellowing at someone"),
          _pose(aus={25: 1.0, 27: 0.7, 10: 0.5, 16: 0.4}), hint="anger"),
    Entry("scream", "Scream (AU20+25+27)", ("screaming", "a scream", "shrieking", "screeching"),
          _pose(aus={20: 0.8, 25: 1.0, 27: 0.95, 10: 0.4, 16: 0.6}), hint="fear"),
    Entry("gasp", "Gasp (AU5+25+26)", ("a gasp", "gasping for air", "a sharp intake of breath"),
          _pose(aus={5: 0.6, 25: 1.0, 26: 0.9, 22: 0.3}), hint="surprise"),
    Entry("kiss", "Kiss (AU18+22, lids lowered)", ("kissing", "a kiss", "blowing a kiss", "smooching",
                                                   "lips puckered for a kiss"),
          _pose({"mouthPucker": 1.0, "mouthFunnel": 0.35, "eyeBlinkLeft": 0.35, "eyeBlinkRight": 0.35,
                 "cheekSquintLeft": 0.2, "cheekSquintRight": 0.2})),
    # Contempt is Ekman's one-sided expression: the lip corner tightened and raised on one side.
    Entry("contempt", "Contempt (L12+L14)", ("contempt", "contemptuous", "disdain", "scorn", "scornful",
                                             "looking down on someone"),
          _pose({"mouthDimpleLeft": 0.8, "mouthSmileLeft": 0.35, "mouthPressLeft": 0.2,
                 "eyeSquintLeft": 0.2, "browDownLeft": 0.15}), hint="contempt"),
    Entry("confused", "Confused (one brow up, one down)", ("confused", "puzzled", "perplexed",
                                                            "baffled", "bewildered frown"),
          _pose({"browDownRight": 0.7, "browOuterUpLeft": 0.6, "browInnerUp": 0.2, "eyeSquintRight": 0.3,
                 "mouthLeft": 0.25, "mouthPressLeft": 0.2, "mouthPressRight": 0.2})),
    Entry("suspicious", "Suspicious (squint, brow lowered)", ("suspicious", "distrustful", "wary look",
                                                               "skeptical side-eye"),
          _pose({"eyeSquintLeft": 0.8, "eyeSquintRight": 0.6, "browDownLeft": 0.45, "browDownRight": 0.3,
                 "mouthPressLeft": 0.3, "mouthPressRight": 0.3, "mouthLeft": 0.15})),
    Entry("look_up", "Look up", ("looking up", "eyes up"), _pose({"eyeLookUpLeft": 1.0, "eyeLookUpRight": 1.0})),
    Entry("look_down", "Look down", ("looking down", "eyes down"),
          _pose({"eyeLookDownLeft": 1.0, "eyeLookDownRight": 1.0})),
    # Subject's left: the left eye looks out, the right eye looks in.
    Entry("look_left", "Look left", ("looking left", "eyes to the left"),
          _pose({"eyeLookOutLeft": 1.0, "eyeLookInRight": 1.0})),
    Entry("look_right", "Look right", ("looking right", "eyes to the right"),
          _pose({"eyeLookInLeft": 1.0, "eyeLookOutRight": 1.0})),
)
ENTRY_BY_KEY = {e.key: e for e in LIBRARY}


# --- the small parser around the embedding ---------------------------------------

NEGATIONS = ("not", "no", "never", "without", "neither", "nor", "none")
INTENSITY: tuple[tuple[str, float], ...] = (  # longest phrases first
    ("a little bit", 0.4), ("a tiny bit", 0.3), ("a little", 0.45), ("a bit", 0.45),
    ("kind of", 0.45), ("sort of", 0.45), ("a lot", 0.9),
    ("hardly", 0.2), ("barely", 0.2), ("faintly", 0.3), ("subtly", 0.3), ("slightly", 0.35),
    ("mildly", 0.4), ("somewhat", 0.55), ("moderately", 0.55), ("fairly", 0.55),
    ("quite", 0.8), ("pretty", 0.8), ("rather", 0.8), ("very", 0.9), ("really", 0.9),
    ("so", 0.9), ("deeply", 0.9), ("extremely", 1.0), ("super", 1.0), ("totally", 1.0),
    ("utterly", 1.0), ("incredibly", 1.0), ("absolutely", 1.0), ("completely", 1.0),
    ("intensely", 1.0), ("wildly", 1.0), ("hugely", 1.0), ("fully", 1.0),
)
DEFAULT_INTENSITY = 0.7
_SPLIT = re.compile(r"\s*(?:[,;.!?]|\band\b|\bbut\b|\bwith\b|\bwhile\b|\bplus\b|\byet\b)\s*")
_NUMBER = re.compile(r"\b(\d+(?:\.\d+)?)\s*(%?)")


@dataclass
class Clause:
    text: str  # the words that were embedded
    source: str  # the clause as typed
    negated: bool
    intensity: float


def parse_clauses(prompt: str) -> list[Clause]:
    """Split a prompt into clauses, each with its negation flag and intensity."""
    text = (prompt or "").lower().replace("\u2019", "'")
    text = re.sub(r"n't\b", " not", text)
    out = []
    for raw in _SPLIT.split(text):
        raw = raw.strip()
        if not raw:
            continue
        words = f" {raw} "
        intensity, found = DEFAULT_INTENSITY, False
        m = _NUMBER.search(words)
        if m:
            v = float(m.group(1))
            intensity = v / 100.0 if m.group(2) or v > 1.0 else v
            intensity, found = min(max(intensity, 0.0), 1.0), True
            words = words[:m.start()] + " " + words[m.end():]
        for phrase, value in INTENSITY:
            pat = rf"\b{re.escape(phrase)}\b"
            if re.search(pat, words):
                if not found:
                    intensity, found = value, True
                words = re.sub(pat, " ", words)
        negated = False
        for neg in NEGATIONS:
            pat = rf"\b{neg}\b"
            if re.search(pat, words):
                negated = True
                words = re.sub(pat, " ", words)
        core = " ".join(words.split())
        if core in ("", "a", "an", "the", "at all"):
            continue
        out.append(Clause(core, raw, negated, intensity))
    return out


# --- matching ---------------------------------------------------------------------

@dataclass
class Match:
    key: str
    label: str
    share: float  # 0..1 of its clause
    similarity: float  # the entry's score (cosine, see entry_scores)
    clause: str
    negated: bool
    intensity: float


@dataclass
class TextExpression:
    prompt: str
    weights: np.ndarray  # (52,) in [0, 1]
    matches: list[Match]
    emotion: str  # the basic emotion the prompt reads as (see reads_as)

    def top(self, n: int = 5) -> list[Match]:
        return sorted(self.matches, key=lambda m: -m.share)[:n]


_library_cache: dict[int, tuple[object, np.ndarray, np.ndarray, np.ndarray]] = {}
EXACT_MARGIN = 0.1


def library_embeddings(embedder) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entry prototypes (E, 384), description embeddings (D, 384), entry of each description (D,).

    Cached per embedder.  A prototype is the normalised mean of an entry's
    descriptions: steadier than the best single description, where with many
    descriptions one spurious near-match would win.
    """
    hit = _library_cache.get(id(embedder))
    if hit is not None and hit[0] is embedder:
        return hit[1], hit[2], hit[3]
    texts = [d for e in LIBRARY for d in e.descriptions]
    owner = np.repeat(np.arange(len(LIBRARY)), [len(e.descriptions) for e in LIBRARY])
    emb = embedder.embed(texts)
    protos = np.stack([emb[owner == i].mean(0) for i in range(len(LIBRARY))])
    protos /= np.maximum(np.linalg.norm(protos, axis=1, keepdims=True), 1e-12)
    protos = protos.astype(np.float32)
    _library_cache[id(embedder)] = (embedder, protos, emb, owner)
    return protos, emb, owner


def entry_scores(vec: np.ndarray, embedder) -> np.ndarray:
    """(E,) score of each entry: cosine to its prototype, or to its best description less 0.1
    when that is higher (so a prompt that says exactly what a description says wins)."""
    protos, desc, owner = library_embeddings(embedder)
    best = np.full(len(LIBRARY), -1.0, dtype=np.float32)
    np.maximum.at(best, owner, desc @ vec)
    return np.maximum(protos @ vec, best - EXACT_MARGIN)


def _match_clause(scores: np.ndarray, top_k: int, temperature: float) -> list[tuple[int, float, float]]:
    """[(entry index, softmax share, score)] of the top entries for one clause."""
    order = np.argsort(-scores)[:top_k]
    logits = scores[order] / temperature
    p = np.exp(logits - logits.max())
    p /= p.sum()
    return [(int(i), float(s), float(c)) for i, s, c in zip(order, p, scores[order]) if s >= 0.05]


# "no emotion", "without any expression": a negated *absence* means neutral, not a suppression.
_NOTHING = {"emotion", "emotions", "expression", "expressions", "feeling", "feelings", "reaction",
            "any emotion", "any expression", "any feeling", "facial expression"}


# Mouth actions a clause names keep their mouth, whatever else the clause matched: "terrified
# scream" is fear's brows and eyes *and* a screaming mouth.  Word stems -> library entry.
MOUTH_ACTIONS: dict[str, tuple[str, ...]] = {
    "laugh": ("laugh", "giggl", "chuckl", "cackl", "guffaw"),
    "shout": ("shout", "yell", "holler", "bellow"),
    "scream": ("scream", "shriek", "screech", "wail"),
    "gasp": ("gasp",),
    "yawn": ("yawn",),
    "kiss": ("kiss", "smooch"),
}
# Lips cannot press, roll in or close while the jaw hangs open: an open mouth from one clause
# fades those out (between jawOpen 0.15 and 0.4).
_CLOSED_LIPS = [INDEX[n] for n in ("mouthPressLeft", "mouthPressRight", "mouthRollLower", "mouthRollUpper",
                                   "mouthClose")]
READS_AS_MIN = 0.4  # an emotion must explain this much of the pose (norm of its part) to be read


_ACTION_MASK = np.array([e.key in MOUTH_ACTIONS for e in LIBRARY])


def named_actions(text: str) -> list[str]:
    """Library keys of the mouth actions ``text`` names (:data:`MOUTH_ACTIONS`)."""
    words = re.findall(r"[a-z]+", text.lower())
    return [key for key, stems in MOUTH_ACTIONS.items() if any(w.startswith(st) for w in words for st in stems)]


def open_mouth_wins(pose: np.ndarray) -> np.ndarray:
    """Fade lip press / roll / close out as the jaw opens (see ``_CLOSED_LIPS``)."""
    out = np.asarray(pose, dtype=np.float64).copy()
    k = float(np.clip(1.0 - (out[INDEX["jawOpen"]] - 0.15) / 0.25, 0.0, 1.0))
    out[_CLOSED_LIPS] *= k
    return out


def interpret(prompt: str, embedder=None, top_k: int = 3, temperature: float = 0.05,
              scales: Mapping[str, float] | None = None) -> TextExpression:
    """Map a free-text prompt to ARKit weights (52,) plus the library entries it matched.

    ``embedder``: an object with ``embed(list[str]) -> (B, 384)`` unit rows
    (default: the shared all-MiniLM-L6-v2 session).  Raises FaceForgeError for
    an empty prompt.
    """
    if not prompt or not prompt.strip():
        raise FaceForgeError("Type a prompt first, e.g. 'a delighted surprise' or 'slightly sad'")
    mix = emotions.parse_mix(prompt)
    if mix is not None:
        # Bare names read like any other clause (default intensity, so "very sad" > "sad");
        # explicit numbers ("happy 40%", "70% happy + 30% sad") are taken as given.
        level = 1.0 if re.search(r"\d", prompt) else DEFAULT_INTENSITY
        pose = emotions.blend_emotions(mix, intensity=level, scales=scales)
        total = sum(mix.values()) or 1.0
        matches = [Match(n, ENTRY_BY_KEY[n].label, s / max(total, 1.0), 1.0, prompt, False, level)
                   for n, s in mix.items()]
        return TextExpression(prompt, pose, matches, reads_as(pose))
    clauses = parse_clauses(prompt)
    if not clauses:
        raise FaceForgeError(f"'{prompt}' has no words to match; describe an expression, "
                             "e.g. 'very happy' or 'eyes wide, mouth open'")
    if embedder is None:
        from ..inference import text_embed

        embedder = text_embed.get()
    vecs = embedder.embed([c.text for c in clauses])
    positive = np.zeros(len(ARKIT_NAMES))
    keep = np.ones(len(ARKIT_NAMES))
    matches: list[Match] = []
    for clause, vec in zip(clauses, vecs):
        if clause.negated and clause.text in _NOTHING:
            clause = Clause("neutral", clause.source, False, clause.intensity)
            vec = embedder.embed([clause.text])[0]
        scores = entry_scores(vec, embedder)
        named = named_actions(clause.text)
        if named:  # the named mouth comes in full below; the rest of the clause picks the face
            scores = np.where(_ACTION_MASK, -1.0, scores)
        picked = _match_clause(scores, top_k, temperature)
        total = sum(s for _, s, _ in picked)
        blend = np.zeros(len(ARKIT_NAMES))
        for i, share, sim in picked:
            share /= total
            e = LIBRARY[i]
            blend += share * e.weights
            matches.append(Match(e.key, e.label, share, sim, clause.source, clause.negated,
                                 clause.intensity))
        for key in named:  # the clause's own mouth action, in full
            e = ENTRY_BY_KEY[key]
            blend = np.maximum(blend, e.weights)
            if not any(m.key == key and m.clause == clause.source for m in matches):
                matches.append(Match(e.key, e.label, 1.0, 1.0, clause.source, clause.negated, clause.intensity))
        if clause.negated:
            # Suppress what the clause names, in proportion to how strongly it names it.
            peak = blend.max()
            if peak > 0:
                strength = min(1.0, clause.intensity / DEFAULT_INTENSITY)  # "not smiling": fully
                keep *= 1.0 - np.clip(blend / peak, 0.0, 1.0) * strength
        else:
            positive += clause.intensity * blend
    pose = np.clip(positive * np.clip(keep, 0.0, 1.0), 0.0, 1.0)
    pose = emotions.apply_scales(open_mouth_wins(pose), scales)
    return TextExpression(prompt, pose, matches, reads_as(pose))


def reads_as(pose: np.ndarray) -> str:
    """The emotion a pose reads as, from the pose alone (not from the words that made it).

    The pose is explained as a non-negative mix of the library's poses (NNLS over the 52
    channels: the seven emotion prototypes and the feature entries).  Each part votes with
    its size (weight x norm of the entry's pose) for its emotion: an emotion entry for
    itself, a feature for the emotion it signals (a smile for happiness, a scream for fear,
    a one-sided lip corner for contempt); parts that signal none (a kiss, a yawn, a gaze)
    do not vote.  The winner must explain at least ``READS_AS_MIN`` of the pose, else it
    reads as neutral.
    """
    from scipy.optimize import nnls

    pose = np.asarray(pose, dtype=np.float64)
    if not np.any(pose > 1e-6):
        return "neutral"
    basis, targets = _reads_as_basis()
    coef, _ = nnls(basis, pose)
    votes: dict[str, float] = {}
    for c, (target, size) in zip(coef, targets):
        if target and c > 0:
            votes[target] = votes.get(target, 0.0) + c * size
    if not votes:
        return "neutral"
    best = max(votes, key=votes.get)
    return best if votes[best] >= READS_AS_MIN else "neutral"


_basis_cache: list = []


def _reads_as_basis():
    if not _basis_cache:
        entries = [e for e in LIBRARY if np.any(e.weights > 0)]
        basis = np.stack([e.weights for e in entries], axis=1)  # (52, E)
        targets = [((e.emotion or e.hint), float(np.linalg.norm(e.weights))) for e in entries]
        _basis_cache.extend([basis, targets])
    return _basis_cache[0], _basis_cache[1]
