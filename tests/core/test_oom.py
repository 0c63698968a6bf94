"""Out of memory: a `failed` event of kind `oom` with numbers in the hint, never a traceback;
with `training.auto_batch`, a smaller batch (same effective batch) and the run goes on.

The OOM is raised inside a real training process by the `oom_at_step` fault (see
`workbench.faults`); `oom_above_batch` makes it stop once the batch is
small enough, like a real one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
    assert "batch 64 × length 512 did not fit (estimated ~30.5 GiB; 24.0 GiB available at the start)" in hint
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
    assert "batch 1 × length 32 did not fit (estimated ~" in failed["hint"]
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


#: The address-space cap of the real out-of-memory test: room for Python, torch and a tiny model,
#: not for the attention scores of batch 512 × length 128 × 16 heads (512 MiB a tensor).
MEMORY_CAP_BYTES = 3 * 2**30


def _capped(limit: int):
    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def write_memory_hungry_preset(folder: Path) -> Path:
    """A tiny BERT with 16 attention heads on rows of 128 tokens at batch 512: each attention
    score tensor is 512 MiB, far more than the model."""
    from tests.conftest import TINY_VOCAB, build_tiny_model
    from transformers import BertConfig, BertForSequenceClassification

    model_dir = build_tiny_model(folder / "model")
    config = BertConfig(vocab_size=len(TINY_VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=16,
                        intermediate_size=64, max_position_embeddings=128)
    BertForSequenceClassification(config).save_pretrained(model_dir)
    long = " ".join(["good great movie"] * 60)  # well over 128 tokens: every row is max_length long
    data = folder / "long.csv"
    data.write_text("text,label\n" + "".join(f"{long} {i},positive\n{long.replace('good great', 'bad awful')} {i},negative\n" for i in range(300)))
    return write_tiny_preset(folder, model_dir, data, batch_size=512, max_length=128, epochs=1)


#: Threads and malloc arenas each reserve address space: a steady baseline for the cap.
STEADY_ENV = {"MALLOC_ARENA_MAX": "2", "OMP_NUM_THREADS": "2"}


def test_a_real_out_of_memory_under_a_memory_cap_is_kind_oom_with_numbers(tmp_path: Path) -> None:
    """No simulation: `tlwb train` runs under RLIMIT_AS (as `ulimit -v` sets it) and torch's CPU
    allocator fails ("DefaultCPUAllocator: can't allocate memory"), as on a machine too small."""
    import subprocess

    from tests.core.tiny_runs import TLWB

    preset = write_memory_hungry_preset(tmp_path)
    runs_dir = tmp_path / "runs"
    done = subprocess.run([*TLWB, "train", str(preset), "--runs-dir", str(runs_dir), "--no-preflight"], capture_output=True,
                          text=True, env={**hooks_env(), **STEADY_ENV}, timeout=600, preexec_fn=_capped(MEMORY_CAP_BYTES))
    (run_path,) = runs_dir.iterdir()
    log = (run_path / "train.log").read_text()
    assert done.returncode == 1, done.stdout + done.stderr + log[-3000:]
    assert "can't allocate memory" in log  # the real allocator failed, not a simulation
    assert "failed (oom)" in done.stdout and "Traceback" not in done.stdout + done.stderr
    status = json.loads((run_path / "status.json").read_text())
    assert status["state"] == "failed" and status["kind"] == "oom", status
    assert status["message"].startswith("out of memory: DefaultCPUAllocator could not allocate") and "\n" not in status["message"]
    assert "peak RSS" in status["message"] and "address-space limit 3.0 GiB" in status["message"]
    assert "batch 512 × length 128 did not fit" in status["hint"]
    assert "--set training.batch_size=128 --set training.gradient_accumulation_steps=4" in status["hint"]
    (failed,) = [e for e in events_of_path(run_path) if e["type"] in {"failed", "finished", "cancelled"}]
    assert (failed["kind"], failed["message"], failed["hint"]) == (status["kind"], status["message"], status["hint"])


#: The memory cgroup of the OOM-killer test: the training process is killed, not refused.
CGROUP_LIMIT_BYTES = 1536 * 2**20


def memory_cgroup(name: str, limit: int) -> Path | None:
    """A cgroup v1 memory cgroup with a hard limit (None where it can't be made: no v1 memory
    controller mounted, not root)."""
    import os

    root = Path("/sys/fs/cgroup/memory")
    folder = root / name
    try:
        folder.mkdir()
        (folder / "memory.limit_in_bytes").write_text(str(limit))
    except OSError:
        if folder.is_dir():
            folder.rmdir()
        return None
    if not os.access(folder / "cgroup.procs", os.W_OK):
        folder.rmdir()
        return None
    return folder


def test_a_run_killed_by_the_kernels_oom_killer_is_failed_oom(tmp_path: Path) -> None:
    """The kernel's OOM killer SIGKILLs the training process (a memory cgroup with a hard limit,
    as a container has): no Python error, no event. Readers find the kill (the kernel log or the
    cgroup's oom_kill count) and say `oom` with numbers, not "vanished"."""
    import os
    import subprocess

    from tests.core.tiny_runs import TLWB, wait_for
    from workbench.runstore import RunDir

    cgroup = memory_cgroup(f"tlwb-test-{os.getpid()}", CGROUP_LIMIT_BYTES)
    if cgroup is None:
        pytest.skip("can't create a memory cgroup here (needs root and the cgroup v1 memory controller)")

    def join_cgroup() -> None:
        (cgroup / "cgroup.procs").write_text(str(os.getpid()))

    try:
        preset = write_memory_hungry_preset(tmp_path)
        done = subprocess.run([*TLWB, "train", str(preset), "--runs-dir", str(tmp_path / "runs"), "--no-preflight", "--detach", "--json"],
                              capture_output=True, text=True, env={**hooks_env(), **STEADY_ENV}, timeout=600, preexec_fn=join_cgroup)
        assert done.returncode == 0, done.stderr
        run = RunDir(Path(json.loads(done.stdout.strip().splitlines()[-1])["path"]))
        status = wait_until_ended(run)
        assert (status["state"], status["kind"]) == ("failed", "oom"), (status, run.log_path.read_text()[-3000:])
        assert "OOM killer" in status["message"] and "Traceback" not in status["message"]
        assert "batch 512 × length 128 did not fit" in status["hint"] and "training.batch_size=128" in status["hint"]
        assert int((cgroup / "memory.oom_control").read_text().split("oom_kill ")[1].split()[0]) >= 1  # the kernel did it
        shown = tlwb("runs", "--runs-dir", str(tmp_path / "runs"), "--json")
        assert [row["state"] for row in json.loads(shown.stdout)] == ["failed"]
    finally:
        wait_for(lambda: not (cgroup / "cgroup.procs").read_text().strip(), timeout=120, what="the cgroup to empty")
        cgroup.rmdir()


def events_of_path(run_path: Path) -> list[dict]:
    return [json.loads(line) for line in (run_path / "events.jsonl").read_text().splitlines() if line.strip()]
