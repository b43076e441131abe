"""Optional diffusion backend: setup messages, JSON-lines worker protocol, skin-tone matching,
and a real diffusers pipeline (tiny, randomly initialised, built here: no downloads)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from faceforge.core.errors import FaceForgeError
from faceforge.inference import diffusion_client as dc

ROOT = Path(__file__).resolve().parents[1]
BUILD_PY = ROOT / ".venv-build" / "bin" / "python"
REAL_WORKER = dc.WORKER_SCRIPT

FAKE_WORKER = r'''
import importlib.util, os, sys, time
spec = importlib.util.spec_from_file_location("w", sys.argv[1])
w = importlib.util.module_from_spec(spec); spec.loader.exec_module(w)

class Fake:
    kind = "FakeInvertPipeline"
    def edit(self, image_path, prompt, mask_path, steps, seed, out_path):
        if prompt == "fail": raise RuntimeError("out of memory")
        if prompt == "slow": time.sleep(30)
        if prompt == "crash": os._exit(3)
        print("a library printing on stdout")  # must not break the protocol
        data = open(image_path, "rb").read()
        out = out_path or image_path + ".edited"
        open(out, "wb").write(bytes(255 - b for b in data))
        return out

sys.stdout, proto = sys.stderr, sys.stdout
sys.exit(w.serve(Fake, stdout=proto))
'''


@pytest.fixture
def fake_setup(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "model_index.json").write_text("{}")
    script = tmp_path / "fake_worker.py"
    script.write_text(FAKE_WORKER)
    return model, script


class _Wrapped(dc.DiffusionWorker):
    """A DiffusionWorker running the fake script with this venv's Python."""

    def __init__(self, model, script):
        super().__init__(sys.executable, str(model), script=str(script), start_timeout=60)


@pytest.fixture
def worker_module_arg(monkeypatch):
    """Make DiffusionWorker pass the real worker module path to the fake scripts."""
    real_popen = subprocess.Popen

    def popen(cmd, *a, **k):
        if cmd[1].endswith("fake_worker.py"):
            cmd = [cmd[0], cmd[1], REAL_WORKER]
        return real_popen(cmd, *a, **k)

    monkeypatch.setattr(dc.subprocess, "Popen", popen)


def test_setup_problem_says_exactly_what_to_set(tmp_path):
    assert "Set 'Worker Python'" in dc.setup_problem("", "")
    assert "not an executable file" in dc.setup_problem(str(tmp_path / "nope"), "")
    assert "Set 'Diffusion Model Folder'" in dc.setup_problem(sys.executable, "")
    assert "no model_index.json" in dc.setup_problem(sys.executable, str(tmp_path))
    (tmp_path / "model_index.json").write_text("{}")
    assert dc.setup_problem(sys.executable, str(tmp_path)) is None
    with pytest.raises(FaceForgeError, match="Set 'Worker Python'"):
        dc.DiffusionWorker("", "")


def test_operator_unavailable_until_configured(ff):
    import bpy

    from test_emotions import make_character

    make_character()
    assert not bpy.ops.faceforge.pose_from_diffusion.poll()


def test_protocol_ping_edit_errors_and_stdout_noise(fake_setup, tmp_path, worker_module_arg):
    model, script = fake_setup
    img = tmp_path / "face.bin"
    img.write_bytes(bytes(range(10)))
    with _Wrapped(model, script) as worker:
        assert worker.info["pipeline"] == "FakeInvertPipeline"
        out = worker.edit(str(img), "make her smile", steps=2, seed=1)
        assert Path(out).read_bytes() == bytes(255 - b for b in range(10))
        with pytest.raises(FaceForgeError, match="failed on 'edit': RuntimeError: out of memory"):
            worker.edit(str(img), "fail")
        assert worker.ping()["ok"]  # still serving after an error
        with pytest.raises(FaceForgeError, match="unknown command"):
            worker.request("bogus", timeout=10)
        with pytest.raises(FaceForgeError, match="Image to edit not found"):
            worker.edit(str(tmp_path / "none.png"), "smile")
    assert worker.proc.poll() == 0  # quit cleanly


