"""Timelines: parsing, keys at the right times, eased transitions, continuity, subtle life, baking."""

import numpy as np
import pytest

from faceforge.animation import emotions, timeline as T
from faceforge.core.arkit import ARKIT_NAMES, INDEX
from faceforge.core.errors import FaceForgeError

ISSUE = "neutral 0.5 s -> happy 1 s -> surprised 0.8 s -> neutral"


def test_parse_the_issue_example_and_variants():
    steps = T.parse(ISSUE)
    assert [(s.text, s.duration) for s in steps] == [
        ("neutral", 0.5), ("happy", 1.0), ("surprised", 0.8), ("neutral", None)]
    steps = T.parse("neutral 500ms → 70% happy + 30% surprised 1.5s => a shy smile for 2 sec")
    assert [(s.text, s.duration) for s in steps] == [
        ("neutral", 0.5), ("70% happy + 30% surprised", 1.5), ("a shy smile", 2.0)]
    file_text = "# my take\nneutral 0.5 s\nhappy 1 s   # big smile\n\nsad 2 seconds\n"
    assert [(s.text, s.duration) for s in T.parse(file_text)] == [
        ("neutral", 0.5), ("happy", 1.0), ("sad", 2.0)]


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("neutral -> happy 1 s", "Step 1 .* needs a duration"),
    ("happy 0 s -> sad", "more than 0 s"),
    ("1 s -> sad", "no expression"),
])
def test_bad_timelines_say_what_to_fix(text, message):
    with pytest.raises(FaceForgeError, match=message):
        T.parse(text)


def test_keys_at_the_right_times_and_held_between():
    tl = T.build(T.parse(ISSUE), transition=0.3)
    np.testing.assert_allclose(tl.starts, [0.0, 0.5, 1.5, 2.3])
    np.testing.assert_allclose(tl.key_times(), [0.0, 0.8, 1.8, 2.6])
    happy = emotions.EMOTION_POSES["happiness"]
    surprise = emotions.EMOTION_POSES["surprise"]
    # each expression is reached at its key time and still held when the next step starts
    for t, pose in ((0.0, 0 * happy), (0.5, 0 * happy), (0.8, happy), (1.5, happy), (1.8, surprise),
                    (2.3, surprise), (2.6, 0 * happy), (tl.length, 0 * happy)):
        np.testing.assert_allclose(T.evaluate(tl, [t])[0], pose, atol=1e-12, err_msg=str(t))


def test_transitions_are_eased():
    tl = T.build(T.parse("neutral 1 s -> happy 1 s"), transition=0.4)
    k = INDEX["mouthSmileLeft"]
    target = emotions.EMOTION_POSES["happiness"][k]
    t = np.linspace(1.0, 1.4, 401)
    v = T.evaluate(tl, t)[:, k] / target
    assert v[200] == pytest.approx(0.5)  # symmetric S-curve
    slope = np.diff(v) / np.diff(t)
    # slow in, slow out: near-zero velocity at both ends, fastest in the middle (1.5x linear)
    assert slope[0] < 0.05 * slope.max() and slope[-1] < 0.05 * slope.max()
    assert slope.max() == pytest.approx(1.5 / 0.4, rel=0.02)
    assert np.all(np.diff(v) >= 0)
    # a transition never exceeds half its step
    tl2 = T.build(T.parse("neutral 1 s -> happy 0.2 s -> sad 1 s"), transition=0.4)
    np.testing.assert_allclose(tl2.ramps, [0.0, 0.1, 0.4])
    np.testing.assert_allclose(T.evaluate(tl2, [1.1])[0], emotions.EMOTION_POSES["happiness"])


def test_values_continuous_and_within_0_1_with_life():
    tl, times, w = T.bake("neutral 0.5 s -> happy 1 s -> surprised 0.8 s -> neutral 1 s -> 100% fear 3 s -> angry 4 s -> neutral", fps=24, life=True, seed=3)
    assert w.shape == (len(times), 52)
    assert w.min() >= 0.0 and w.max() <= 1.0
    np.testing.assert_allclose(np.diff(times), 1 / 24)
    assert tl.length <= times[-1] < tl.length + 1 / 24
    # continuity of the underlying curves: sampled at 2 kHz no step jumps more than the
    # steepest easing allows (no pops between steps)
    fine = np.arange(0, tl.length, 0.0005)
    base = T.evaluate(tl, fine)
    assert np.abs(np.diff(base, axis=0)).max() < 1.5 / 0.3 * 0.0005 * 1.01
    lively = T.add_life(fine, base, fps=2000, seed=3)
    assert np.abs(np.diff(lively, axis=0)).max() < 0.05  # blinks too are smooth curves
    assert lively.min() >= 0 and lively.max() <= 1


