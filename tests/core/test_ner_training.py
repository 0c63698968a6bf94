"""Token classification end to end: real training processes, then `tlwb predict` and `tlwb eval`."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.conftest import build_tiny_model
from tests.core.tiny_runs import run_main, tlwb
from workbench.cli import app
from workbench.inference import load_run_model
from workbench.presets import load_config
from workbench.runner import launch, wait
from workbench.runstore import RunDir

REPO = Path(__file__).resolve().parents[2]

EVAL_KEYS = {"f1", "precision", "recall", "token_accuracy", "n"}
SAMPLE_KEYS = {"index", "tokens", "gold", "pred", "gold_entities", "pred_entities", "correct", "confidence"}

#: Sentences in the tiny tokenizer's vocabulary: (word, tag) pairs.
PEOPLE = [[("Angela", "B-PER"), ("Merkel", "I-PER")], [("Merkel", "B-PER")]]
PLACES = [[("Paris", "B-LOC")]]
FRAMES = [
    lambda who, where: who + [("visited", "O")] + where + [(".", "O")],
    lambda who, where: [("the", "O"), ("film", "O"), ("was", "O"), ("good", "O"), (",", "O")] + who + [("visited", "O")] + where,
    lambda who, where: where + [("was", "O"), ("great", "O"), ("and", "O")] + who + [("was", "O"), ("not", "O"), (".", "O")],
]


def write_tiny_conll(path: Path, sentences: int, seed: int) -> Path:
    rng = random.Random(seed)
    blocks = ["-DOCSTART- -X- -X- O"]
    for _ in range(sentences):
        pairs = rng.choice(FRAMES)(rng.choice(PEOPLE), rng.choice(PLACES))
        blocks.append("\n".join(f"{word} {tag}" for word, tag in pairs))
    path.write_text("\n\n".join(blocks) + "\n")
    return path


def train_tiny(folder: Path, method: str, **training: object) -> RunDir:
    model = build_tiny_model(folder / "model", head="token")
    settings = {"epochs": 6, "batch_size": 8, "learning_rate": 1e-2, "max_length": 32, "logging_steps": 2, "seed": 7} | training
    overrides = [f"model.name={model}", f"data.train={write_tiny_conll(folder / 'train.txt', 96, 1)}",
                 f"data.validation={write_tiny_conll(folder / 'valid.txt', 12, 2)}", f"method.kind={method}"]
    overrides += [f"training.{key}={value}" for key, value in settings.items()]
    config = load_config(None, overrides, base={"name": f"tiny-ner-{method}", "task": "token-classification"})
    run, process = launch(config, folder / "runs")
    last = wait(run, process=process, timeout_s=300)
    assert last["type"] == "finished", run.log_path.read_text()[-3000:]
    return run


@pytest.fixture(scope="module")
def tiny_ner_run(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    return train_tiny(tmp_path_factory.mktemp("tiny-ner"), "full")


def test_events_carry_tags_entity_metrics_and_sentence_samples(tiny_ner_run: RunDir) -> None:
    events = tiny_ner_run.events()
    started = next(e for e in events if e["type"] == "started")
    assert started["labels"] == ["O", "B-LOC", "B-PER", "I-PER"]
    assert sum(started["label_counts"].values()) > 0 and started["label_counts"]["B-LOC"] == 96
    assert started["columns"] == {"tokens": "tokens", "tags": "ner_tags", "tag_scheme": "IOB2"}
    evaluation = [e for e in events if e["type"] == "eval"][-1]
    assert EVAL_KEYS <= evaluation["metrics"].keys() and evaluation["metrics"]["n"] == 12
    assert set(evaluation["per_class"]) == {"LOC", "PER"}
    assert evaluation["per_class"]["LOC"]["support"] == 12
    assert evaluation["labels"] == ["LOC", "PER", "O"]
    assert sum(evaluation["confusion_matrix"][0]) == 12  # every gold LOC lands somewhere in its row
    items = next(e for e in events if e["type"] == "samples")["items"]
    assert len(items) == 12 and all(SAMPLE_KEYS <= item.keys() for item in items)
    item = items[0]
    assert len(item["tokens"]) == len(item["gold"]) == len(item["pred"])
    assert all(e["text"] == " ".join(item["tokens"][e["start"]:e["end"]]) for e in item["gold_entities"] + item["pred_entities"])
    status = json.loads(tiny_ner_run.status_path.read_text())
    assert status["best"]["name"] == "f1"


def test_the_tiny_model_learns_the_tags(tiny_ner_run: RunDir) -> None:
    final = next(e for e in tiny_ner_run.events() if e["type"] == "finished")
    assert final["metrics"]["f1"] > 0.5, final["metrics"]


def cli(*args: str) -> Result:
    """`tlwb ARGS` in this process (no second start-up of torch); stdout only."""
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "160"})


def test_predict_prints_entities_with_character_offsets(tiny_ner_run: RunDir) -> None:
    text = "Angela Merkel visited Paris ."
    shown = cli("predict", str(tiny_ner_run.path), text)
    assert shown.exit_code == 0, shown.output
    assert {"entity", "type", "confidence"} <= set(shown.stdout.split()) and "Paris" in shown.stdout
    as_json = cli("predict", str(tiny_ner_run.path), "--json", text, "no names here", "")
    assert as_json.exit_code == 0, as_json.output
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [r["text"] for r in rows] == [text, "no names here", ""]
    assert rows[2]["entities"] == []
    for row in rows:
        for entity in row["entities"]:
            assert row["text"][entity["start"]:entity["end"]] == entity["text"]
            assert entity["type"] in {"PER", "LOC"} and 0 < entity["confidence"] <= 1
    assert ("Paris", "LOC") in {(e["text"], e["type"]) for e in rows[0]["entities"]}


def test_eval_scores_a_conll_file(tiny_ner_run: RunDir, tmp_path: Path) -> None:
    held_out = write_tiny_conll(tmp_path / "held.txt", 10, 3)
    result = cli("eval", str(tiny_ner_run.path), "--data", str(held_out), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert EVAL_KEYS <= report.keys() and report["n"] == 10
    assert report["labels"][-1] == "O" and report["per_class"]["LOC"]["support"] == 10


def test_eval_of_a_file_without_tags_is_a_one_line_error(tiny_ner_run: RunDir, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("Angela B-PER\nMerkel\n")
    code, _, err = run_main(["eval", str(tiny_ner_run.path), "--data", str(bad)], capsys, monkeypatch)
    assert code == 2
    assert "line 2 has one column" in err and "Traceback" not in err


@pytest.mark.parametrize("method", ["lora", "head"])
def test_lora_and_head_train_and_reload(method: str, tmp_path: Path) -> None:
    run = train_tiny(tmp_path, method, epochs=1)
    started = next(e for e in run.events() if e["type"] == "started")
    assert 0 < started["params_trainable"] < started["params_total"]
    assert (run.adapter_dir if method == "lora" else run.model_dir).is_dir()
    loaded = load_run_model(run)
    [result] = loaded.predict(["Angela Merkel visited Paris ."])
    assert all(result["text"][e["start"]:e["end"]] == e["text"] for e in result["entities"])


@pytest.mark.slow(seconds=90)
def test_minilm_learns_conll_entities(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The packaged MiniLM, fully fine-tuned on 600 CoNLL-2003 training sentences for one epoch,
    scored on 200 validation sentences it never saw (F1 0.56 when written, 0.46 with 500 sentences
    at 2e-4: it must clear 0.4; under a minute on a quiet 2-core machine)."""
    from benchmarks.ner_quality import write_subset

    train = write_subset(shared_data / "conll2003" / "train.txt", 600, tmp_path / "train.txt")
    held = write_subset(shared_data / "conll2003" / "valid.txt", 200, tmp_path / "valid.txt")
    result = tlwb("train", str(REPO / "benchmarks" / "presets" / "conll2003-local.toml"), "--runs-dir", str(tmp_path / "runs"), "--json",
                  "--set", f"data.train={train}", "--set", f"data.validation={held}",
                  "--set", "training.epochs=1", "--set", "training.max_length=64", "--set", "training.batch_size=8",
                  "--set", "training.learning_rate=3e-4")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    final = json.loads(result.stdout.splitlines()[-1])
    assert final["metrics"]["n"] == 200
    assert final["metrics"]["f1"] > 0.4, final["metrics"]
    code, out, err = run_main(["predict", final["path"], "--json", "Angela Merkel visited Paris ."], capsys, monkeypatch)
    assert code == 0, err
    entities = json.loads(out)["entities"]
    assert {"PER", "LOC"} <= {e["type"] for e in entities}, entities
