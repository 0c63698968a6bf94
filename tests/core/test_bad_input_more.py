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

from tests.core.test_bad_input import GOOD_ROWS, run_main
from tests.core.tiny_training import tiny_config, train_to_end
from workbench.presets import config_to_toml


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
    # 2. library noise: a torn JSONL line, a binary file
    ("jsonl-torn-last-line", train("data.train=torn.jsonl"), "line 41 of torn.jsonl is cut off", "delete line 41"),
    ("jsonl-bad-middle-line", train("data.train=torn_middle.jsonl"), "line 21 of torn_middle.jsonl is not valid JSON", "fix line 21"),
    ("binary-file", train("data.train=binary.csv", "data.encoding=latin-1"), "binary.csv looks binary", "data.train"),
    # 3. internal exceptions: name file, row, column and the fix
    ("parquet-list-labels", train("data.train=list_labels.parquet"), "column 'label' of list_labels.parquet holds lists", "one label per row"),
    ("conll-missing-tag-column", train("task=token-classification", "data.train=conll_missing_tag.conll"),
     "line 7 of conll_missing_tag.conll has 2 columns where the others have 3", "tag"),
    # 4. labels that are not labels
    ("label-missing-markers", train("data.train=nan_words.csv"), "5 rows of", "drop or fix those rows"),
    ("label-continuous", train("data.train=continuous.csv"), "looks continuous", "regression is not supported"),
    # 5. a model that can't load, found before a run exists
    ("model-without-weights", train("model.name=model_no_weights"), "no weights", "save_pretrained"),
    ("model-truncated-safetensors", train("model.name=truncated_model"), "model.safetensors is truncated", "copy"),
    # 6. remote code, detected from the config's auto_map
    ("model-custom-code", train("model.name=custom_code"), "ships its own code", "model.trust_remote_code = true"),
    # 12. mixed delimiters; a preset that is a directory
    ("mixed-delimiters", train("data.train=mixed_delimiters.csv"), "line 42 of mixed_delimiters.csv", "delimiter"),
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
