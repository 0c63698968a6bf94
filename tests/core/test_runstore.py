"""Run directories: ids, resolution of RUN arguments, truthful status, summaries."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes import FakeRun
from workbench.errors import RunError
from workbench.run_summary import summarize
from workbench.runstore import RunDir, list_runs, new_run_dir, resolve_run


def test_new_run_dirs_are_unique_even_in_the_same_second(runs_dir: Path) -> None:
    made = {new_run_dir(runs_dir, "sst2-lora").path for _ in range(5)}
    assert len(made) == 5


def test_run_arguments_resolve_by_path_id_or_unique_prefix(runs_dir: Path) -> None:
    a = FakeRun(runs_dir, "2026-11-28_101200_sst2-lora").run
    b = FakeRun(runs_dir, "2026-11-28_111200_imdb-full").run
    assert resolve_run(str(a.path)) == a
    assert resolve_run(a.id, runs_dir) == a
    assert resolve_run("2026-11-28_11", runs_dir) == b
    assert resolve_run("imdb-full", runs_dir) == b
    with pytest.raises(RunError, match="matches 2 runs"):
        resolve_run("2026-11-28", runs_dir)
    with pytest.raises(RunError, match="no run 'zzz'"):
        resolve_run("zzz", runs_dir)


def test_runs_dir_comes_from_the_environment(runs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = FakeRun(runs_dir).run
    monkeypatch.setenv("TLWB_RUNS_DIR", str(runs_dir))
    assert resolve_run(run.id) == run


def test_a_dead_process_is_failed_not_running(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    fake.run.write_status(state="running", pid=child.pid, pid_start=None)
    status = fake.run.status()
    assert status["state"] == "failed" and status["kind"] == "vanished"
    assert "resume" in status["hint"]


def test_a_recycled_pid_is_not_mistaken_for_the_run(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir)
    fake.run.write_status(state="running", pid=os.getpid(), pid_start=12345.0)  # alive pid, wrong start time
    assert fake.run.status()["state"] == "failed"


def test_summary_reads_config_status_and_best_metric(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir)
    fake.started()
    fake.eval(50, 0.79)
    fake.eval(100, 0.81)
    fake.finish(duration_s=112)
    summary = summarize(fake.run)
    assert summary.state == "finished"
    assert (summary.best_metric, summary.best_value) == ("accuracy", 0.81)
    assert summary.duration_s == 112
    assert summary.method == "lora" and summary.model == "sentence-transformers/all-MiniLM-L6-v2"
    assert list_runs(runs_dir) == [fake.run]


def test_a_model_dir_without_its_completion_mark_is_not_usable(runs_dir: Path) -> None:
    run = FakeRun(runs_dir).run
    run.model_dir.mkdir()
    (run.model_dir / "config.json").write_text("{}")
    assert run.trained_model_dir() is None
    (run.model_dir / ".complete").write_text("{}")
    assert run.trained_model_dir() == run.model_dir


def test_status_is_typed_keeps_unknown_keys_and_drops_cleared_ones(runs_dir: Path) -> None:
    from workbench.runstore import RunStatus

    run = FakeRun(runs_dir).run
    run.status_path.write_text('{"state": "running", "pid": 7, "best": {"name": "f1", "value": 0.5, "step": 3}, "from_a_newer_version": 1}')
    status = run.read_status()
    assert isinstance(status, RunStatus) and status.best.name == "f1" and status["best"]["value"] == 0.5
    assert status.get("from_a_newer_version") == 1  # kept, not understood
    written = run.write_status(state="failed", kind="oom", pid=None)
    assert (written.state, written.kind, written.pid) == ("failed", "oom", None)
    on_disk = __import__("json").loads(run.status_path.read_text())
    assert "pid" not in on_disk and on_disk["from_a_newer_version"] == 1 and on_disk["best"]["step"] == 3


def test_a_live_summary_counts_its_open_segment_up_to_now(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir)  # its pid is this process: alive
    fake.started()
    fake.step(10, 0.6)
    summary = summarize(fake.run)
    assert summary.state == "running" and summary.extra["step"]["step"] == 10
    assert summary.duration_at(fake.started_at + 69) == 69


def test_a_run_read_while_it_is_deleted_is_not_left_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Runs screen rescans while a deletion goes on. Removed in place, a run whose status.json
    went first was read, its status rebuilt into the half-removed folder, and the folder stayed
    (a CI failure of the TUI's delete test). Here the read happens mid-removal, every time."""
    import shutil

    fake = FakeRun(tmp_path / "runs")
    fake.started()
    fake.finish()
    run = fake.run
    real_rmtree = shutil.rmtree
    seen: list[str] = []

    def rmtree_with_a_reader_in_between(path, *args, **kwargs):  # noqa: ANN001 - shutil's signature
        (Path(path) / "status.json").unlink()  # removal got as far as status.json …
        seen.append(run.status().state)  # … when a rescan reads the run by its name
        assert list_runs(tmp_path / "runs") == []  # … or lists the runs
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", rmtree_with_a_reader_in_between)
    run.delete()
    assert seen == ["missing"]  # the reader found no run, so it rebuilt nothing
    assert not run.path.exists() and list((tmp_path / "runs").iterdir()) == []
    run.delete()  # deleting what is gone is not an error


def test_a_reader_that_read_a_run_just_before_its_deletion_does_not_bring_it_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Runs rescan reads a run, the run is deleted, then the rescan stores what it read (the
    summary cache, a rebuilt status): those writes must fail, not recreate the run's folder (a
    quiet suite run failed the TUI's delete test on it)."""
    from workbench import run_summary

    fake = FakeRun(tmp_path / "runs")
    fake.started()
    fake.fail(message="out of memory", hint="lower training.batch_size")
    run = fake.run
    real_build = run_summary.build_summary

    def deleted_while_reading(run_read: RunDir, history=None):  # noqa: ANN001, ANN202 - build_summary's signature
        summary = real_build(run_read, history)
        run.delete()  # the deletion lands between the read and the write
        return summary

    monkeypatch.setattr(run_summary, "build_summary", deleted_while_reading)
    assert run_summary.load_summary(run)["state"] == "failed"  # the reader still gets its answer
    assert not run.path.exists() and list((tmp_path / "runs").iterdir()) == []

    again = FakeRun(tmp_path / "runs", "2026-11-28_101300_fake-sst2")
    again.started()
    again.run.status_path.write_text("{garbled")
    real_history = RunDir.history

    def history_then_deleted(self: RunDir):  # noqa: ANN202
        history = real_history(self)
        self.delete()
        return history

    monkeypatch.setattr(RunDir, "history", history_then_deleted)
    assert again.run.status().state != "missing"  # rebuilt from the events it read
    assert not again.run.path.exists() and list((tmp_path / "runs").iterdir()) == []