def test_timeout_and_crash_are_clean_errors(fake_setup, tmp_path, worker_module_arg):
    model, script = fake_setup
    img = tmp_path / "face.bin"
    img.write_bytes(b"abc")
    worker = _Wrapped(model, script)
    with pytest.raises(FaceForgeError, match="did not answer 'edit' within 1 s"):
        worker.edit(str(img), "slow", timeout=1)
    assert worker.proc.poll() is not None  # stopped, not left running
    worker = _Wrapped(model, script)
    with pytest.raises(FaceForgeError, match=r"exited \(code 3\)"):
        worker.edit(str(img), "crash", timeout=30)
    with pytest.raises(FaceForgeError, match="has stopped"):
        worker.ping()
    worker.close()


def test_skin_tone_matching_in_lab_restores_the_original_tone():
    rng = np.random.default_rng(0)
    h, w = 64, 64
    yy, xx = np.mgrid[0:h, 0:w]
    shade = (0.6 + 0.4 * np.sin(xx / 9.0) * np.cos(yy / 7.0))[..., None]
    skin = np.array([205, 150, 120], float)
    original = np.clip(shade * skin + rng.normal(0, 4, (h, w, 3)), 0, 255).astype(np.uint8)
    edited = np.clip(original.astype(float) * [0.8, 0.9, 1.25] + 10, 0, 255).astype(np.uint8)  # bluish cast
    fixed = dc.match_skin_tone(edited, original)
    import cv2

    lab = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(float).mean(0)
    assert np.linalg.norm(lab(fixed) - lab(original)) < 0.25 * np.linalg.norm(lab(edited) - lab(original))
    # the edit's structure stays (lightness pattern still the edited one)
    l_fixed = cv2.cvtColor(fixed, cv2.COLOR_RGB2LAB)[..., 0].ravel().astype(float)
    l_edit = cv2.cvtColor(edited, cv2.COLOR_RGB2LAB)[..., 0].ravel().astype(float)
    assert np.corrcoef(l_fixed, l_edit)[0, 1] > 0.98
    # a mask limits the change to the skin
    mask = np.zeros((h, w), bool)
    mask[16:48, 16:48] = True
    masked = dc.match_skin_tone(edited, original, mask=mask)
    np.testing.assert_array_equal(masked[~mask], edited[~mask])
    assert not np.array_equal(masked[mask], edited[mask])
    np.testing.assert_array_equal(dc.match_skin_tone(edited, original, strength=0.0), edited)


TINY_PIPELINE = r'''
import json, os, sys
out = sys.argv[1]
import torch
from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionInstructPix2PixPipeline, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer
torch.manual_seed(0)
tok = os.path.join(out + "_tok"); os.makedirs(tok, exist_ok=True)
vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, "!": 2}
for c in "abcdefghijklmnopqrstuvwxyz":
    vocab[c] = len(vocab); vocab[c + "</w>"] = len(vocab)
json.dump(vocab, open(os.path.join(tok, "vocab.json"), "w"))
open(os.path.join(tok, "merges.txt"), "w").write("#version: 0.2\n")
tokenizer = CLIPTokenizer(os.path.join(tok, "vocab.json"), os.path.join(tok, "merges.txt"), model_max_length=16)
text = CLIPTextModel(CLIPTextConfig(vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                    num_attention_heads=2, max_position_embeddings=16, projection_dim=16,
                                    bos_token_id=0, eos_token_id=1, pad_token_id=1))
unet = UNet2DConditionModel(block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=8,
                            out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=16,
                            attention_head_dim=2, norm_num_groups=4)
vae = AutoencoderKL(block_out_channels=(8, 16), in_channels=3, out_channels=3, latent_channels=4,
                    down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                    norm_num_groups=4, sample_size=16)
StableDiffusionInstructPix2PixPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
                                       scheduler=DDIMScheduler(), safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False).save_pretrained(out)
'''


