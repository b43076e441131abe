"""Reading and writing Praat TextGrids (long and short text formats).

Both text formats carry the same token stream once the keys (``xmin =``,
``intervals [3]:`` ...) are dropped: quoted strings, numbers and the
``<exists>`` flag.  We tokenise that stream and walk it, so one parser reads
both (UTF-8 or UTF-16 with a BOM, as Praat writes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..core.errors import FaceForgeError


@dataclass
class Interval:
    start: float
    end: float
    text: str


@dataclass
class Tier:
    name: str
    kind: str  # "IntervalTier" or "TextTier"
    intervals: list[Interval] = field(default_factory=list)  # TextTier: start == end (points)


@dataclass
class TextGrid:
    xmin: float
    xmax: float
    tiers: list[Tier]

    def tier(self, name: str) -> Tier:
        for t in self.tiers:
            if t.name.lower() == name.lower():
                return t
        raise KeyError(f"no tier named {name!r}; tiers: {[t.name for t in self.tiers]}")


_TOKEN = re.compile(r'"((?:[^"]|"")*)"|(<exists>|<absent>)|([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)')
_INDEX = re.compile(r"\[\s*\d*\s*\]")


def _tokens(text: str):
    text = _INDEX.sub(" ", text)  # "item [1]:", "intervals [3]:" -> no number
    out = []
    for m in _TOKEN.finditer(text):
        if m.group(1) is not None:
            out.append(m.group(1).replace('""', '"'))
        elif m.group(2) is not None:
            out.append(m.group(2))
        else:
            out.append(float(m.group(3)))
    return out


def _decode(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    return raw.decode("utf-8-sig", errors="replace")


def parse_textgrid(text: str) -> TextGrid:
    toks = _tokens(text)
    try:
        i = 0
        if toks[i] != "ooTextFile" or toks[i + 1] != "TextGrid":
            raise ValueError("not a TextGrid")
        i += 2
        xmin, xmax = float(toks[i]), float(toks[i + 1])
        i += 2
        if toks[i] != "<exists>":
            return TextGrid(xmin, xmax, [])
        n_tiers = int(toks[i + 1])
        i += 2
        tiers = []
        for _ in range(n_tiers):
            kind, name = toks[i], toks[i + 1]
            i += 4  # kind, name, xmin, xmax
            n = int(toks[i])
            i += 1
            tier = Tier(name=name, kind=kind)
            for _ in range(n):
                if kind == "IntervalTier":
                    tier.intervals.append(Interval(float(toks[i]), float(toks[i + 1]), str(toks[i + 2])))
                    i += 3
                else:
                    tier.intervals.append(Interval(float(toks[i]), float(toks[i]), str(toks[i + 1])))
                    i += 2
            tiers.append(tier)
    except (IndexError, ValueError, TypeError) as exc:
        raise FaceForgeError(f"Not a readable Praat TextGrid ({exc})") from exc
    return TextGrid(xmin, xmax, tiers)


def read_textgrid(path: str) -> TextGrid:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise FaceForgeError(f"Cannot read TextGrid {path}: {exc.strerror}") from exc
    return parse_textgrid(_decode(raw))


def write_textgrid(path: str, tiers: dict[str, list[tuple[float, float, str]]], xmax: float,
                   xmin: float = 0.0) -> None:
    """Write interval tiers ``{name: [(start, end, text), ...]}`` in the long text format."""
    lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", f"xmin = {xmin:.10g}",
             f"xmax = {xmax:.10g}", "tiers? <exists>", f"size = {len(tiers)}", "item []:"]
    for k, (name, ivs) in enumerate(tiers.items(), 1):
        lines += [f"    item [{k}]:", '        class = "IntervalTier"', f'        name = "{name}"',
                  f"        xmin = {xmin:.10g}", f"        xmax = {xmax:.10g}",
                  f"        intervals: size = {len(ivs)}"]
        for j, (a, b, t) in enumerate(ivs, 1):
            t = str(t).replace('"', '""')
            lines += [f"        intervals [{j}]:", f"            xmin = {a:.10g}", f"            xmax = {b:.10g}",
                      f'            text = "{t}"']
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