def test_subtle_life_blinks_at_natural_intervals_and_moves_a_held_face():
    tl = T.build(T.parse("happy 30 s"))
    times, still = T.sample(tl, 60)
    lively = T.add_life(times, still, fps=60, seed=7)
    blink = lively[:, INDEX["eyeBlinkLeft"]]
    closed = blink > 0.95
    starts = times[1:][closed[1:] & ~closed[:-1]]
    gaps = np.diff(starts)
    assert 5 <= len(starts) <= 15 and gaps.min() >= 2.0 - 0.02 and gaps.max() <= 6.0 + 0.02
    # each blink: about 150 ms from opening to opening
    first = np.flatnonzero(blink > 0.05)
    run = first[: np.argmax(np.diff(first) > 1) + 1] if np.any(np.diff(first) > 1) else first
    assert 0.08 <= (run[-1] - run[0] + 1) / 60 <= 0.2
    np.testing.assert_array_equal(blink, lively[:, INDEX["eyeBlinkRight"]])  # both eyes together
    # between blinks the held face still moves, but only a little
    drift = lively - still
    drift[:, [INDEX["eyeBlinkLeft"], INDEX["eyeBlinkRight"], INDEX["browDownLeft"], INDEX["browDownRight"]]] = 0
    assert drift[:, INDEX["browInnerUp"]].std() > 0.005
    assert np.abs(drift).max() <= 0.07
    # seeded: the same seed gives the same take, another seed another
    np.testing.assert_array_equal(lively, T.add_life(times, still, fps=60, seed=7))
    assert not np.array_equal(lively, T.add_life(times, still, fps=60, seed=8))


def test_no_blink_while_the_eyes_are_already_shut():
    times = np.arange(0, 20, 1 / 30)
    shut = np.zeros((len(times), 52))
    shut[:, INDEX["eyeBlinkLeft"]] = shut[:, INDEX["eyeBlinkRight"]] = 1.0
    out = T.add_life(times, shut, fps=30, seed=1, drift=False)
    np.testing.assert_allclose(out[:, INDEX["eyeBlinkLeft"]], 1.0)


# --- Blender: baking a take ------------------------------------------------------------

def test_timeline_job_bakes_keys_and_keeps_the_existing_action(ff):
    import bpy

    from faceforge.api import actions, expressions
    from faceforge.core.jobs import run_sync
    from test_emotions import make_character

    obj = make_character()
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 24, 1.0
    old = run_sync(expressions.timeline_job(obj, "sad 1 s", start_frame=1, life=False,
                                            action_name="Old"))["action"]
    result = run_sync(expressions.timeline_job(obj, ISSUE, start_frame=10, life=False, keys="dense"))
    key = obj.data.shape_keys
    assert key.animation_data.action.name == result["action"] != old
    assert bpy.data.actions[old].use_fake_user  # the earlier take survives saving
    assert result["frames"] == (10, 10 + int(np.ceil(2.9 * 24)))
    assert scene.frame_end >= result["frames"][1]  # the whole take is in the scene's range
    np.testing.assert_allclose(result["key_frames"], [10, 10 + 0.8 * 24, 10 + 1.8 * 24, 10 + 2.6 * 24])
    got = actions.sample_shape_key_curves(obj, ARKIT_NAMES, [10 + 1.5 * 24, 10 + 2.25 * 24])
    np.testing.assert_allclose(got[0], emotions.EMOTION_POSES["happiness"], atol=1e-6)
    np.testing.assert_allclose(got[1], emotions.EMOTION_POSES["surprise"], atol=1e-6)
    fcurve = next(fc for fc in actions.all_fcurves(key.animation_data.action)
                  if fc.data_path == 'key_blocks["jawOpen"].value')
    assert len(fcurve.keyframe_points) == int(np.ceil(2.9 * 24)) + 1
    # replace=True rewrites the current action instead of adding one
    n_actions = len(bpy.data.actions)
    again = run_sync(expressions.timeline_job(obj, "happy 1 s", replace=True, life=False, keys="dense"))
    assert again["action"] == result["action"] and len(bpy.data.actions) == n_actions


