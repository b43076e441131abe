"""all-MiniLM-L6-v2 at run time: our tokenizer + onnxruntime reproduce the torch model."""

import json

import numpy as np
import pytest

from faceforge.inference import text_embed


@pytest.fixture(scope="module")
def embedder():
    if not text_embed.available():
        pytest.fail("models/minilm-l6.onnx is missing: run scripts/setup_env.sh (it exports the text model)")
    return text_embed.get()


def test_runtime_matches_stored_torch_reference_embeddings(embedder):
    """The export script stored sentence-transformers (torch) embeddings; ONNX + our tokenizer agree."""
    ref = json.load(open(text_embed.MODEL_DIR + "/minilm-l6-reference.json"))
    got = embedder.embed(ref["sentences"])
    want = np.asarray(ref["embeddings"], dtype=np.float32)
    assert got.shape == want.shape == (len(ref["sentences"]), 384)
    cos = (got * want).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1))
    assert cos.min() > 0.999, cos
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_batching_and_padding_do_not_change_an_embedding(embedder):
    alone = embedder.embed(["a delighted surprise"])[0]
    batched = embedder.embed(["x", "a delighted surprise", "a much longer sentence " * 5])[1]
    assert float(alone @ batched) > 0.9999


def test_tokenizer_follows_bert_uncased_rules():
    tok = text_embed.WordPiece(text_embed.VOCAB_PATH)
    assert text_embed.basic_tokenize("Café, NAÏVE!") == ["cafe", ",", "naive", "!"]
    ids = tok.encode("unbelievably happy")
    assert ids[0] == tok.cls and ids[-1] == tok.sep
    pieces = [k for i in ids[1:-1] for k, v in tok.vocab.items() if v == i]
    assert "".join(p.replace("##", "") for p in pieces) == "unbelievablyhappy"
    assert any(p.startswith("##") for p in pieces)  # a word split into word pieces
    assert len(tok.encode("word " * 1000)) == text_embed.MAX_TOKENS


def test_missing_model_says_how_to_get_it(tmp_path):
    from faceforge.core.errors import FaceForgeError

    with pytest.raises(FaceForgeError, match="setup_env.sh"):
        text_embed.TextEmbedder(str(tmp_path / "none.onnx"), str(tmp_path / "none.txt"))
