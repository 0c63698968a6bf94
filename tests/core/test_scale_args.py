"""Fast defaults per device and the scale options (gradient checkpointing, FSDP, DeepSpeed),
checked where they become `TrainingArguments` keywords; CUDA is faked (no GPU here)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from workbench import devices
from workbench.config import RunConfig, TrainingConfig
from workbench.errors import WorkbenchError
from workbench.presets import config_to_toml, load_config

from tests.core.tiny_training import tiny_config, train_to_end


def training_argument_names() -> set[str]:
    from transformers import TrainingArguments

    return {field.name for field in dataclasses.fields(TrainingArguments)}


@pytest.fixture
def fake_cuda(monkeypatch: pytest.MonkeyPatch):
    """A CUDA device of the given compute capability, as far as `devices` can tell."""

    def install(capability: tuple[int, int]) -> None:
        monkeypatch.setattr(devices, "cuda_capability", lambda: capability)

    return install


def test_cuda_defaults_are_the_fast_ones_on_an_ampere_gpu(fake_cuda) -> None:
    fake_cuda((8, 0))
    arguments = devices.accelerator_arguments("cuda")
    assert arguments == {
        "tf32": True, "optim": "adamw_torch_fused", "dataloader_pin_memory": True,
        "dataloader_num_workers": devices.CUDA_DATALOADER_WORKERS, "dataloader_persistent_workers": True,
    }
    assert set(arguments) <= training_argument_names()


def test_tf32_stays_off_before_ampere(fake_cuda) -> None:
    fake_cuda((7, 5))  # a T4: TrainingArguments(tf32=True) would refuse to start
    assert devices.accelerator_arguments("cuda")["tf32"] is False


def test_cpu_keeps_one_process_loading_and_the_fused_optimizer() -> None:
    arguments = devices.accelerator_arguments("cpu")
    assert arguments == {"optim": "adamw_torch_fused", "dataloader_num_workers": 0}
    assert set(arguments) <= training_argument_names()


def test_the_started_record_says_what_is_in_effect_on_cuda(fake_cuda) -> None:
    fake_cuda((9, 0))
    model = SimpleNamespace(config=SimpleNamespace(_attn_implementation="sdpa"))
    record = devices.runtime_record("cuda", "bf16", model)
    assert record == {
        "bf16": True, "fp16": False, "tf32": True, "optimizer": "adamw_torch_fused", "pin_memory": True,
        "dataloader_workers": devices.CUDA_DATALOADER_WORKERS, "attention": "sdpa",
    }


def test_the_cpu_record_has_no_cuda_accelerations() -> None:
    record = devices.runtime_record("cpu", "fp32")
    assert record["tf32"] is False and record["bf16"] is False and record["pin_memory"] is False
    assert record["dataloader_workers"] == 0 and "attention" not in record


def test_scale_options_become_training_arguments(tmp_path: Path) -> None:
    ds_config = tmp_path / "ds.json"
    ds_config.write_text(json.dumps({"zero_optimization": {"stage": 2}}))
    training = TrainingConfig(gradient_checkpointing=True, fsdp="full_shard auto_wrap", fsdp_config={"min_num_params": 1000})
    arguments = devices.scale_arguments(training)
    assert arguments == {
        "activation_checkpointing": True, "activation_checkpointing_kwargs": {"use_reentrant": False},  # transformers 5.2x's name
        "fsdp": "full_shard auto_wrap", "fsdp_config": {"min_num_params": 1000},
    }
    assert set(arguments) <= training_argument_names()
    deepspeed = devices.scale_arguments(TrainingConfig(deepspeed=str(ds_config)))
    assert deepspeed == {"activation_checkpointing": False, "deepspeed": str(ds_config.resolve())}
    assert set(deepspeed) <= training_argument_names()


def test_scale_options_survive_config_toml(tmp_path: Path) -> None:
    config = RunConfig.model_validate({
        "model": {"name": "m"}, "data": {"train": "t.csv"},
        "training": {"gradient_checkpointing": True, "fsdp": "full_shard", "fsdp_config": {"min_num_params": 10}},
    })
    saved = tmp_path / "config.toml"
    saved.write_text(config_to_toml(config))
    again = load_config(str(saved), [])
    assert again.training.fsdp_config == {"min_num_params": 10} and again.training.gradient_checkpointing


@pytest.mark.parametrize(
    "settings,fragment",
    [
        ({"deepspeed": "missing.json"}, "does not exist"),
        ({"deepspeed": "ds.json", "fsdp": "full_shard"}, "both set"),
        ({"deepspeed": "not-json.json"}, "is not a JSON file"),
        ({"deepspeed": "ds.json"}, "needs the deepspeed package"),  # this environment has no deepspeed
        ({"fsdp": "full_shard", "device": "cpu"}, "needs GPUs"),  # accelerate would run DDP instead, unsharded
    ],
)
def test_preflight_refuses_a_deepspeed_config_it_cannot_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: dict, fragment: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ds.json").write_text("{}")
    (tmp_path / "not-json.json").write_text("zero: 2\n")
    with pytest.raises(WorkbenchError, match=fragment) as caught:
        devices.check_scale(TrainingConfig(**settings))
    assert caught.value.hint


def test_a_run_with_gradient_checkpointing_trains_and_records_its_runtime(tiny_model_dir: Path, tiny_csv: Path, tmp_path: Path) -> None:
    run = train_to_end(tiny_config(tiny_model_dir, tiny_csv, epochs=1, gradient_checkpointing=True), tmp_path / "runs")
    events = run.events()
    assert events[-1]["type"] == "finished", events[-1]
    started = next(event for event in events if event["type"] == "started")
    assert started["runtime"]["optimizer"] == "adamw_torch_fused"
    assert started["runtime"]["tf32"] is False and started["runtime"]["dataloader_workers"] == 0


# -- torchrun and Slurm for several machines --------------------------------------------------------
def test_one_machine_is_a_standalone_torchrun(tmp_path: Path) -> None:
    from workbench.launch_script import torchrun_command

    assert torchrun_command(tmp_path / "run", 4) == [
        "torchrun", "--standalone", "--nproc-per-node", "4", "-m", "workbench.trainer", str(tmp_path / "run")]


def test_several_machines_meet_at_one_rendezvous_named_by_the_run(tmp_path: Path) -> None:
    from workbench.launch_script import shell_line, torchrun_command

    command = torchrun_command(tmp_path / "2026-01-01_000000_x", 8, 2, resume=True)
    assert "--standalone" not in command and command[-1] == "--resume"
    assert command[command.index("--nnodes") + 1] == "2"
    assert command[command.index("--rdzv-id") + 1] == "2026-01-01_000000_x"
    assert '"$MASTER_ADDR:29500"' in shell_line(command)  # expanded by the shell on each machine


def test_the_slurm_script_starts_one_torchrun_per_node_of_the_allocation(tmp_path: Path) -> None:
    from workbench.launch_script import slurm_script

    script = slurm_script(tmp_path / "run", 4, 3, job_name="tlwb-x")
    lines = script.splitlines()
    assert lines[0] == "#!/bin/bash"
    assert {"#SBATCH --nodes=3", "#SBATCH --ntasks-per-node=1", "#SBATCH --gpus-per-node=4"} <= set(lines)
    launch = next(line for line in lines if line.startswith("srun "))
    assert '--nnodes "$SLURM_NNODES"' in launch and '--rdzv-endpoint "$HEAD_NODE:29500"' in launch
    assert launch.endswith(f"-m workbench.trainer {tmp_path / 'run'} ${{TLWB_RESUME:-}}")


def test_launch_script_writes_the_run_and_prints_a_torchrun_line_that_trains_it(tiny_model_dir: Path, tiny_csv: Path, tmp_path: Path) -> None:
    """The printed command, run as printed (2 gloo processes on CPU), trains the run it names."""
    import os
    import shlex
    import subprocess
    import sys

    from workbench.runner import wait
    from workbench.runstore import RunDir

    preset = tmp_path / "tiny.toml"
    preset.write_text(config_to_toml(tiny_config(tiny_model_dir, tiny_csv, epochs=1)))
    cli = [sys.executable, "-m", "workbench.cli", "launch-script", str(preset), "--nproc", "2", "--runs-dir", str(tmp_path / "runs"), "--no-preflight"]
    printed = subprocess.run(cli, capture_output=True, text=True, timeout=300)
    assert printed.returncode == 0, printed.stderr
    command = shlex.split(printed.stdout.strip())
    assert command[:2] == ["torchrun", "--standalone"]
    run = RunDir(Path(command[-1]))
    assert run.config().training.nproc == 2 and not run.events()  # written, not started
    environment = dict(os.environ, OMP_NUM_THREADS="1", PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    trained = subprocess.run(command, capture_output=True, text=True, timeout=600, env=environment, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert wait(run, timeout_s=60).type == "finished"
    started = next(event for event in run.events() if event["type"] == "started")
    assert started["effective_batch_size"] == 2 * 8  # both ranks trained


# -- the memory estimate ---------------------------------------------------------------------------
def minilm_estimate(**overrides) -> int:
    from workbench.models import ModelShape, ParamCounts
    from workbench.preflight import estimate_training_memory

    model_config = ModelShape(hidden_size=384, layers=6, heads=12, vocab_size=30522)
    settings = {"batch_size": 32, "max_length": 128} | overrides.pop("training", {})
    kind = overrides.get("method", "full")
    trainable = {"full": 22_713_602, "lora": 74_000, "head": 148_000}[kind]
    return estimate_training_memory(model_config, ParamCounts(22_713_602, trainable), TrainingConfig(**settings), "fp32", **overrides)


def test_the_estimate_is_within_a_quarter_of_measured_cpu_peaks() -> None:
    """Peak RSS of MiniLM training steps at length 128 (benchmarks/memory_estimate.py, this machine)."""
    gib = 1024**3
    measured = {("full", 8, False): 1.22, ("full", 32, False): 2.18, ("lora", 8, False): 1.02, ("lora", 32, False): 2.17,
                ("head", 8, False): 0.70, ("head", 32, False): 0.78, ("full", 32, True): 1.56}
    for (method, batch, checkpointing), peak in measured.items():
        estimate = minilm_estimate(method=method, training={"batch_size": batch, "gradient_checkpointing": checkpointing})
        assert 0.75 <= estimate / (peak * gib) <= 1.25, (method, batch, checkpointing, estimate / (peak * gib))


def test_checkpointing_and_head_training_need_less_and_a_gpu_has_no_library_baseline() -> None:
    full = minilm_estimate()
    assert minilm_estimate(training={"gradient_checkpointing": True}) < 0.75 * full
    assert minilm_estimate(method="head") < minilm_estimate(method="lora") < full
    from workbench.models import CPU_RUNTIME_BYTES

    assert full - minilm_estimate(device="cuda") == CPU_RUNTIME_BYTES
    assert minilm_estimate(generating=True) > full  # the vocabulary's logits


def test_a_run_written_for_a_scheduler_waits_as_starting_not_vanished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench import runstore
    from workbench.launch_script import prepare_launch
    from workbench.runstore import RunDir

    config = RunConfig.model_validate({"model": {"name": "m"}, "data": {"train": "t.csv"}})
    path, script = prepare_launch(config, tmp_path / "runs", nproc=4, nnodes=2, slurm=True)
    monkeypatch.setattr(runstore, "LAUNCH_GRACE_S", 0)  # long past the launcher's grace
    status = RunDir(path).status()
    assert status.state == "starting" and "not started yet" in status.message
    assert RunDir(path).config().training.nproc == 4 and str(path) in script
