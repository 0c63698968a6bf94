"""RunWatcher on its own: it follows a run to its true end, across resumes."""

from __future__ import annotations

from pathlib import Path

from screens.run_watcher import RunWatcher
from tests.fakes import FakeRun


def test_a_resumed_run_is_followed_past_its_earlier_cancel(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir)
    fake.started()
    fake.step(10, 0.6)
    fake.writer.emit("cancelled", step=10, checkpoint="checkpoints/checkpoint-10")
    fake.started()  # `tlwb resume` appends a second `started`
    fake.step(20, 0.5)
    watcher = RunWatcher(fake.run)
    watcher.absorb(watcher._tail.poll())
    assert watcher.ended is None and watcher.state == "running"
    assert [s["step"] for s in watcher.steps] == [10, 20]
    fake.finish()
    watcher.absorb(watcher._tail.poll())
    assert watcher.ended is not None and watcher.ended["type"] == "finished"
