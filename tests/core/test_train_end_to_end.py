"""Real training processes: the run directory contract, the CLI around a finished run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests import shared_runs
from tests.core.tiny_runs import hooks_env, run_main, tlwb
from workbench.runstore import RunDir

@pytest.fixture(scope="module")
def finished_tiny_run(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    """The tiny BERT fully fine-tuned for 3 epochs (`shared_runs`): 72 training rows, 8 held out."""
    return shared_runs.finished_tiny_run(tmp_path_factory, tmp_path_factory.mktemp("tiny-run"), method="full")


def test_the_run_directory_holds_the_whole_contract(finished_tiny_run: RunDir) -> None:
    run = finished_tiny_run
    events = run.events()
    types = [e["type"] for e in events]
    assert types.count("started") == 1 and types[-1] == "finished"
    started = next(e for e in events if e["type"] == "started")
    assert started["labels"] == ["negative", "positive"]
    assert started["train_size"] == 72 and started["validation_size"] == 8
    assert started["params_trainable"] == started["params_total"] > 0
    steps = [e for e in events if e["type"] == "step"]
    assert steps and all({"step", "total_steps", "epoch", "loss", "learning_rate", "samples_per_s", "eta_s", "memory_bytes"} <= e.keys() for e in steps)
    assert steps[-1]["total_steps"] == started["total_steps"] == 27
    evals = [e for e in events if e["type"] == "eval"]
    assert len(evals) == 3  # one per epoch
    assert {"accuracy", "macro_f1"} <= evals[-1]["metrics"].keys()
    assert set(evals[-1]["per_class"]) == {"negative", "positive"}
    assert sum(map(sum, evals[-1]["confusion_matrix"])) == 8
    samples = next(e for e in events if e["type"] == "samples")
    assert {"text", "gold", "pred", "confidence", "probs"} <= samples["items"][0].keys()
    status = json.loads(run.status_path.read_text())
    assert status["state"] == "finished" and status["best"]["name"] == "accuracy"
    assert run.config().name == "tiny-full"
    assert (run.model_dir / ".complete").is_file()


def test_the_saved_model_loads_with_plain_transformers(finished_tiny_run: RunDir) -> None:
    code = (
        "import sys, transformers; "
        f"m = transformers.AutoModelForSequenceClassification.from_pretrained({str(finished_tiny_run.model_dir)!r}); "
        "print(m.config.id2label[0], m.config.id2label[1]); "
        "assert not any(k.startswith('workbench') for k in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["negative", "positive"]


def test_eval_json_scores_any_labelled_file(finished_tiny_run: RunDir, tmp_path: Path,
                                           capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    held_out = tmp_path / "held.csv"
    held_out.write_text("text,label\ngood great movie,positive\nbad awful film,negative\ngood movie,positive\n")
    code, out, err = run_main(["eval", str(finished_tiny_run.path), "--data", str(held_out), "--json"], capsys, monkeypatch)
    assert code == 0, err
    report = json.loads(out)
    assert report["n"] == 3
    assert {"accuracy", "macro_f1", "per_class", "confusion_matrix"} <= report.keys()
    assert set(report["per_class"]) == {"negative", "positive"}
    assert report["per_class"]["positive"]["support"] == 2


def test_predict_takes_arguments_or_stdin_and_run_ids(finished_tiny_run: RunDir, capsys: pytest.CaptureFixture,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    runs_dir = finished_tiny_run.path.parent
    texts = ["this movie was good and great", "this film was bad and awful"]
    code, out, err = run_main(["predict", finished_tiny_run.id, *texts, "--runs-dir", str(runs_dir), "--json"], capsys, monkeypatch)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["text"] for r in rows] == texts
    assert all(r["label"] in {"negative", "positive"} and 0.5 <= r["confidence"] <= 1 for r in rows)
    code, out, _ = run_main(["predict", str(finished_tiny_run.path), "--json"], capsys, monkeypatch, stdin="\n".join(texts) + "\n")
    assert code == 0 and [json.loads(line)["label"] for line in out.splitlines()] == [r["label"] for r in rows]


def test_predict_streams_a_long_stdin_in_order_with_progress(finished_tiny_run: RunDir, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """2,500 lines (three chunks) from a file on stdin: every non-blank line once, in input order,
    and the progress on stderr when asked for, ending with the total."""
    texts = [f"{'good' if i % 3 else 'bad'} movie number {i} " + "word " * (i % 17) for i in range(2500)]
    source = tmp_path / "lines.txt"
    source.write_text("\n".join(texts[:1000]) + "\n\n  \n" + "\r\n".join(texts[1000:]) + "\n", encoding="utf-8")
    with source.open() as stdin:
        code, out, err = run_main(["predict", str(finished_tiny_run.path), "--json", "--progress"], capsys, monkeypatch, stdin=stdin)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [row["text"] for row in rows] == texts
    assert {row["label"] for row in rows} <= {"negative", "positive"}
    assert err.splitlines()[-1].startswith("predicted 2,500 rows in ")
    code, out, err = run_main(["predict", str(finished_tiny_run.path)], capsys, monkeypatch, stdin="\n".join(texts[:1100]))
    assert code == 0 and err == ""  # two chunks, one table; no progress unasked into a pipe
    assert out.count("confidence") == 1 and out.count("movie number") == 1100


def test_runs_and_show_list_the_run(finished_tiny_run: RunDir) -> None:
    runs_dir = finished_tiny_run.path.parent
    listing = tlwb("runs", "--runs-dir", str(runs_dir), "--json")
    assert [r["id"] for r in json.loads(listing.stdout)] == [finished_tiny_run.id]
    table = tlwb("runs", env={**hooks_env(), "TLWB_RUNS_DIR": str(runs_dir), "COLUMNS": "200"})
    assert finished_tiny_run.id in table.stdout and "finished" in table.stdout


def test_help_is_instant_and_imports_no_ml_library() -> None:
    code = "import sys; from workbench.cli import app; print(sorted(m for m in ('torch', 'transformers', 'datasets', 'peft', 'textual') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]"
    assert tlwb("--help").returncode == 0


@pytest.mark.slow(seconds=80)
def test_minilm_lora_learns_sst2_well_above_chance(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The packaged all-MiniLM-L6-v2 + LoRA on 300 SST-2 rows (3 epochs), scored on a disjoint slice
    of 400 (0.78 when written)."""
    lines = (shared_data / "sst2" / "train.tsv").read_text().splitlines()
    header, rows = lines[0], lines[1:]
    (tmp_path / "train.tsv").write_text("\n".join([header, *rows[:300]]) + "\n")
    (tmp_path / "held.tsv").write_text("\n".join([header, *rows[60_000:60_400]]) + "\n")
    result = tlwb("train", "quickstart", "--runs-dir", str(tmp_path / "runs"),
                  "--set", f"data.train={tmp_path / 'train.tsv'}", "--set", "data.validation_split=0.1",
                  "--set", "training.epochs=3", "--set", "training.learning_rate=3e-3", "--set", "training.max_length=48",
                  "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    run_path = json.loads(result.stdout.splitlines()[-1])["path"]
    code, out, err = run_main(["eval", run_path, "--data", str(tmp_path / "held.tsv"), "--json"], capsys, monkeypatch)
    assert code == 0, err
    report = json.loads(out)
    assert report["n"] == 400
    assert report["accuracy"] > 0.70, report


def test_generation_options_on_a_classification_run_are_one_line(finished_tiny_run: RunDir, capsys: pytest.CaptureFixture,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run_main(["predict", str(finished_tiny_run.path), "good movie", "--max-new-tokens", "5"], capsys, monkeypatch)
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[0].startswith("error: --max-new-tokens and --temperature apply to text-generation runs only")
