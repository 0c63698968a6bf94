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


async def test_after_the_end_the_watcher_follows_a_resume_started_elsewhere(runs_dir: Path, monkeypatch) -> None:
    """`tlwb resume` in another terminal while the TUI is open: the watcher (and every screen
    subscribed to it) goes back to running, then to the resumed run's real end."""
    import asyncio

    monkeypatch.setattr(RunWatcher, "poll_s", 0.02)
    monkeypatch.setattr(RunWatcher, "status_every_s", 0.05)
    monkeypatch.setattr(RunWatcher, "ended_poll_s", 0.05)
    fake = FakeRun(runs_dir)
    fake.started()
    fake.step(10, 0.6)
    fake.writer.emit("cancelled", time=fake.started_at + 60, step=10, checkpoint="checkpoints/checkpoint-10")
    fake.run.write_status(state="cancelled", ended_at=fake.started_at + 60)
    watcher = RunWatcher(fake.run)
    follow = asyncio.ensure_future(watcher.follow())

    async def until(condition, what: str) -> None:
        for _ in range(400):
            if condition():
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}")

    try:
        await until(lambda: watcher.state == "cancelled", "the cancel")
        fake.run.write_status(state="starting")  # what `runner.spawn` writes for the resumed process
        await until(lambda: watcher.state == "starting" and watcher.ended is None, "the resume (status)")
        fake.started()  # the resumed process has loaded model and data
        fake.step(20, 0.5)
        await until(lambda: watcher.state == "running" and watcher.latest_step.step == 20, "the resumed steps")
        fake.finish()
        await until(lambda: watcher.state == "finished", "the resumed run's end")
        assert len(watcher.history.segments) == 2 and watcher.ended.type == "finished"
    finally:
        follow.cancel()
