"""Real training processes of tiny decoders: a chat run through `tlwb train`, SIGKILL and resume
to the same loss, two gloo processes into one run directory, and GPT-2 as a classifier."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.core.tiny_decoders import build_tiny_gpt2, build_tiny_llama
from tests.core.tiny_runs import hooks_env, start_detached, tlwb, wait_until_ended
from tests.core.tiny_training import train_to_end
from workbench.config import RunConfig
from workbench.presets import config_to_toml
from workbench.runstore import RunDir


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("decoders")
    return {"gpt2": build_tiny_gpt2(folder / "gpt2"), "llama": build_tiny_llama(folder / "llama")}


def chat_rows() -> list[dict[str, Any]]:
    """Multi-turn messages whose last answer is a label word (so exact match applies)."""
    rows = []
    for i in range(30):
        for review, label in (("the movie was good and great", "positive"), ("the film was bad and awful", "negative")):
            rows.append({"messages": [
                {"role": "system", "content": "answer with one word"},
                {"role": "user", "content": f"review: {review} {i % 3} . sentiment?"},
                {"role": "assistant", "content": label},
            ]})
    return rows


@pytest.fixture(scope="module")
def chat_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("chat") / "chat.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in chat_rows()))
    return path


def generation_config(model: Path, data: Path, *, method: str = "lora", **training: Any) -> RunConfig:
    settings = {"epochs": 2, "batch_size": 8, "max_length": 96, "logging_steps": 1, "learning_rate": 5e-3, "seed": 7, "num_samples": 4, **training}
    return RunConfig.model_validate({
        "task": "text-generation", "name": f"gen-{method}", "model": {"name": str(model)}, "data": {"train": str(data)},
        "method": {"kind": method}, "training": settings, "generation": {"max_new_tokens": 6},
    })


def raw_events(run: RunDir, kind: str | None = None) -> list[dict[str, Any]]:
    lines = (run.path / "events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines if line.strip()]
    return [e for e in events if kind is None or e["type"] == kind]


def test_tlwb_train_runs_a_chat_lora_end_to_end(models: dict[str, Path], chat_data: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    preset = tmp_path / "chat.toml"
    preset.write_text(config_to_toml(generation_config(models["llama"], chat_data)))
    done = tlwb("train", str(preset), "--runs-dir", str(tmp_path / "runs"), "--json")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    run = RunDir(next((tmp_path / "runs").iterdir()))
    started = raw_events(run, "started")[0]
    assert (started["task"], started["main_metric"], started["greater_is_better"]) == ("text-generation", "loss", False)
    assert (started["data_format"], started["chat_template"], started["packing"], started["truncated_rows"]) == ("messages", "tokenizer", False, 0)
    assert set(started["token_lengths"]) == {"p50", "p90", "p99", "max"} and 0 < started["token_lengths"]["max"] <= 96
    assert started["train_size"] == 54 and started["validation_size"] == 6
    steps = raw_events(run, "step")
    assert steps and all(s["tokens_per_s"] > 0 for s in steps)
    evals = raw_events(run, "eval")
    assert [e["step"] for e in evals][0] == 0 and len(evals) == 3  # the untrained baseline, then each epoch
    assert {"loss", "perplexity", "exact_match", "n"} <= evals[-1]["metrics"].keys()
    assert [s["step"] for s in raw_events(run, "samples")][0] == 0
    assert evals[-1]["metrics"]["perplexity"] == pytest.approx(2.718281828 ** evals[-1]["metrics"]["loss"], rel=1e-3)
    assert steps[-1]["loss"] < steps[0]["loss"]
    item = raw_events(run, "samples")[-1]["items"][0]
    assert {"prompt", "reference", "generated", "match"} <= item.keys() and item["reference"] in {"positive", "negative"}
    status = json.loads(run.status_path.read_text())
    assert status["best"]["name"] == "loss" and status["best"]["value"] == min(e["metrics"]["loss"] for e in evals)
    saved = AutoTokenizer.from_pretrained(run.adapter_dir)
    assert saved.chat_template and "[INST]" in saved.chat_template  # inference needs nothing else


@pytest.mark.slow
def test_a_killed_causal_lm_run_resumes_to_the_same_loss(models: dict[str, Path], chat_data: Path, tmp_path: Path) -> None:
    """Full fine-tuning of GPT-2 with packing (ChatML fallback) and length buckets, SIGKILLed at
    step 5 of 8: the second epoch's batches come back in the same order after the resume."""
    preset = tmp_path / "gen.toml"
    preset.write_text(config_to_toml(generation_config(models["gpt2"], chat_data, method="full", packing=True, save_steps=3, save_total_limit=3,
                                                       batching="length_buckets")))
    runs_dir = tmp_path / "runs"
    whole = start_detached(preset, runs_dir, hooks_env(), "--no-preflight")
    killed = start_detached(preset, runs_dir, hooks_env(kill_at_step=5), "--no-preflight")
    assert wait_until_ended(whole)["state"] == "finished", whole.log_path.read_text()[-3000:]
    assert wait_until_ended(killed)["kind"] == "vanished", killed.log_path.read_text()[-3000:]
    resumed = tlwb("resume", killed.id, "--runs-dir", str(runs_dir))
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert raw_events(whole, "started")[0]["packing"] is True
    final_whole, final_resumed = raw_events(whole, "finished")[-1], raw_events(killed, "finished")[-1]
    assert final_resumed["metrics"]["loss"] == pytest.approx(final_whole["metrics"]["loss"], abs=1e-5)
    losses_whole = {e["step"]: e["loss"] for e in raw_events(whole, "step")}
    losses_resumed = {e["step"]: e["loss"] for e in raw_events(killed, "step")}
    assert losses_resumed == pytest.approx(losses_whole, abs=1e-5)


