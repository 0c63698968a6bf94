"""Out of memory: a `failed` event of kind `oom` with numbers in the hint, never a traceback;
with `training.auto_batch`, a smaller batch (same effective batch) and the run goes on.

The OOM is raised inside a real training process by the `oom_at_step` fault (see
`workbench.faults`); `oom_above_batch` makes it stop once the batch is
small enough, like a real one.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.core.tiny_runs import TINY_STEPS, events_of, hooks_env, start_detached, tlwb, wait_until_ended, write_tiny_preset
from tests.fakes import FakeRun, fake_config
from workbench.trainer.failures import MAX_AUTO_BATCH_RETRIES, is_out_of_memory, oom_hint


def test_out_of_memory_errors_are_recognised() -> None:
    import torch

    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_out_of_memory(MemoryError())
    assert is_out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 17.00 GB)"))
    assert not is_out_of_memory(RuntimeError("expected scalar type Float"))
    assert not is_out_of_memory(ValueError("out of memory"))


def test_the_hint_names_the_batch_the_estimate_and_a_smaller_setup(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir, config=fake_config(training={"batch_size": 64, "max_length": 512, "epochs": 1}))
    fake.started()
    fake.writer.emit("started", memory_estimate_bytes=int(30.5 * 2**30), device_memory_bytes=24 * 2**30, resumed=False)
    hint = oom_hint(fake.run)
    assert "batch 64 × length 512 needed ~30.5 GiB of 24.0 GiB" in hint
    assert "--set training.batch_size=16 --set training.gradient_accumulation_steps=4" in hint
    assert "lora" in hint and "\n" not in hint


def test_oom_with_auto_batch_exhausted_fails_with_kind_oom_and_no_traceback(tiny_model_dir: Path, tiny_csv: Path, tmp_path: Path) -> None:
    preset = write_tiny_preset(tmp_path, tiny_model_dir, tiny_csv, auto_batch=True)
    runs_dir = tmp_path / "runs"
    done = tlwb("train", str(preset), "--runs-dir", str(runs_dir), "--no-preflight", env=hooks_env(oom_at_step=1))
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert "failed (oom)" in done.stdout
    (run_path,) = runs_dir.iterdir()
    events = [json.loads(line) for line in (run_path / "events.jsonl").read_text().splitlines()]
    retries = [e["auto_batch"] for e in events if e["type"] == "log" and "auto_batch" in e]
    assert [(r["from_batch_size"], r["batch_size"], r["gradient_accumulation_steps"]) for r in retries] == [(8, 4, 2), (4, 2, 4), (2, 1, 8)]
    assert len(retries) == MAX_AUTO_BATCH_RETRIES
    (failed,) = [e for e in events if e["type"] in {"failed", "finished", "cancelled"}]
    assert failed["type"] == "failed" and failed["kind"] == "oom"
    assert failed["message"].startswith("out of memory") and "\n" not in failed["message"]
    assert "batch 1 × length 32 needed ~" in failed["hint"]
    status = json.loads((run_path / "status.json").read_text())
    assert status["state"] == "failed" and status["kind"] == "oom" and len(status["auto_batch"]) == 3


def test_auto_batch_halves_the_batch_and_continues_from_the_last_checkpoint(
    tiny_model_dir: Path, tiny_csv: Path, tmp_path: Path
) -> None:
    preset = write_tiny_preset(tmp_path, tiny_model_dir, tiny_csv, auto_batch=True)
    run = start_detached(preset, tmp_path / "runs", hooks_env(oom_at_step=5, oom_above_batch=4), "--no-preflight")
    status = wait_until_ended(run)
    assert status["state"] == "finished", run.log_path.read_text()[-3000:]
    first, second = events_of(run, "started")
    assert (first["batch_size"], first["gradient_accumulation_steps"], first["auto_batch"]) == (8, 1, [])
    assert (second["batch_size"], second["gradient_accumulation_steps"]) == (4, 2)
    assert second["effective_batch_size"] == first["effective_batch_size"] == 8
    assert [a["batch_size"] for a in second["auto_batch"]] == [4]
    assert second["resumed"] and second["resumed_from_step"] == 4  # the checkpoint before the OOM
    warning = next(e for e in events_of(run, "log") if "auto_batch" in e)
    assert warning["level"] == "warning" and "retrying with batch 4" in warning["message"]
    assert events_of(run, "finished")[0]["step"] == TINY_STEPS
    assert run.config().training.batch_size == 4  # config.toml says what the run now uses
    assert status["auto_batch"][0]["from_batch_size"] == 8
