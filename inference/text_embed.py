"""Sentence embeddings with all-MiniLM-L6-v2 in onnxruntime (no torch at run time).

The model is exported by ``scripts/export_text_model.py`` (run by
``scripts/setup_env.sh`` in a separate build environment) to
``models/minilm-l6.onnx`` with its vocabulary ``models/minilm-l6-vocab.txt``.
Here: a pure-Python BERT uncased tokenizer (basic tokenizer + WordPiece, as
HuggingFace's ``BertTokenizer``), one onnxruntime session loaded once, mean
pooling over real tokens, L2 normalisation - the same recipe as
sentence-transformers, so embeddings match the torch model (checked by the
export script and by tests against stored reference embeddings).

``embed(["a smile"])`` -> (1, 384) float32, unit rows.
"""

from __future__ import annotations

import os
import threading
import unicodedata

import numpy as np

from ..core.errors import FaceForgeError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_DIR = os.path.join(ROOT, "models")
# fp16-stored weights (what the extension ships; same results as fp32, see
# scripts/export_text_model.py); the fp32 export where only it exists (a fresh checkout
# before setup has converted it).
MODEL_PATH = os.path.join(MODEL_DIR, "minilm-l6-fp16.onnx")
if not os.path.isfile(MODEL_PATH) and os.path.isfile(os.path.join(MODEL_DIR, "minilm-l6.onnx")):
    MODEL_PATH = os.path.join(MODEL_DIR, "minilm-l6.onnx")
VOCAB_PATH = os.path.join(MODEL_DIR, "minilm-l6-vocab.txt")
MAX_TOKENS = 256  # as sentence-transformers (max_seq_length) for this model
DIM = 384


# --- tokenizer ------------------------------------------------------------------

def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or
            0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or
            0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text: str) -> list[str]:
    """BERT's basic tokenizer, uncased: clean, lower-case, strip accents, split punctuation."""
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or (unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\t\n\r"):
            continue
        if _is_cjk(cp):
            out.append(f" {ch} ")
        elif ch.isspace() or unicodedata.category(ch) == "Zs":
            out.append(" ")
        else:
            out.append(ch)
    tokens = []
    for word in "".join(out).lower().split():
        word = "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")
        piece = ""
        for ch in word:
            if _is_punct(ch):
                if piece:
                    tokens.append(piece)
                    piece = ""
                tokens.append(ch)
            else:
                piece += ch
        if piece:
            tokens.append(piece)
    return tokens


class WordPiece:
    """Greedy longest-match-first WordPiece over a BERT vocabulary file."""

    def __init__(self, vocab_path: str):
        with open(vocab_path, encoding="utf-8") as fh:
            self.vocab = {line.rstrip("\n"): i for i, line in enumerate(fh)}
        self.unk = self.vocab["[UNK]"]
        self.cls = self.vocab["[CLS]"]
        self.sep = self.vocab["[SEP]"]
        self.pad = self.vocab["[PAD]"]

    def word_ids(self, word: str) -> list[int]:
        if len(word) > 100:
            return [self.unk]
        ids, start = [], 0
        while start < len(word):
            end, cur = len(word), None
            while start < end:
                sub = word[start:end] if start == 0 else "##" + word[start:end]
                if sub in self.vocab:
                    cur = self.vocab[sub]
                    break
                end -= 1
            if cur is None:
                return [self.unk]
            ids.append(cur)
            start = end
        return ids

    def encode(self, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
        ids = [i for w in basic_tokenize(text) for i in self.word_ids(w)]
        return [self.cls, *ids[:max_tokens - 2], self.sep]

    def batch(self, texts) -> tuple[np.ndarray, np.ndarray]:
        """(input_ids, attention_mask), both (B, L) int64, right-padded."""
        seqs = [self.encode(t) for t in texts]
        width = max(len(s) for s in seqs)
        ids = np.full((len(seqs), width), self.pad, dtype=np.int64)
        mask = np.zeros((len(seqs), width), dtype=np.int64)
        for r, s in enumerate(seqs):
            ids[r, :len(s)] = s
            mask[r, :len(s)] = 1
        return ids, mask


# --- model ----------------------------------------------------------------------

class TextEmbedder:
    """all-MiniLM-L6-v2 in onnxruntime.  Load once (:func:`get`), call :meth:`embed` often."""

    def __init__(self, model_path: str = MODEL_PATH, vocab_path: str = VOCAB_PATH, threads: int = 0):
        missing = [p for p in (model_path, vocab_path) if not os.path.isfile(p)]
        if missing:
            raise FaceForgeError(
                f"The text model is missing ({', '.join(os.path.basename(p) for p in missing)} in "
                f"{os.path.dirname(missing[0])}). Run scripts/setup_env.sh once (it exports "
                f"all-MiniLM-L6-v2 to ONNX), or reinstall the FaceForge extension.")
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise FaceForgeError("onnxruntime is not installed; reinstall the FaceForge extension "
                                 "(it bundles onnxruntime)") from exc
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            opts.intra_op_num_threads = threads
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(model_path, sess_options=opts, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = WordPiece(vocab_path)
        self._lock = threading.Lock()

    def embed(self, texts, batch_size: int = 64) -> np.ndarray:
        """(B, 384) float32 unit vectors (mean-pooled over tokens, L2-normalised)."""
        if isinstance(texts, str):
            texts = [texts]
        out = []
        for b in range(0, len(texts), batch_size):
            chunk = texts[b:b + batch_size]
            ids, mask = self.tokenizer.batch(chunk)
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            with self._lock:
                hidden = self.session.run(None, feed)[0]  # (B, L, 384)
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            out.append(pooled.astype(np.float32))
        return np.concatenate(out, axis=0) if out else np.zeros((0, DIM), np.float32)


_shared: TextEmbedder | None = None
_shared_lock = threading.Lock()


def available() -> bool:
    return os.path.isfile(MODEL_PATH) and os.path.isfile(VOCAB_PATH)


def get() -> TextEmbedder:
    """The process-wide embedder, loaded on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = TextEmbedder()
        return _shared
