"""The job protocol: progress, offloaded work, errors and cancellation."""

import pytest

from faceforge.core.errors import Cancelled, FaceForgeError
from faceforge.core.jobs import Offload, Progress, run_sync


def heavy(n, report=None):
    total = 0
    for i in range(n):
        total += i
        if report:
            report((i + 1) / n, f"step {i}")
    return total


def test_run_sync_drives_offload_and_progress():
    seen = []
    state = {"cleaned": False}

    def job():
        try:
            yield Progress(0.0, "start")
            value = yield Offload(heavy, (10,), report=True, span=(0.5, 1.0))
            return value * 2
        finally:
            state["cleaned"] = True

    assert run_sync(job(), seen.append) == 90
    assert state["cleaned"]
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert min(fractions[1:]) >= 0.5


def test_errors_in_offloaded_work_reach_the_job():
    def boom():
        raise FaceForgeError("No face found in the render")

    caught = {}

    def job():
        try:
            yield Offload(boom)
        except FaceForgeError as err:
            caught["msg"] = str(err)
            raise

    with pytest.raises(FaceForgeError, match="No face found"):
        run_sync(job(), None)
    assert caught["msg"] == "No face found in the render"


def test_cancel_stops_long_work_and_runs_cleanup():
    undone = []

    def job():
        try:
            yield Offload(heavy, (1000,), report=True)
        finally:
            undone.append(True)

    with pytest.raises(Cancelled):
        run_sync(job(), None, cancelled=lambda: True)
    assert undone == [True]