def test_sparse_bezier_keys_give_the_same_eased_take(ff):
    import bpy

    from faceforge.api import actions, expressions
    from faceforge.core.jobs import run_sync
    from test_emotions import make_character

    obj = make_character()
    bpy.context.scene.render.fps, bpy.context.scene.render.fps_base = 24, 1.0
    result = run_sync(expressions.timeline_job(obj, ISSUE, start_frame=1, life=False))  # auto: sparse
    assert result["interpolation"] == "BEZIER" and result["keys"] == 8  # 0, 2 per transition x3, end
    tl = T.build(T.parse(ISSUE), transition=0.3)
    t = np.linspace(0, tl.length, 300)
    baked = actions.sample_shape_key_curves(obj, ARKIT_NAMES, 1 + t * 24)
    # the Bezier curves reproduce the smoothstep timeline (keys exact, transitions within 2 %)
    np.testing.assert_allclose(baked, T.evaluate(tl, t), atol=0.02)
    np.testing.assert_allclose(actions.sample_shape_key_curves(obj, ARKIT_NAMES, 1 + tl.key_times() * 24),
                               tl.poses, atol=1e-6)
    assert baked.min() >= -1e-6 and baked.max() <= 1 + 1e-6  # clamped handles: no overshoot
    with pytest.raises(FaceForgeError, match="Subtle life moves every frame"):
        run_sync(expressions.timeline_job(obj, ISSUE, life=True, keys="sparse"))


def test_timeline_operator_from_file_and_text_prompts(ff, tmp_out):
    import bpy

    from faceforge.api import actions
    from test_emotions import make_character

    obj = make_character()
    path = tmp_out / "take.txt"
    path.write_text("neutral 0.5 s\nvery happy 1 s\nnot smiling 1 s\n")
    words = bpy.context.scene.faceforge.animate.expressions
    words.timeline_source, words.timeline_file, words.life = "FILE", str(path), True
    bpy.context.scene.faceforge.animate.start_frame = 1
    assert bpy.ops.faceforge.bake_timeline() == {"FINISHED"}
    fps = bpy.context.scene.render.fps / bpy.context.scene.render.fps_base
    smile = actions.sample_shape_key_curves(obj, ["mouthSmileLeft"], [1 + 1.4 * fps, 1 + 2.4 * fps])[:, 0]
    assert smile[0] > 0.8 and smile[1] < 0.05
    words.timeline_file = str(tmp_out / "missing.txt")
    with pytest.raises(RuntimeError, match="Timeline file not found"):
        bpy.ops.faceforge.bake_timeline()


def test_cli_timeline_on_a_saved_character(ff, tmp_out):
    import bpy

    from faceforge import cli
    from faceforge.api import scene
    from test_emotions import make_character

    make_character("Hero")
    src = scene.save_blend(str(tmp_out / "hero.blend"))
    out = tmp_out / "take.blend"
    assert cli.main(["timeline", "--character", src, "--object", "Hero", "--timeline", ISSUE,
                     "--fps", "25", "--out", str(out)]) == 0
    assert out.is_file()
    bpy.ops.wm.open_mainfile(filepath=str(out))
    action = bpy.data.objects["Hero"].data.shape_keys.animation_data.action
    assert action is not None and action.frame_range[1] == 1 + np.ceil(2.9 * 25)
    assert cli.main(["timeline", "--character", src, "--object", "Nobody", "--timeline", ISSUE]) == 2


class _Layout:
    """Records what a panel draws; checks every property and operator it names exists."""

    def __init__(self, log):
        self.log = log
        self.active = True

    def __getattr__(self, name):
        if name in ("box", "row", "column", "split"):
            return lambda *a, **k: _Layout(self.log)
        raise AttributeError(name)

    def prop(self, data, name, **kw):
        assert name in data.bl_rna.properties, name
        self.log.append(("prop", name))

    def operator(self, idname, **kw):
        mod, op = idname.split(".")
        assert hasattr(getattr(__import__("bpy").ops, mod), op), idname
        self.log.append(("operator", idname))

    def label(self, text="", **kw):
        self.log.append(("label", text))

    def progress(self, factor=0.0, text="", **kw):
        assert 0.0 <= factor <= 1.0
        self.log.append(("progress", text))


def test_panel_draws_settings_and_the_matches(ff):
    import types

    import bpy

    from faceforge.panels.expressions import VIEW3D_PT_faceforge_animate_expressions as Panel

    words = bpy.context.scene.faceforge.animate.expressions
    words.matches = "Happiness|0.820|0|a person smiling\nSmile (AU6+12)|0.180|0|a | odd clause"
    words.reads_as = "happiness"
    log = []
    for source in ("TEXT", "FILE"):
        words.timeline_source = source
        Panel.draw(types.SimpleNamespace(layout=_Layout(log)), bpy.context)
    ops = {x[1] for x in log if x[0] == "operator"}
    assert ops == {"faceforge.pose_emotion", "faceforge.pose_from_text", "faceforge.bake_timeline",
                   "faceforge.pose_from_diffusion", "faceforge.store_expression_scales"}
    assert ("progress", "Happiness (a person smiling)  82%") in log
    assert ("progress", "Smile (AU6+12) (a | odd clause)  18%") in log
    assert ("label", "Reads as: Happiness") in log
    assert {"timeline", "timeline_file", "emotion", "prompt", "life", "transition"} <= {x[1] for x in log}
