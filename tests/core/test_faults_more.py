"""Faults of issue 11 (classes 9-12) through the real CLI and real training processes: a full disk
on a real small filesystem, a read-only run directory, a kill between the `finished` event and
status.json, a deleted events.jsonl, and the readers that reconcile what a vanished run left.

The filesystems are tmpfs mounts the tests make (we run as root in CI); where mounting is not
allowed those tests skip, saying so. The OOM under a real memory cap is in test_oom.py.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from tests.core.tiny_runs import (
    TINY_STEPS,
    Hold,
    events_of,
    start_detached,
    tlwb,
    wait_for_event,
    wait_until_ended,
    write_tiny_preset,
)
from tests import shared_runs
from tests.fakes import FakeRun
from workbench.errors import RunError
from workbench.runstore import RESERVE_BYTES, RunDir
from workbench.trainer.failures import disk_full_error, disk_full_failure, is_out_of_memory, oom_message


# -- helpers ------------------------------------------------------------------------------------
def mount_tmpfs(folder: Path, size: str) -> None:
    """A real small filesystem at `folder`; skips the test where mounting is not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"can't mount a tmpfs here (needs root / CAP_SYS_ADMIN): {done.stderr.strip()}")


def unmount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "disk"
    mount_tmpfs(folder, "2m")
    yield folder
    unmount(folder)


def fill(folder: Path, leave: int) -> Path:
    """Take all free space on `folder`'s filesystem but `leave` bytes (a real file of real blocks)."""
    filler = folder / "filler.bin"
    free = shutil.disk_usage(folder).free
    with filler.open("wb") as handle:
        os.posix_fallocate(handle.fileno(), 0, max(0, free - leave))
    return filler


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def runs_json(runs_dir: Path) -> dict[str, dict]:
    done = tlwb("runs", "--runs-dir", str(runs_dir), "--json")
    assert done.returncode == 0, done.stderr
    return {row["id"]: row for row in json.loads(done.stdout)}


def model_weights(run: RunDir) -> dict:
    from safetensors.torch import load_file

    return load_file(str(run.model_dir / "model.safetensors"))


# -- classification ----------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "[enforce fail at inline_container.cc:783] . unexpected pos 1472 vs 1386",
    "[enforce fail at inline_container.cc:626] . file write failed",
    "PytorchStreamWriter failed writing file data/3: file write failed",
])
def test_torch_serializer_write_failures_are_a_disk_problem(text: str) -> None:
    err = RuntimeError(text)
    assert disk_full_error(err) is err
    wrapped = RuntimeError("saving the checkpoint failed")
    wrapped.__cause__ = err
    assert disk_full_error(wrapped) is err


def test_ordinary_errors_are_neither_disk_nor_memory() -> None:
    for err in (RuntimeError("expected scalar type Float but found Half"), ValueError("bad label"), OSError(errno.EACCES, "denied")):
        assert disk_full_error(err) is None and not is_out_of_memory(err)


