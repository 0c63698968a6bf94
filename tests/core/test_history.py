"""RunHistory, the one fold over a run's events: state, ranking metric and best, splits, failure,
training time over segments; and a run directory of today's format (tests/fixtures/run_v1)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.core.tiny_runs import tlwb
from workbench.events import make_event
from workbench.history import RunHistory
from workbench.runinfo import run_details
from workbench.run_summary import summarize
from workbench.runstore import RunDir, list_runs

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "run_v1"
FIXTURE_RUN = "2026-12-02_215348_tiny-full"


def ev(type_: str, time: float, **fields: Any):
    return make_event(type_, time=time, **fields)


def started(time: float, **fields: Any):
    return ev("started", time, total_steps=100, **fields)


def validation(time: float, step: int, **metrics: float):
    return ev("eval", time, split="validation", step=step, metrics=metrics)


def test_best_follows_the_main_metric_the_run_wrote() -> None:
    history = RunHistory([
        started(0, task="text-classification", main_metric="macro_f1", greater_is_better=True),
        validation(10, 50, accuracy=0.90, macro_f1=0.70),
        validation(20, 100, accuracy=0.85, macro_f1=0.75),
        ev("eval", 21, split="test", step=100, metrics={"accuracy": 0.99, "macro_f1": 0.99}),  # never ranks
    ])
    assert history.main_metric == "macro_f1"
    assert history.best.model_dump() == {"name": "macro_f1", "value": 0.75, "step": 100}
    assert history.splits == ["validation", "test"]
    assert history.latest_eval("test").metrics["accuracy"] == 0.99
    assert [e.step for e in history.evaluations("validation")] == [50, 100]


def test_a_lower_is_better_metric_ranks_the_smallest() -> None:
    history = RunHistory([
        started(0, task="text-generation", main_metric="loss", greater_is_better=False),
        validation(10, 10, loss=2.5, perplexity=12.2),
        validation(20, 20, loss=1.9, perplexity=6.7),
        validation(30, 30, loss=2.1, perplexity=8.2),
    ])
    assert not history.greater_is_better
    assert (history.best.value, history.best.step) == (1.9, 20)


def test_old_runs_without_main_metric_fall_back_to_the_task() -> None:
    events = [started(0), validation(10, 50, f1=0.6, accuracy=0.97), validation(20, 100, f1=0.7, accuracy=0.96)]
    ner = RunHistory(events, task="token-classification")
    assert ner.main_metric == "f1" and ner.greater_is_better and ner.best.value == 0.7
    assert RunHistory(events, task="text-classification").best.value == 0.97
    assert RunHistory([started(0), validation(1, 1, loss=0.5), validation(2, 2, loss=0.4)], task=None).best is None


def test_a_resumed_run_reopens_and_its_time_is_the_sum_of_its_segments() -> None:
    history = RunHistory()
    for event in [started(1000), ev("step", 1030, step=10, loss=0.6), ev("cancelled", 1060, step=10, checkpoint="c-10")]:
        history.add(event)  # fed one at a time, as the TUI's watcher does
    assert history.state == "cancelled" and history.cancelled.step == 10
    assert history.training_seconds() == 60
    history.add(started(5000, resumed=True, resumed_from_step=10))  # `tlwb resume` an hour later
    assert history.state == "running" and history.ended is None and history.resumed
    history.add(ev("step", 5020, step=20, loss=0.5, elapsed_s=18.0))
    assert history.training_seconds(now=5040) == 60 + 40  # a live segment counts up to now
    assert history.training_seconds() == 60 + 20  # without a clock: up to its last event
    assert history.elapsed_seconds() == 60 + 18  # the trainer's own timer for the live segment
    assert history.progress == 0.2
    history.add(ev("finished", 5100, metrics={"accuracy": 0.8}, duration_s=100))
    assert history.state == "finished" and history.training_seconds() == 60 + 100
    assert len(history.resumes) == 2 and history.first_started.time == 1000


def test_an_auto_batch_retry_ends_a_segment_without_a_terminal_event() -> None:
    history = RunHistory([started(0), ev("step", 5, step=1), ev("log", 8, message="out of memory: retrying"), started(10), ev("finished", 30)])
    assert history.training_seconds() == 8 + 20
    assert [log.message for log in history.logs] == ["out of memory: retrying"]


def test_a_failure_is_the_runs_end_until_it_is_resumed() -> None:
    history = RunHistory([started(0), ev("failed", 5, kind="oom", message="out of memory", hint="smaller batch")])
    assert history.state == "failed" and (history.failure.kind, history.failure.hint) == ("oom", "smaller batch")
    history.add(started(10, resumed=True))
    assert history.failure is None and history.state == "running"
    assert RunHistory([]).state == "starting" and RunHistory([]).training_seconds() is None
    assert RunHistory([ev("failed", 1, kind="config", message="bad")]).state == "failed"  # failed before starting


def test_latest_samples_per_split_and_checkpoints() -> None:
    history = RunHistory([
        ev("samples", 1, split="validation", step=1, items=[{"text": "a"}]),
        ev("samples", 2, split="validation", step=2, items=[{"text": "b"}]),
        ev("samples", 3, split="test", step=2, items=[{"text": "c"}]),
        ev("checkpoint", 4, step=2, path="checkpoints/checkpoint-2"),
    ])
    assert history.samples["validation"].items == [{"text": "b"}] and history.samples["test"].step == 2
    assert [c.step for c in history.checkpoints] == [2]


# -- a run directory as the version before the typed contract wrote it -------------------------

@pytest.fixture
def v1_runs(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    shutil.copytree(FIXTURE, runs)
    return runs


def test_a_run_of_todays_format_folds(v1_runs: Path) -> None:
    run = RunDir(v1_runs / FIXTURE_RUN)
    history = run.history()
    assert history.state == "finished" and history.task == "text-classification"
    assert history.main_metric == "accuracy"  # not in its `started`: from the task
    assert history.best.model_dump() == {"name": "accuracy", "value": 0.5, "step": 9}
    assert [e.step for e in history.evals] == [9, 18] and len(history.steps) == 9 and len(history.checkpoints) == 5
    assert history.training_seconds() == pytest.approx(1796248436.508 - 1796248435.033)
    status = run.status()
    assert status.state == "finished" and status.best.value == 0.5 and status["pid"] == 6979
    summary = summarize(run)
    assert (summary.state, summary.method, summary.best_metric) == ("finished", "full", "accuracy")
    details = run_details(run)
    assert details["metrics"]["accuracy"] == 0.5 and details["samples"][0]["gold"] == "positive"
    assert list_runs(v1_runs) == [run]


def test_a_garbled_status_is_rebuilt_from_the_events_not_taken_as_failed(v1_runs: Path) -> None:
    run = RunDir(v1_runs / FIXTURE_RUN)
    run.status_path.write_text('{"state": "runn')
    status = run.status()
    assert status.state == "finished" and status.rebuilt and status.best.step == 9
    assert json.loads(run.status_path.read_text())["state"] == "finished"  # rewritten


def test_the_cli_opens_a_run_of_todays_format(v1_runs: Path) -> None:
    shown = tlwb("show", FIXTURE_RUN, "--runs-dir", str(v1_runs), "--json")
    assert shown.returncode == 0, shown.stderr
    payload = json.loads(shown.stdout)
    assert payload["status"]["state"] == "finished" and payload["main_metric"] == "accuracy"
    assert payload["best"]["value"] == 0.5 and payload["training_seconds"] == pytest.approx(1.5, abs=0.1)
    listed = tlwb("runs", "--runs-dir", str(v1_runs), "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert (row["id"], row["state"], row["best_value"]) == (FIXTURE_RUN, "finished", 0.5)
    plain = tlwb("show", FIXTURE_RUN, "--runs-dir", str(v1_runs))
    assert plain.returncode == 0 and "best accuracy 0.5" in plain.stdout, plain.stdout + plain.stderr


def test_a_resumed_runs_time_is_the_same_in_runs_show_and_attach(runs_dir: Path) -> None:
    """One duration everywhere: the sum of the training segments, not first start to last end."""
    from tests.fakes import FakeRun

    fake = FakeRun(runs_dir)
    t0 = fake.started_at
    fake.started()
    fake.writer.emit("cancelled", time=t0 + 60, step=10, checkpoint="checkpoints/checkpoint-10")
    fake.writer.emit("started", time=t0 + 3600, resumed=True, resumed_from_step=10, total_steps=100)
    fake.writer.emit("finished", time=t0 + 3700, metrics={"accuracy": 0.8}, duration_s=100.0)
    fake.run.write_status(state="finished", ended_at=t0 + 3700)
    assert summarize(fake.run).duration_s == 160
    shown = json.loads(tlwb("show", fake.run.id, "--runs-dir", str(runs_dir), "--json").stdout)
    assert (shown["training_seconds"], shown["segments"]) == (160, 2)
    attached = tlwb("attach", fake.run.id, "--runs-dir", str(runs_dir))
    assert attached.returncode == 0 and "finished in 2m 40s" in attached.stdout, attached.stdout + attached.stderr
