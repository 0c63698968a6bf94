"""The bad-input catalogue: every entry through the real CLI entry point (`workbench.cli.main`).

Each must exit 2 with a one-line `error:` naming the problem and a one-line `hint:` naming the
fix, show no traceback, and write nothing: no run directory, no changed preset, no changed run.
Entries that `tlwb train` refuses are caught by pre-flight, before any process is launched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from tests.core.tiny_runs import run_main
from tests.fakes import FakeRun

GOOD_ROWS = "".join(f"good great movie {i},positive\nbad awful film {i},negative\n" for i in range(20))


@dataclass
class Workspace:
    """A folder of good and bad inputs; `runs` must stay empty, `existing` holds fake runs."""

    root: Path
    model: Path
    rotten_tomatoes: Path

    def file(self, name: str, content: str | bytes) -> Path:
        path = self.root / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def existing(self) -> Path:
        return self.root / "existing"

    @property
    def preset(self) -> Path:
        return self.root / "good.toml"


@pytest.fixture(scope="module")
def ws(tiny_model_dir: Path, shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    from transformers import ViTConfig

    root = tmp_path_factory.mktemp("bad-input")
    w = Workspace(root, tiny_model_dir, shared_data / "rotten_tomatoes" / "rt-polarity.pos")
    w.file("good.csv", "text,label\n" + GOOD_ROWS)
    w.file("good.toml", f'[model]\nname = "{tiny_model_dir}"\n[data]\ntrain = "{root / "good.csv"}"\n'
                        '[method]\nkind = "full"\n[training]\nepochs = 1\nmax_length = 32\n')
    w.file("malformed.toml", "[training]\nepochs = = 2\n")
    w.file("latin.toml", "description = 'caf\xe9'\n".encode("cp1252"))
    w.file("empty.csv", "")
    w.file("header_only.csv", "text,label\n")
    w.file("hash_delimited.csv", "text#label\n" + GOOD_ROWS.replace(",", "#"))
    w.file("semicolons.csv", "text;label\n" + GOOD_ROWS.replace(",", ";"))
    w.file("one_class.csv", "text,label\n" + "".join(f"good movie {i},positive\n" for i in range(20)))
    w.file("nan_labels.csv", "text,label\n" + GOOD_ROWS + "fine film,\nokay film,\n")
    w.file("unseen_label.csv", "text,label\nso-so film,neutral\ngood movie,positive\n")
    w.file("long_line.csv", "text,label\n" + GOOD_ROWS + "x" * 1_200_000 + ",positive\n")
    w.file("broken.conll", "Angela B-PER\nMerkel I-PER\nvisited\nParis B-LOC\n\n")
    w.file("a_file", "not a folder")
    (root / "empty_dir").mkdir()
    (root / "data_dir").mkdir()
    vit = root / "vit"  # a real config type with no sequence-classification head
    ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64).save_pretrained(vit)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json"):
        (vit / name).write_bytes((tiny_model_dir / name).read_bytes())
    _pickle_with_code(tiny_model_dir, root / "pickled")
    w.runs.mkdir()
    _fake_runs(w.existing)
    return w


def _pickle_with_code(tiny_model_dir: Path, folder: Path) -> None:
    """The tiny model, but its weights a pickle that would run a shell command when unpickled."""
    import torch

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {folder / 'PWNED'}",))

    folder.mkdir()
    for name in ("config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json"):
        (folder / name).write_bytes((tiny_model_dir / name).read_bytes())
    torch.save({"bert.embeddings.word_embeddings.weight": Payload()}, folder / "pytorch_model.bin")


def _fake_runs(existing: Path) -> None:
    running = FakeRun(existing, "2026-11-28_101200_running")  # its pid is this test process: alive
    running.started()
    finished = FakeRun(existing, "2026-11-28_111200_finished")
    finished.started()
    finished.finish()
    broken = FakeRun(existing, "2026-11-28_121200_broken")
    broken.started()
    broken.fail(kind="crash", message="boom", hint="see train.log")


def train(*overrides: str, preset: str = "{preset}") -> Callable[[Workspace], list[str]]:
    """`tlwb train GOOD_PRESET --set ...` with {placeholders} filled from the workspace."""
    def argv(w: Workspace) -> list[str]:
        fill = {"root": w.root, "model": w.model, "preset": w.preset, "rt": w.rotten_tomatoes}
        args = ["train", preset.format(**fill), "--runs-dir", str(w.runs)]
        for item in overrides:
            args += ["--set", item.format(**fill)]
        return args

    return argv


def command(*args: str) -> Callable[[Workspace], list[str]]:
    return lambda w: [a.format(root=w.root, runs=w.runs, existing=w.existing) for a in args]


#: (id, argv, fragment of the error line, fragment of the hint line)
CATALOGUE = [
    ("unknown-preset", train(preset="quickstrat"), "no preset named 'quickstrat'", "did you mean 'quickstart'"),
    ("malformed-toml", train(preset="{root}/malformed.toml"), "is not valid TOML", "fix the line"),
    ("preset-not-utf8", train(preset="{root}/latin.toml"), "is not UTF-8", "save it as UTF-8"),
    ("unknown-key", train("training.epoch=2"), "unknown setting 'training.epoch'", "did you mean 'training.epochs'"),
    ("override-without-value", train("training.epochs"), "is not KEY=VALUE", "--set training.epochs=2"),
    ("wrong-type", train("training.batch_size=many"), "training.batch_size", "--set training.batch_size="),
    ("negative-learning-rate", train("training.learning_rate=-0.001"), "training.learning_rate", "--set training.learning_rate="),
    ("zero-epochs", train("training.epochs=0"), "training.epochs", "--set training.epochs="),
    ("unknown-task", train("task=summarization"), "task", "--set task="),
    ("model-offline", train("model.name=nobody/no-such-model"), "not in the local Hugging Face cache", "HF_HUB_OFFLINE"),
    ("model-dir-not-a-model", train("model.name={root}/empty_dir"), "not a model (no config.json", "save_pretrained"),
    ("model-is-a-file", train("model.name={root}/a_file"), "is a file, not a model directory", "config.json"),
    ("model-without-head", train("model.name={root}/vit"), "vit models have no SequenceClassification head", "BERT"),
    ("model-weights-run-code", train("model.name={root}/pickled"), "holds code, not just tensors", "safetensors"),
    ("data-missing", train("data.train={root}/nope.csv"), "nope.csv does not exist", "check the path"),
    ("data-is-a-directory", train("data.train={root}/data_dir"), "is a directory", "point data.train at a file"),
    ("data-empty", train("data.train={root}/empty.csv"), "is empty", "a file with a header and rows"),
    ("data-header-only", train("data.train={root}/header_only.csv"), "has a header but no rows", "data rows"),
    ("delimiter-unrecognised", train("data.train={root}/hash_delimited.csv"), "the delimiter was not recognised", "set data.delimiter"),
    ("delimiter-wrong", train("data.train={root}/semicolons.csv", "data.delimiter=','"), "seems to use ';'", 'data.delimiter = ";"'),
    ("text-column-missing", train("data.text_column=review"), "column 'review' (data.text_column) is not in the data", "data.text_column"),
    ("label-column-missing", train("data.label_column=stars"), "column 'stars' (data.label_column) is not in the data", "data.label_column"),
    ("single-class", train("data.train={root}/one_class.csv"), "single class ('positive')", "more than one class"),
    ("empty-labels", train("data.train={root}/nan_labels.csv"), "2 rows of", "drop or fix those rows"),
    ("label-names-mismatch", train("data.label_names=a,b,c"), "3 names but the data has 2 classes", "one name per class"),
    ("validation-label-unseen", train("data.validation={root}/unseen_label.csv"), "label 'neutral'", "same label set"),
    ("not-utf8", train("data.train={rt}", "data.format=lines"), "looks like cp1252", 'data.encoding = "cp1252"'),
    ("unknown-encoding", train("data.encoding=klingon"), "unknown encoding 'klingon'", "cp1252"),
    ("conll-malformed-line", train("task=token-classification", "data.train={root}/broken.conll"), "line 3 has one column", "token and a tag"),
    ("extremely-long-line", train("data.train={root}/long_line.csv"), "is 1,200,009 characters long", "split long documents"),
    ("max-length-beyond-model", train("training.max_length=512"), "beyond this model's limit of 128", "training.max_length to 128"),
    ("runs-dir-is-a-file", lambda w: ["train", str(w.preset), "--runs-dir", str(w.root / "a_file")],
     "is a file, not a directory", "--runs-dir"),
    ("runs-dir-not-creatable", lambda w: ["train", str(w.preset), "--runs-dir", str(w.root / "a_file" / "runs")],
     "can't be created", "--runs-dir"),
    ("run-id-ambiguous", command("show", "2026-11-28", "--runs-dir", "{existing}"), "matches 3 runs", "more of the run id"),
    ("run-unknown", command("attach", "no-such-run", "--runs-dir", "{existing}"), "no run 'no-such-run'", "tlwb runs"),
    ("eval-without-model", command("eval", "running", "--data", "{root}/good.csv", "--runs-dir", "{existing}"), "has no saved model", "resume"),
    ("resume-finished", command("resume", "finished", "--runs-dir", "{existing}"), "already finished", "tlwb train"),
    ("resume-without-checkpoint", command("resume", "broken", "--runs-dir", "{existing}"), "no checkpoint to resume from", "tlwb train"),
    ("cancel-not-running", command("cancel", "finished", "--runs-dir", "{existing}"), "is not running", "nothing to cancel"),
]


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under `root` with its size and modification time."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def assert_one_line_error(err: str, fragment: str, hint: str) -> None:
    lines = err.splitlines()
    matching = [i for i, line in enumerate(lines) if line.startswith("error:") and fragment in line]
    assert matching, f"no error line containing {fragment!r} in:\n{err}"
    index = matching[0]
    assert index + 1 < len(lines) and lines[index + 1].startswith("  hint:"), f"no hint line after the error:\n{err}"
    assert hint in lines[index + 1], f"hint {hint!r} not in {lines[index + 1]!r}"
    assert all(line.startswith(("error:", "  hint:", "warning:")) for line in lines), f"stray output:\n{err}"


@pytest.mark.parametrize("argv, fragment, hint", [case[1:] for case in CATALOGUE], ids=[case[0] for case in CATALOGUE])
def test_bad_input_is_one_clear_line_exit_2_and_writes_nothing(
    ws: Workspace, argv: Callable, fragment: str, hint: str, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ws.root)
    before = snapshot(ws.root)
    code, out, err = run_main(argv(ws), capsys, monkeypatch)
    assert code == 2, f"exit {code}\nstdout: {out}\nstderr: {err}"
    assert "Traceback" not in out + err
    assert_one_line_error(err, fragment, hint)
    assert snapshot(ws.root) == before  # no run directory, no preset or run file touched
    assert not (ws.root / "pickled" / "PWNED").exists()


def test_the_catalogue_is_at_least_25_distinct_inputs() -> None:
    assert len({case[0] for case in CATALOGUE}) == len(CATALOGUE) >= 25


@pytest.mark.parametrize("case", ["unknown-key", "data-missing", "resume-finished"])
def test_the_installed_console_script_answers_the_same(ws: Workspace, case: str) -> None:
    """The real `tlwb` executable (a separate process), not just `main()` in this one."""
    argv, fragment, hint = next(c[1:] for c in CATALOGUE if c[0] == case)
    tlwb = Path(sys.executable).with_name("tlwb")
    done = subprocess.run([str(tlwb), *argv(ws)], capture_output=True, text=True, cwd=ws.root, timeout=300,
                          env=dict(os.environ, HF_HUB_OFFLINE="1", COLUMNS="60"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert_one_line_error(done.stderr, fragment, hint)  # long lines are not wrapped, even at 60 columns


def test_all_preflight_failures_are_reported_together(ws: Workspace, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = train("model.name={root}/vit", "data.train={root}/one_class.csv")(ws)
    code, _, err = run_main(argv, capsys, monkeypatch)
    assert code == 2
    assert_one_line_error(err, "no SequenceClassification head", "BERT")
    assert_one_line_error(err, "single class", "more than one class")
    assert not any(ws.runs.iterdir())
