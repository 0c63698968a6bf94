"""Pre-flight remembers what it learnt of a local model (`workbench.model_facts`): the second
check of the same model and method answers the same without importing the modelling stack, and
anything that could change the answer (a config file, the method, a damaged entry) reads the
model afresh."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.tiny_training import tiny_config
from workbench import model_facts
from workbench.config import RunConfig
from workbench.preflight import preflight

#: What pre-flight reports that the remembered facts must reproduce exactly.
FACT_NAMES = ("model_source", "params_total", "params_trainable", "max_positions", "memory_estimate_bytes", "disk_needed_bytes")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("TLWB_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def model_dir(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A copy of the tiny BERT that a test may change."""
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))


def entries(cache: Path) -> list[Path]:
    return sorted((cache / "model-facts").glob("*.json")) if (cache / "model-facts").is_dir() else []


def facts_of(config: RunConfig, runs: Path) -> dict:
    report = preflight(config, runs)
    assert report.ok, report.lines()
    return {name: report.facts[name] for name in FACT_NAMES}


def test_a_second_preflight_answers_the_same_from_the_cache(cache: Path, model_dir: Path, tiny_csv: Path, tmp_path: Path) -> None:
    config = tiny_config(model_dir, tiny_csv, method="lora")
    first = facts_of(config, tmp_path / "runs")
    assert len(entries(cache)) == 1
    stored = json.loads(entries(cache)[0].read_text())
    assert stored["params_trainable"] == first["params_trainable"] < stored["params_total"] == first["params_total"]
    assert facts_of(config, tmp_path / "runs") == first
    assert len(entries(cache)) == 1


def test_a_remembered_model_is_checked_without_importing_torch_or_transformers(cache: Path, model_dir: Path, tiny_csv: Path, tmp_path: Path) -> None:
    """The point of the cache, seen from a fresh process: `import torch` alone is two seconds."""
    config = tiny_config(model_dir, tiny_csv)
    facts_of(config, tmp_path / "runs")  # reads the model and remembers it
    preset = tmp_path / "run.json"
    preset.write_text(config.model_dump_json())
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from workbench.config import RunConfig\n"
        "from workbench.preflight import preflight\n"
        f"report = preflight(RunConfig.model_validate_json(Path({str(preset)!r}).read_text()), Path({str(tmp_path / 'runs')!r}))\n"
        "print(json.dumps({'ok': report.ok, 'params': report.facts['params_total'],\n"
        "                  'heavy': sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules)}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["ok"] and answer["params"] > 0
    assert answer["heavy"] == [], f"a remembered model still imported {answer['heavy']}"


def test_a_changed_config_or_method_reads_the_model_afresh(cache: Path, model_dir: Path, tiny_csv: Path, tmp_path: Path) -> None:
    full = facts_of(tiny_config(model_dir, tiny_csv), tmp_path / "runs")
    lora = facts_of(tiny_config(model_dir, tiny_csv, method="lora"), tmp_path / "runs")
    assert lora["params_trainable"] < full["params_trainable"] and len(entries(cache)) == 2

    settings = json.loads((model_dir / "config.json").read_text())
    settings["num_hidden_layers"] = 1  # same folder, same weights file: a different model all the same
    (model_dir / "config.json").write_text(json.dumps(settings))
    shallower = facts_of(tiny_config(model_dir, tiny_csv), tmp_path / "runs")
    assert shallower["params_total"] < full["params_total"] and len(entries(cache)) == 3


def test_a_damaged_entry_is_ignored_and_rewritten(cache: Path, model_dir: Path, tiny_csv: Path, tmp_path: Path) -> None:
    config = tiny_config(model_dir, tiny_csv)
    first = facts_of(config, tmp_path / "runs")
    [entry] = entries(cache)
    entry.write_text('{"architecture": "BertForSequenceClassification", "params_total": ')
    assert facts_of(config, tmp_path / "runs") == first
    assert json.loads(entry.read_text())["params_total"] == first["params_total"]


def test_a_model_that_fails_preflight_is_not_remembered(cache: Path, model_dir: Path, tiny_csv: Path, tmp_path: Path) -> None:
    config = tiny_config(model_dir, tiny_csv, method="lora")
    config = config.model_copy(update={"method": config.method.model_copy(update={"target_modules": ["no_such_layer"]})})
    report = preflight(config, tmp_path / "runs")
    assert not report.ok and "no_such_layer" in report.errors[0].one_line()
    assert entries(cache) == []


def test_a_remembered_model_still_has_its_weights_checked(cache: Path, model_dir: Path, tiny_csv: Path, tmp_path: Path) -> None:
    config = tiny_config(model_dir, tiny_csv)
    facts_of(config, tmp_path / "runs")
    weights = model_dir / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    report = preflight(config, tmp_path / "runs")
    assert not report.ok and "model.safetensors" in report.errors[0].one_line()


def test_hub_ids_gguf_files_and_remote_code_are_never_remembered(model_dir: Path, tiny_csv: Path) -> None:
    config = tiny_config(model_dir, tiny_csv)
    assert model_facts.cache_key(str(model_dir), config) is not None
    assert model_facts.cache_key("prajjwal1/bert-tiny", config) is None
    remote = config.model_copy(update={"model": config.model.model_copy(update={"trust_remote_code": True})})
    assert model_facts.cache_key(str(model_dir), remote) is None
    gguf = config.model_copy(update={"model": config.model.model_copy(update={"gguf_file": "model.gguf"})})
    assert model_facts.cache_key(str(model_dir), gguf) is None


def test_the_key_ignores_weights_but_not_tokenizer_files(model_dir: Path, tiny_csv: Path) -> None:
    config = tiny_config(model_dir, tiny_csv)
    key = model_facts.cache_key(str(model_dir), config)
    (model_dir / "model.safetensors").write_bytes(b"other weights")
    assert model_facts.cache_key(str(model_dir), config) == key
    vocab = model_dir / "vocab.txt"
    vocab.write_text(vocab.read_text() + "extra\n")
    assert model_facts.cache_key(str(model_dir), config) != key


@pytest.mark.parametrize(("nodes", "cpu_only"), [((), True), (("nvidia0", "nvidiactl"), False), (("kfd",), False), (("dxg",), False)])
def test_a_machine_without_gpu_device_nodes_picks_the_cpu_without_torch(
    nodes: tuple[str, ...], cpu_only: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench import devices

    for node in ("null", "tty", *nodes):
        (tmp_path / node).touch()
    monkeypatch.setattr(devices, "DEVICE_DIR", tmp_path)
    monkeypatch.setattr(devices.sys, "platform", "linux")
    assert devices.surely_cpu_only() is cpu_only
    monkeypatch.setattr(devices.sys, "platform", "darwin")  # MPS needs torch to tell
    assert devices.surely_cpu_only() is False
