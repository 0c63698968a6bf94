"""More of the bad-input catalogue (issue 11): each entry through the real CLI entry point.

Stricter than `test_bad_input.py`: stderr holds exactly two lines, `error: …` and `  hint: …`
(no library noise, no warnings), the exit code is 2, there is no traceback, and every file under
the workspace (runs, presets, data, models) is unchanged byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Callable

import pytest

from tests import shared_runs
from tests.core.test_bad_input import GOOD_ROWS
from tests.core.tiny_runs import run_main
from tests.core.tiny_training import tiny_config
from tests.fakes import cached_hub_config


@pytest.fixture(scope="module")
def ws(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of bad inputs beside a good preset; `runs/` must stay empty."""
    root = tmp_path_factory.mktemp("bad-input-more")
    files: dict[str, str | bytes] = {
        "good.csv": "text,label\n" + GOOD_ROWS,
        "good.toml": f'[model]\nname = "{tiny_model_dir}"\n[data]\ntrain = "good.csv"\n'
                     '[method]\nkind = "full"\n[training]\nepochs = 1\nmax_length = 32\n',
        "relative_missing.toml": f'[model]\nname = "{tiny_model_dir}"\n[data]\ntrain = "data/missing.csv"\n',
        "torn.jsonl": "".join(json.dumps({"text": f"good movie {i}", "label": i % 2}) + "\n" for i in range(40))
                      + '{"text": "bad fi',
        "torn_middle.jsonl": "".join(json.dumps({"text": f"good movie {i}", "label": i % 2}) + "\n" for i in range(20))
                             + '{"text": "bad fi\n'
                             + "".join(json.dumps({"text": f"bad film {i}", "label": i % 2}) + "\n" for i in range(20)),
        "binary.csv": bytes(range(256)) * 64,
        "image.csv": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200),
        "torn.json": "".join(json.dumps({"text": f"good movie {i}", "label": i % 2}) + "\n" for i in range(30)) + '{"text": "ba',
        "dict_labels.jsonl": "".join(json.dumps({"text": f"good movie {i}", "label": {"stars": i % 5}}) + "\n" for i in range(20)),
        "null_labels.jsonl": "".join(json.dumps({"text": f"good movie {i}", "label": ["pos", "neg", None, "NA"][i % 4]}) + "\n"
                                     for i in range(40)),
        "scores.csv": "text,stars,score\n" + "".join(f"movie number {i},{i % 2},{(i * 0.61) % 5:.3f}\n" for i in range(60)),
        "pos_tagged.conll": "The DT\ngood JJ\nfilm NN\n\nA DT\nbad JJ\nmovie NN\n\n",
        "tabs_then_comma.tsv": "text\tlabel\n" + GOOD_ROWS.replace(",", "\t") + "okay film,positive\n",
        "conll_missing_tag.conll": "Angela NNP B-PER\nMerkel NNP I-PER\nvisited VBD O\nParis NNP B-LOC\n\n"
                                   "The DT O\ngood JJ\nfilm NN O\n\n",
        "nan_words.csv": "text,label\n" + GOOD_ROWS + "".join(f"film {i},{m}\n" for i, m in enumerate(["NaN", "NA", "null", "None", "N/A"])),
        "continuous.csv": "text,label\n" + "".join(f"movie number {i},{(i * 0.37) % 5:.2f}\n" for i in range(80)),
        "mixed_delimiters.csv": "text,label\n" + GOOD_ROWS + "".join(f"okay film {i};positive\n" for i in range(3)),
        "custom_code/config.json": json.dumps({"model_type": "my-secret-arch", "architectures": ["MyModel"],
                                               "auto_map": {"AutoConfig": "configuration_my.MyConfig",
                                                            "AutoModelForSequenceClassification": "modeling_my.MyModel"}}),
        "custom_code/configuration_my.py": "raise SystemExit('this code must never run')\n",
    }
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    _parquet_with_list_labels(root / "list_labels.parquet")
    no_weights = root / "model_no_weights"  # config and tokenizer, the weights never copied
    shutil.copytree(tiny_model_dir, no_weights, ignore=shutil.ignore_patterns("*.safetensors"))
    garbled = root / "garbled_model"  # a safetensors file whose header is not JSON
    shutil.copytree(tiny_model_dir, garbled)
    raw = (garbled / "model.safetensors").read_bytes()
    (garbled / "model.safetensors").write_bytes(raw[:8] + b"\xff" * (len(raw) - 8))
    sharded = root / "sharded_model"  # an index naming a shard that was never copied
    shutil.copytree(tiny_model_dir, sharded, ignore=shutil.ignore_patterns("*.safetensors"))
    (sharded / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {}, "weight_map": {"bert.pooler.dense.weight": "model-00002-of-00002.safetensors"}}))
    truncated = root / "truncated_model"
    shutil.copytree(tiny_model_dir, truncated)
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    (root / "preset_dir.toml").mkdir()
    (root / "runs").mkdir()
    return root