def test_allocator_messages_and_enomem_are_out_of_memory() -> None:
    cpu = RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
                       "you tried to allocate 536870912 bytes. Error code 12 (Cannot allocate memory)")
    assert is_out_of_memory(cpu)
    assert is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert is_out_of_memory(OSError(errno.ENOMEM, "Cannot allocate memory"))
    wrapped = RuntimeError("the forward pass failed")
    wrapped.__cause__ = cpu
    assert is_out_of_memory(wrapped)
    message = oom_message(cpu)
    assert message.startswith("out of memory: DefaultCPUAllocator could not allocate 512.0 MiB more") and "peak RSS" in message
    cuda = oom_message(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has 1.2 GiB free"))
    assert "Tried to allocate 2.00 GiB" in cuda and "peak RSS" not in cuda  # host RSS says nothing about a GPU


def test_a_failed_write_on_a_disk_with_room_is_not_called_full(tmp_path: Path) -> None:
    run = FakeRun(tmp_path / "runs").run
    message, hint = disk_full_failure(run, RuntimeError("[enforce fail at inline_container.cc:626] . file write failed"))
    assert message.startswith("writing a checkpoint (torch.save) failed") and "full" not in message
    assert f"tlwb resume {run.id}" in hint


# -- the reserve and the readers ---------------------------------------------------------------
def test_the_reserve_lets_the_end_be_written_on_a_full_disk(small_disk: Path) -> None:
    fake = FakeRun(small_disk / "runs")
    run = fake.run
    assert run.reserve_space() and run.reserve_path.stat().st_size == RESERVE_BYTES
    fill(small_disk, leave=0)
    with pytest.raises(OSError) as refused:
        (small_disk / "more.bin").write_bytes(b"x" * 65536)
    assert refused.value.errno == errno.ENOSPC  # the disk really is full
    run.write_status(state="failed", kind="disk", message="the disk is full", hint="free space")  # takes the reserve
    assert json.loads(run.status_path.read_text())["kind"] == "disk"
    assert not run.reserve_path.exists()


def test_a_run_that_vanished_after_the_oom_killer_is_failed_oom(runs_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from workbench import devices

    counter = tmp_path / "memory.events"
    counter.write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n")
    monkeypatch.setattr(devices, "kernel_says_oom_killed", lambda pid, since=None: False)
    fake = FakeRun(runs_dir)
    fake.started()
    fake.step(4, 0.6, memory_bytes=3 * 2**30)
    fake.run.write_status(pid=dead_pid(), oom_counter={"path": str(counter), "kills": 0})  # as the runner records it
    counter.write_text("low 0\nhigh 0\nmax 9\noom 2\noom_kill 1\n")  # the kernel killed a process since
    status = fake.run.status()
    assert (status.state, status.kind) == ("failed", "oom")
    assert "OOM killer" in status.message and "oom_kill count rose" in status.message
    assert "(it was using 3.0 GiB when it was killed)" in status.hint and "training.batch_size=8" in status.hint


def test_a_run_that_vanished_writing_to_a_full_disk_is_failed_disk(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir)
    fake.started()
    fake.run.log_path.write_text("Traceback (most recent call last):\n  ...\nOSError: [Errno 28] No space left on device\n")
    fake.run.write_status(pid=dead_pid())
    status = fake.run.status()
    assert (status.state, status.kind) == ("failed", "disk")
    assert f"tlwb resume {fake.run.id}" in status.hint


def test_a_run_that_vanished_on_a_full_disk_its_log_could_not_record_is_failed_disk(small_disk: Path) -> None:
    fake = FakeRun(small_disk / "runs")
    fake.started()
    fake.writer.close()
    fake.run.write_status(pid=dead_pid())
    fill(small_disk, leave=0)  # train.log, on the same disk, got nothing
    status = fake.run.status()
    assert (status.state, status.kind) == ("failed", "disk") and "the disk is full now" in status.message


def test_a_killed_run_without_such_traces_is_still_vanished(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir)
    fake.started()
    fake.run.write_status(pid=dead_pid())
    assert fake.run.status().kind == "vanished"


# -- read-only run directory ---------------------------------------------------------------------
def test_the_writability_check_trusts_os_access_too(runs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = FakeRun(runs_dir).run
    run.check_writable()
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
    with pytest.raises(RunError, match="can't write to run directory"):
        run.check_writable()


def test_resume_into_a_read_only_run_directory_is_one_line(tmp_path: Path) -> None:
    disk = tmp_path / "ro"
    mount_tmpfs(disk, "4m")
    try:
        fake = FakeRun(disk / "runs")
        fake.started()
        fake.run.write_status(pid=dead_pid(), state="failed", kind="vanished", message="killed", hint="resume it")
        (fake.run.checkpoints_dir / "checkpoint-4").mkdir(parents=True)
        (fake.run.checkpoints_dir / "checkpoint-4" / "trainer_state.json").write_text("{}")
        fake.writer.close()  # nothing may be open for writing on a filesystem being made read-only
        before = {p: p.read_bytes() for p in fake.run.path.rglob("*") if p.is_file()}
        remount = subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True, text=True)
        if remount.returncode != 0:
            pytest.skip(f"can't remount the tmpfs read-only: {remount.stderr.strip()}")
        done = tlwb("resume", fake.run.id, "--runs-dir", str(disk / "runs"))
        assert done.returncode == 2, done.stdout + done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 2 and lines[0].startswith("error: can't write to run directory") and "Read-only file system" in lines[0]
        assert lines[1].strip().startswith("hint: ") and "Traceback" not in done.stdout + done.stderr
        assert {p: p.read_bytes() for p in fake.run.path.rglob("*") if p.is_file()} == before
    finally:
        unmount(disk)


# -- a kill between `finished` and status.json; a deleted events.jsonl ---------------------------
@pytest.fixture
def preset(tiny_model_dir: Path, tiny_csv: Path, tmp_path: Path) -> Path:
    return write_tiny_preset(tmp_path, tiny_model_dir, tiny_csv)


def test_a_run_that_lost_its_events_file_and_was_killed_after_finished_reads_as_finished(preset: Path, tmp_path: Path) -> None:
    """Two faults in one run: events.jsonl is deleted while it trains (a careless clean-up), and
    the process is killed right after writing `finished`, before status.json says so. The end is
    in a new events.jsonl, and every reader reconciles the stale status with it."""
    runs_dir = tmp_path / "runs"
    held = Hold(tmp_path, at_step=3, kill_after_finished=1)
    run = start_detached(preset, runs_dir, held.env, "--no-preflight")
    wait_for_event(run, "step")
    run.events_path.unlink()
    held.release()
    status = wait_until_ended(run)
    assert status["state"] == "finished", run.log_path.read_text()[-3000:]
    assert json.loads(run.status_path.read_text())["state"] == "running"  # the kill came before the status update
    kinds = [e["type"] for e in run.events()]
    assert "started" not in kinds and kinds[-1] == "finished"  # written to a new events.jsonl
    assert events_of(run, "finished")[0]["step"] == TINY_STEPS
    assert runs_json(runs_dir)[run.id]["state"] == "finished"
    shown = tlwb("show", run.id, "--runs-dir", str(runs_dir), "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["final"]["type"] == "finished"
    attached = tlwb("attach", run.id, "--runs-dir", str(runs_dir))
    assert attached.returncode == 0 and "finished" in attached.stdout, attached.stdout + attached.stderr
    assert run.trained_model_dir() == run.model_dir


def test_attach_to_a_finished_run_whose_events_are_gone_says_so(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir)
    fake.started()
    fake.finish()
    fake.run.write_status(state="finished", pid=dead_pid(), ended_at=1_796_000_100.0)
    fake.run.events_path.unlink()
    done = tlwb("attach", fake.run.id, "--runs-dir", str(runs_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "events.jsonl is missing" in done.stdout and "finished" in done.stdout


# -- a full disk mid-run, on a real 30 MB filesystem ---------------------------------------------
#: Free space left after the first checkpoint: none for the next checkpoint's weights (safetensors
#: fails), or room for its weights but not its optimizer state (torch.save fails: "unexpected pos").
DISK_FULL_AT = {"safetensors": 64 * 1024, "torch.save": 160 * 1024}


@pytest.fixture(scope="module")
def tiny_setup(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The tiny checkpointing preset and its uninterrupted run (the session's shared one: the
    weights a resumed run must end with)."""
    folder = tmp_path_factory.mktemp("disk-full")
    preset, whole = shared_runs.checkpointed_tiny_run(tmp_path_factory, folder / "runs")
    return {"folder": folder, "preset": preset, "whole": whole}


@pytest.fixture(scope="module", params=sorted(DISK_FULL_AT))
def disk_full_runs(request: pytest.FixtureRequest, tiny_setup: dict) -> Iterator[dict]:
    """A run whose runs dir is a 30 MB tmpfs that fills up after its first checkpoint; it fails,
    space is freed, and `tlwb resume` finishes it."""
    disk = tiny_setup["folder"] / f"disk-{request.param}"
    mount_tmpfs(disk, "30m")
    try:
        runs_dir = disk / "runs"
        held = Hold(tiny_setup["folder"], at_step=5)  # until the disk is filled
        full = start_detached(tiny_setup["preset"], runs_dir, held.env, "--no-preflight")
        wait_for_event(full, "checkpoint", step=4)
        filler = fill(disk, leave=DISK_FULL_AT[request.param])  # the next checkpoint (step 8) can't be written
        held.release()
        ended = wait_until_ended(full)
        result = {"whole": tiny_setup["whole"], "full": full, "runs_dir": runs_dir, "ended": ended, "runs": runs_json(runs_dir),
                  "log": full.log_path.read_text(), "free_after_failure": shutil.disk_usage(disk).free,
                  "checkpoints_after_failure": [c.name for c in full.checkpoints_dir.iterdir()], "where": request.param}
        filler.unlink()  # the user frees space
        result["resumed"] = tlwb("resume", full.id, "--runs-dir", str(runs_dir))
        yield result
    finally:
        unmount(disk)


def test_a_full_disk_mid_run_ends_failed_disk_with_a_truthful_status(disk_full_runs: dict) -> None:
    full, ended = disk_full_runs["full"], disk_full_runs["ended"]
    assert (ended["state"], ended["kind"]) == ("failed", "disk"), disk_full_runs["log"][-3000:]
    assert ended["message"].startswith("the disk is full: could not write") and "\n" not in ended["message"]
    assert f"tlwb resume {full.id}" in ended["hint"] and "free now" in ended["hint"]
    assert disk_full_runs["runs"][full.id]["state"] == "failed"
    first_failure = next(e for e in full.events() if e["type"] == "failed")
    assert first_failure["kind"] == "disk" and first_failure["message"] == ended["message"]
    failed_writer = {"safetensors": "No space left on device", "torch.save": "inline_container.cc"}[disk_full_runs["where"]]
    assert failed_writer in disk_full_runs["log"]  # the failure surfaced where this case meant it to


def test_the_failed_save_left_no_partial_checkpoint_and_gave_back_its_reserve(disk_full_runs: dict) -> None:
    full = disk_full_runs["full"]
    assert disk_full_runs["checkpoints_after_failure"] == ["checkpoint-4"]  # checkpoint-8 was cut short and removed
    assert disk_full_runs["free_after_failure"] > 64 * 1024  # the half-written checkpoint was removed
    assert not full.reserve_path.exists()


def test_resume_after_freeing_space_finishes_with_the_uninterrupted_weights(disk_full_runs: dict) -> None:
    resumed, full, whole = disk_full_runs["resumed"], disk_full_runs["full"], disk_full_runs["whole"]
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert full.status()["state"] == "finished" and full.trained_model_dir() == full.model_dir
    started = events_of(full, "started")
    assert [s["resumed"] for s in started] == [False, True] and started[1]["resumed_from_step"] == 4
    a, b = model_weights(whole), model_weights(full)
    assert a.keys() == b.keys() and max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-6


def test_the_disk_estimate_counts_what_a_checkpoint_really_writes(tiny_setup: dict, tmp_path: Path) -> None:
    """Pre-flight's estimate against the bytes the uninterrupted run's checkpoints (optimizer,
    scheduler, rng state, tokenizer, trainer state) and model really took."""
    from workbench.preflight import preflight

    whole = tiny_setup["whole"]
    config = whole.config()
    needed = preflight(config, tmp_path / "estimate-runs").facts["disk_needed_bytes"]

    def size(folder: Path) -> int:
        return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())

    checkpoint = size(whole.checkpoints_dir / f"checkpoint-{TINY_STEPS}")
    assert (whole.checkpoints_dir / f"checkpoint-{TINY_STEPS}" / "tokenizer.json").is_file()
    # save_total_limit kept, one more being written before the oldest is pruned, and the model
    assert needed >= checkpoint * (config.training.save_total_limit + 1) + size(whole.model_dir)
    assert needed < 3 * (checkpoint * (config.training.save_total_limit + 1) + size(whole.model_dir))  # and not wildly more