def _build_env_has_diffusers() -> bool:
    if not BUILD_PY.exists():
        return False
    return subprocess.run([str(BUILD_PY), "-c", "import diffusers, transformers, torch"],
                          capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory):
    """A randomly initialised InstructPix2Pix pipeline saved with save_pretrained (no downloads)."""
    if not _build_env_has_diffusers():
        pytest.skip(".venv-build with torch + diffusers is missing (scripts/setup_env.sh creates it)")
    model = tmp_path_factory.mktemp("diffusion") / "tiny-pix2pix"
    proc = subprocess.run([str(BUILD_PY), "-c", TINY_PIPELINE, str(model)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return model


@pytest.mark.slow
def test_real_worker_edits_with_a_tiny_random_instructpix2pix_pipeline(tiny_pipeline, tmp_path):
    import cv2

    model = tiny_pipeline
    assert json.loads((model / "model_index.json").read_text())["_class_name"] == \
        "StableDiffusionInstructPix2PixPipeline"
    face = np.zeros((40, 48, 3), np.uint8)
    face[:] = (190, 140, 110)
    src = tmp_path / "face.png"
    cv2.imwrite(str(src), face[..., ::-1])
    with dc.DiffusionWorker(str(BUILD_PY), str(model), start_timeout=300) as worker:
        assert worker.info["pipeline"] == "StableDiffusionInstructPix2PixPipeline"
        out = worker.edit(str(src), "make him smile", steps=2, seed=0, out_path=str(tmp_path / "edited.png"))
        edited = cv2.imread(out)[..., ::-1]
        assert edited.shape == face.shape  # back at the input size
        again = worker.edit(str(src), "make him smile", steps=2, seed=0, out_path=str(tmp_path / "again.png"))
        np.testing.assert_array_equal(cv2.imread(again), cv2.imread(out))  # seeded: reproducible
    matched = dc.match_skin_tone(edited, face)
    assert np.abs(matched.reshape(-1, 3).mean(0) - face.reshape(-1, 3).mean(0)).max() < 6


FAKE_SMILE_WORKER = r'''
import importlib.util, shutil, sys
spec = importlib.util.spec_from_file_location("w", sys.argv[1])
w = importlib.util.module_from_spec(spec); spec.loader.exec_module(w)
calls = []

class Fake:
    kind = "FakeInpaintPipeline"
    def edit(self, image_path, prompt, mask_path, steps, seed, out_path):
        import numpy as np, cv2
        img = cv2.imread(image_path)
        img[..., 0] = np.clip(img[..., 0].astype(int) + 40, 0, 255)  # a colour cast to be undone
        cv2.imwrite(out_path, img)
        print("mask:", mask_path, file=sys.stderr)
        return out_path

sys.stdout, proto = sys.stderr, sys.stdout
sys.exit(w.serve(Fake, stdout=proto))
'''


def test_diffusion_job_renders_edits_matches_tone_and_leaves_the_scene(ff, tmp_path, worker_module_arg,
                                                                       monkeypatch):
    """The whole chain up to the image solver, on a rendered character, with a fake worker."""
    import bpy
    import cv2

    from faceforge.api import expressions
    from faceforge.core.jobs import run_sync
    from test_emotions import make_character

    obj = make_character()
    model = tmp_path / "model"
    model.mkdir()
    (model / "model_index.json").write_text("{}")
    script = tmp_path / "fake_worker.py"
    script.write_text(FAKE_SMILE_WORKER)
    monkeypatch.setattr(dc, "WORKER_SCRIPT", str(script))
    monkeypatch.setattr(dc, "_shared", {})
    before = ({o.name for o in bpy.data.objects}, bpy.context.scene.camera, bpy.context.scene.render.engine)
    out = tmp_path / "out"
    try:
        result = run_sync(expressions.diffusion_pose_job(obj, "make it smile", sys.executable, str(model),
                                                         out_dir=str(out), size=64), on_progress=None)
    except FaceForgeError as err:
        # The image solve needs a character with bound landmarks and a face MediaPipe
        # can see; this fixture is neither, so the chain stops there with that message.
        assert "no landmarks" in str(err) or "No face" in str(err)
        result = None
    render = cv2.imread(str(out / "render.png"))
    edited = cv2.imread(str(out / "edited.png"))
    matched = cv2.imread(str(out / "edited_matched.png"))
    assert render.shape == (64, 64, 3) and render.std() > 0  # something was rendered
    assert abs(edited[..., 0].mean() - render[..., 0].mean()) > 10  # the worker's cast
    assert abs(matched[..., 0].mean() - render[..., 0].mean()) < 3  # undone by Lab matching
    after = ({o.name for o in bpy.data.objects}, bpy.context.scene.camera, bpy.context.scene.render.engine)
    assert after == before  # temporary camera and light removed, settings restored
    if result is not None:
        assert result["edited"].endswith("edited_matched.png")
    dc.close_shared()


@pytest.mark.slow
def test_diffusion_job_with_the_real_worker_and_a_warm_restart(ff, tiny_pipeline, tmp_path, monkeypatch):
    """Render -> real worker (tiny random pipeline) -> Lab match; the worker stays warm between edits."""
    import cv2

    from faceforge.api import expressions
    from faceforge.core.jobs import run_sync
    from test_emotions import make_character

    monkeypatch.setattr(dc, "_shared", {})
    obj = make_character()

    def run(out):
        try:
            return run_sync(expressions.diffusion_pose_job(obj, "make it smile", str(BUILD_PY), str(tiny_pipeline),
                                                           steps=2, out_dir=str(out), size=64), on_progress=None)
        except FaceForgeError as err:  # until the video stage's image solver is on main
            assert "no landmarks" in str(err) or "No face" in str(err)  # fixture: no bound face

    run(tmp_path / "a")
    assert cv2.imread(str(tmp_path / "a" / "edited_matched.png")).shape == (64, 64, 3)
    (worker,) = dc._shared.values()
    pid = worker.proc.pid
    run(tmp_path / "b")
    assert dc._shared[next(iter(dc._shared))].proc.pid == pid  # reused, not restarted
    worker.proc.kill()
    worker.proc.wait()
    run(tmp_path / "c")  # a dead worker is replaced
    assert next(iter(dc._shared.values())).proc.pid != pid
    dc.close_shared()
    assert not dc._shared


def test_diffusion_job_removes_its_temporary_folder(ff, tmp_path, worker_module_arg, monkeypatch):
    """Without an output folder the job works in a temporary one, removed however the job ends
    (here the image solve refuses the fixture, which has no bound landmarks)."""
    import tempfile

    from faceforge.api import expressions
    from faceforge.core.jobs import run_sync
    from test_emotions import make_character

    obj = make_character()
    model = tmp_path / "model"
    model.mkdir()
    (model / "model_index.json").write_text("{}")
    script = tmp_path / "fake_worker.py"
    script.write_text(FAKE_SMILE_WORKER)
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setattr(dc, "WORKER_SCRIPT", str(script))
    monkeypatch.setattr(dc, "_shared", {})
    try:
        result = run_sync(expressions.diffusion_pose_job(obj, "make it smile", sys.executable, str(model), size=64),
                          on_progress=None)
        assert result["edited"] is None  # the images went with the folder
    except FaceForgeError as err:
        assert "no landmarks" in str(err) or "No face" in str(err)
    finally:
        dc.close_shared()
    assert list(temp.iterdir()) == []