@pytest.mark.slow
def test_two_gloo_processes_write_one_coherent_generation_run(models: dict[str, Path], chat_data: Path, tmp_path: Path) -> None:
    run = train_to_end(generation_config(models["llama"], chat_data, nproc=2, batching="length_buckets"), tmp_path / "runs")
    types = [e["type"] for e in raw_events(run)]
    assert types.count("started") == 1 and types.count("finished") == 1 and "failed" not in types, run.log_path.read_text()[-3000:]
    steps = [e["step"] for e in raw_events(run, "step")]
    assert steps == sorted(set(steps))
    evals = raw_events(run, "eval")
    assert [e["step"] for e in evals] == sorted({e["step"] for e in evals}) and len(evals) == 3  # step 0: the baseline
    assert raw_events(run, "samples")  # rank 0 generated
    assert raw_events(run, "started")[0]["effective_batch_size"] == 16
    assert (run.adapter_dir / "adapter_config.json").is_file()


def test_gpt2_trains_as_a_text_classifier_with_eos_as_pad(models: dict[str, Path], tiny_csv: Path, tmp_path: Path) -> None:
    from workbench.inference import load_run_model

    config = RunConfig.model_validate({
        "name": "gpt2-cls", "model": {"name": str(models["gpt2"])}, "data": {"train": str(tiny_csv)}, "method": {"kind": "lora"},
        "training": {"epochs": 1, "batch_size": 8, "max_length": 32, "learning_rate": 5e-3},
    })
    run = train_to_end(config, tmp_path / "runs")
    started = raw_events(run, "started")
    assert started and started[0]["architecture"] == "GPT2LMHeadModel" and started[0]["main_metric"] == "accuracy", run.log_path.read_text()[-3000:]
    assert raw_events(run, "finished"), run.log_path.read_text()[-3000:]
    loaded = load_run_model(run)
    assert loaded.model.config.pad_token_id == loaded.tokenizer.eos_token_id
    assert loaded.predict(["this movie was good", "bad"])[0]["label"] in {"positive", "negative"}