def _parquet_with_list_labels(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = [f"good movie {i}" for i in range(20)]
    pq.write_table(pa.table({"text": texts, "label": [[i % 2, 1] for i in range(20)]}), path)


def train(*overrides: str, preset: str = "good.toml") -> Callable[[Path], list[str]]:
    """`tlwb train PRESET --set ...`, run in the workspace (so relative paths are relative to it)."""
    def argv(root: Path) -> list[str]:
        args = ["train", preset.format(root=root), "--runs-dir", str(root / "runs")]
        for item in overrides:
            args += ["--set", item.format(root=root)]
        return args

    return argv


#: (id, argv, fragment of the error line, fragment of the hint line)
CATALOGUE = [
    # 1. a missing relative path is a missing file, not a hub id
    ("relative-data-missing", train("data.train=missing.csv"), "missing.csv does not exist", "check the path"),
    ("preset-relative-data-missing", train(preset="relative_missing.toml"), "data/missing.csv does not exist", "relative to the preset"),
    ("relative-model-dir-missing", train("model.name=models/my-bert.v2"), "no folder models/my-bert.v2", "hub"),
    ("hub-like-name-unsure", train("data.train=someone/missing"), "no file someone/missing here", "hub"),
    ("relative-validation-missing", train("data.validation=valid/missing.tsv"), "valid/missing.tsv does not exist", "check the path"),
    # 2. library noise: a torn JSONL line, a binary file
    ("jsonl-torn-last-line", train("data.train=torn.jsonl"), "line 41 of torn.jsonl is cut off", "delete line 41"),
    ("jsonl-bad-middle-line", train("data.train=torn_middle.jsonl"), "line 21 of torn_middle.jsonl is not valid JSON", "fix line 21"),
    ("binary-file", train("data.train=binary.csv", "data.encoding=latin-1"), "binary.csv looks binary", "data.train"),
    ("binary-file-no-encoding", train("data.train=image.csv"), "image.csv looks binary (a NUL byte at offset 8)", "points at the data file"),
    ("json-lines-torn-in-a-json-file", train("data.train=torn.json"), "line 31 of torn.json is cut off", "delete line 31"),
    # 3. internal exceptions: name file, row, column and the fix
    ("parquet-list-labels", train("data.train=list_labels.parquet"), "column 'label' of list_labels.parquet holds lists", "one label per row"),
    ("conll-missing-tag-column", train("task=token-classification", "data.train=conll_missing_tag.conll"),
     "line 7 of conll_missing_tag.conll has 2 columns where the others have 3", "tag"),
    ("jsonl-dict-labels", train("data.train=dict_labels.jsonl"), "column 'label' of dict_labels.jsonl holds objects (row 1", "one label per row"),
    ("conll-pos-tags", train("task=token-classification", "data.train=pos_tagged.conll"), "line 1 of pos_tagged.conll ends in 'DT'", "NER file"),
    # 4. labels that are not labels
    ("label-missing-markers", train("data.train=nan_words.csv"), "5 rows of", "drop or fix those rows"),
    ("label-continuous", train("data.train=continuous.csv"), "looks continuous", "regression is not supported"),
    ("label-null-and-na-in-jsonl", train("data.train=null_labels.jsonl"), "20 rows of null_labels.jsonl have an empty or missing label", "drop or fix"),
    ("label-column-of-scores", train("data.train=scores.csv", "data.label_column=score"), "column 'score' of scores.csv looks continuous", "bin the values"),
    # 5. a model that can't load, found before a run exists
    ("model-without-weights", train("model.name=model_no_weights"), "no weights", "save_pretrained"),
    ("model-truncated-safetensors", train("model.name=truncated_model"), "model.safetensors is truncated", "copy"),
    ("model-garbled-safetensors-header", train("model.name=garbled_model"), "model.safetensors is not a safetensors file", "copy"),
    ("model-shard-missing", train("model.name=sharded_model"), "lacks model-00002-of-00002.safetensors", "copy"),
    # 6. remote code, detected from the config's auto_map
    ("model-custom-code", train("model.name=custom_code"), "ships its own code", "model.trust_remote_code = true"),
    # 12. mixed delimiters; a preset that is a directory
    ("mixed-delimiters", train("data.train=mixed_delimiters.csv"), "line 42 of mixed_delimiters.csv", "delimiter"),
    ("tsv-with-a-comma-line", train("data.train=tabs_then_comma.tsv"), "line 42 of tabs_then_comma.tsv is separated by ','", "one delimiter"),
    ("preset-is-a-directory", train(preset="preset_dir.toml"), "preset_dir.toml is a directory", "preset file"),
]


def fingerprint(root: Path) -> dict[str, str]:
    """Every file under `root` with a hash of its bytes, and every folder."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


def assert_exactly_one_error(code: int, out: str, err: str, fragment: str, hint: str) -> None:
    assert code == 2, f"exit {code}\nstdout: {out}\nstderr: {err}"
    assert "Traceback" not in out + err
    lines = err.splitlines()
    assert len(lines) == 2, f"expected exactly an error and a hint line:\n{err}"
    assert lines[0].startswith("error:") and fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    assert lines[1].startswith("  hint:") and hint in lines[1], f"{hint!r} not in {lines[1]!r}"
    assert "skip pre-flight" not in err and "--no-preflight" not in err


@pytest.mark.parametrize("argv, fragment, hint", [case[1:] for case in CATALOGUE], ids=[case[0] for case in CATALOGUE])
def test_bad_input_is_exactly_two_lines_exit_2_and_changes_nothing(
    ws: Path, argv: Callable, fragment: str, hint: str, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ws)
    before = fingerprint(ws)
    code, out, err = run_main(argv(ws), capsys, monkeypatch)
    assert_exactly_one_error(code, out, err, fragment, hint)
    assert fingerprint(ws) == before
    assert not any((ws / "runs").iterdir())


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A real finished LoRA run, and copies of it whose adapter is truncated or a pickle with code."""
    from tests.conftest import write_tiny_csv

    root = tmp_path_factory.mktemp("finished-runs")
    write_tiny_csv(root / "reviews.csv")  # what the catalogue's `eval` entries score
    good = shared_runs.finished_tiny_run(tmp_path_factory, root / "runs", method="lora")
    runs = {"good": good.path}
    for variant in ("truncated", "pickled", "emptied"):
        copy = root / variant / good.path.name
        shutil.copytree(good.path, copy)
        runs[variant] = copy
    weights = runs["truncated"] / "adapter" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    _adapter_pickle_with_code(runs["pickled"] / "adapter")
    (runs["emptied"] / "adapter" / "adapter_model.safetensors").unlink()
    return runs


def _adapter_pickle_with_code(adapter: Path) -> None:
    """The adapter's weights replaced by a pickle that would run a shell command when unpickled."""
    import torch

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {adapter / 'PWNED'}",))

    (adapter / "adapter_model.safetensors").unlink()
    torch.save({"base_model.model.classifier.weight": Payload()}, adapter / "adapter_model.bin")


def finished_run(variant: str, *args: str) -> Callable[[dict[str, Path]], list[str]]:
    return lambda runs: [args[0], str(runs[variant]), *[a.format(root=runs["good"].parent.parent) for a in args[1:]]]


#: Finished runs whose saved model is damaged or unsafe, and eval given a missing relative file.
FINISHED_CATALOGUE = [
    ("predict-truncated-adapter", finished_run("truncated", "predict", "good film"), "adapter_model.safetensors is truncated", "train again"),
    ("eval-truncated-adapter", finished_run("truncated", "eval", "--data", "{root}/reviews.csv"), "adapter_model.safetensors is truncated", "train again"),
    ("export-truncated-adapter", finished_run("truncated", "export", "{root}/exported"), "adapter_model.safetensors is truncated", "train again"),
    ("predict-adapter-pickle-with-code", finished_run("pickled", "predict", "good film"), "adapter_model.bin", "safetensors"),
    ("export-adapter-pickle-with-code", finished_run("pickled", "export", "{root}/exported", "--merge"), "holds code", "safetensors"),
    ("predict-adapter-weights-gone", finished_run("emptied", "predict", "good film"), "adapter has a config.json but no weights", "train again"),
    ("eval-relative-data-missing", finished_run("good", "eval", "--data", "missing.csv"), "missing.csv does not exist", "check the path"),
]


@pytest.mark.parametrize("argv, fragment, hint", [case[1:] for case in FINISHED_CATALOGUE], ids=[case[0] for case in FINISHED_CATALOGUE])
def test_a_damaged_finished_run_is_exactly_two_lines_exit_2_and_changes_nothing(
    finished: dict[str, Path], argv: Callable, fragment: str, hint: str, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = finished["good"].parent.parent
    monkeypatch.chdir(root)
    before = fingerprint(root)
    code, out, err = run_main(argv(finished), capsys, monkeypatch)
    assert_exactly_one_error(code, out, err, fragment, hint)
    assert fingerprint(root) == before
    assert not any(root.rglob("PWNED"))


def test_the_catalogue_grew(ws: Path) -> None:
    from tests.core.test_bad_input import CATALOGUE as FIRST

    names = [case[0] for case in FIRST + CATALOGUE + FINISHED_CATALOGUE]
    assert len(set(names)) == len(names) >= 41 + 20


@pytest.mark.parametrize("method, rate, warned", [
    ("full", 0.9, "above"), ("full", 1e-9, "below"), ("full", 2e-5, None), ("full", 1e-3, None),
    ("lora", 0.05, "above"), ("lora", 1e-7, "below"), ("lora", 5e-4, None),
    ("head", 0.5, "above"), ("head", 1e-7, "below"), ("head", 5e-2, None),
])
def test_a_doubtful_learning_rate_is_warned_about_per_method(tiny_model_dir: Path, method: str, rate: float, warned: str | None) -> None:
    from workbench.preflight import learning_rate_warning

    config = tiny_config(tiny_model_dir, Path("reviews.csv"), method=method, learning_rate=rate)
    warning = learning_rate_warning(config)
    if warned is None:
        assert warning is None
    else:
        assert warning is not None and f"is far {warned} the usual range" in warning.message
        assert "--set training.learning_rate=" in warning.hint


def test_a_doubtful_learning_rate_warns_in_preflight_but_does_not_refuse(tiny_model_dir: Path, tmp_path: Path) -> None:
    from tests.conftest import write_tiny_csv
    from workbench.preflight import preflight

    config = tiny_config(tiny_model_dir, write_tiny_csv(tmp_path / "reviews.csv"), method="full", learning_rate=0.9)
    report = preflight(config, tmp_path / "runs")
    assert report.ok, report.lines()
    assert [w.kind for w in report.warnings if "learning_rate 0.9" in w.message] == ["learning_rate"]


def test_the_cli_prints_the_learning_rate_warning_beside_the_errors(
    ws: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ws)
    code, _, err = run_main(train("training.learning_rate=1e-9", "data.train=missing.csv")(ws), capsys, monkeypatch)
    assert code == 2
    lines = err.splitlines()
    assert any(line.startswith("warning: training.learning_rate 1e-09 is far below the usual range for full fine-tuning")
               for line in lines), err
    assert any(line.startswith("error: data file") for line in lines), err
    assert not any((ws / "runs").iterdir())


def test_a_cached_hub_model_with_custom_code_is_refused_naming_trust_remote_code(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    cached_hub_config(tmp_path / "hub", "someone/custom-model",
                      {"model_type": "custom", "auto_map": {"AutoModel": "modeling_custom.CustomModel"}})
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.chdir(ws)
    before = fingerprint(ws)
    code, out, err = run_main(train("model.name=someone/custom-model")(ws), capsys, monkeypatch)
    assert_exactly_one_error(code, out, err, "someone/custom-model ships its own code (modeling_custom.CustomModel)",
                             "model.trust_remote_code = true")
    assert fingerprint(ws) == before
