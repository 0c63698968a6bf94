"""EventCallback: the Trainer's progress, evaluations and checkpoints as events.

This is the only UI the training process has: every screen and the CLI read what it writes.
It also carries cancellation: SIGTERM sets `cancel_requested`, and the next step end asks the
Trainer to save a checkpoint and stop.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

from transformers import TrainerCallback

from . import distributed
from .events import EventWriter
from .runstore import RunDir


def memory_in_use(device: str) -> tuple[int, str]:
    """(bytes, kind): GPU memory on CUDA, resident set size otherwise."""
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.memory_allocated()), "cuda"
    import psutil

    return int(psutil.Process(os.getpid()).memory_info().rss), "rss"


class EventCallback(TrainerCallback):
    def __init__(
        self,
        writer: EventWriter,
        run: RunDir,
        *,
        device: str,
        samples_per_step: int,
        main_metric: str,
        take_eval_details: Callable[[], Any],
        save_every_s: float | None = None,
    ) -> None:
        self.writer = writer
        self.run = run
        self.device = device
        self.samples_per_step = samples_per_step
        self.main_metric = main_metric
        self.take_eval_details = take_eval_details
        self.save_every_s = save_every_s
        self._last_save = time.monotonic()
        self.cancel_requested = False
        self.cancelled_at_step: int | None = None
        self.best: dict[str, Any] | None = None
        self.last_validation: dict[str, Any] | None = None  # {step, metrics}: the same on every rank
        self._train_start = time.monotonic()
        self._last_log = (time.monotonic(), 0)
        self._seconds_per_step: float | None = None
        self._evaluated_in_window = False
        self.faults = FaultHooks.from_environment()

    # -- progress -----------------------------------------------------------------------------
    def on_train_begin(self, args, state, control, **kwargs):
        self._train_start = time.monotonic()
        self._last_log = (self._train_start, state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        self.faults.at_step_end(state.global_step, args.per_device_train_batch_size)
        save_due = self.save_every_s is not None and time.monotonic() - self._last_save >= self.save_every_s
        if distributed.world_size() > 1:  # ranks must agree on stopping and saving, or the others hang
            distributed.crash_if_asked()
            self.cancel_requested, save_due = distributed.any_ranks(self.cancel_requested, save_due)
        if save_due:
            control.should_save = True
        if self.cancel_requested:
            self.cancelled_at_step = state.global_step
            control.should_save = True
            control.should_training_stop = True

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" not in logs:
            return
        now = time.monotonic()
        last_time, last_step = self._last_log
        steps = state.global_step - last_step
        window = max(now - last_time, 1e-6)
        self._last_log = (now, state.global_step)
        if steps > 0 and not self._evaluated_in_window:
            # Seconds per step, smoothed; windows that contained an evaluation are skipped.
            current = window / steps
            self._seconds_per_step = current if self._seconds_per_step is None else 0.7 * self._seconds_per_step + 0.3 * current
        self._evaluated_in_window = False
        remaining = state.max_steps - state.global_step
        per_step = self._seconds_per_step
        memory, memory_kind = memory_in_use(self.device)
        self.writer.emit(
            "step",
            step=state.global_step,
            total_steps=state.max_steps,
            epoch=round(state.epoch or 0.0, 4),
            loss=round(float(logs["loss"]), 6),
            learning_rate=float(logs.get("learning_rate", 0.0)),
            grad_norm=_maybe_float(logs.get("grad_norm")),
            samples_per_s=round(self.samples_per_step / per_step, 2) if per_step else None,
            eta_s=round(per_step * remaining, 1) if per_step else None,
            elapsed_s=round(now - self._train_start, 1),
            memory_bytes=memory,
            memory_kind=memory_kind,
        )

    # -- evaluation ---------------------------------------------------------------------------
    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self._evaluated_in_window = True
        details = self.take_eval_details()
        if details is None:
            return
        self.emit_eval(details, step=state.global_step, epoch=state.epoch, loss=(metrics or {}).get("eval_loss"))

    def emit_eval(self, details: Any, *, step: int, epoch: float | None, loss: float | None, split: str = "validation") -> None:
        metrics = dict(details.metrics)
        if loss is not None:
            metrics["loss"] = round(float(loss), 6)
        self.writer.emit(
            "eval",
            split=split,
            step=step,
            epoch=round(epoch or 0.0, 4),
            metrics=metrics,
            per_class=details.per_class,
            confusion_matrix=details.confusion_matrix,
            labels=details.labels,
        )
        if details.samples:
            self.writer.emit("samples", split=split, step=step, items=details.samples)
        if split == "validation":
            self.last_validation = {"step": step, "metrics": metrics}
        value = metrics.get(self.main_metric)
        if split == "validation" and value is not None and (self.best is None or value > self.best["value"]):
            self.best = {"name": self.main_metric, "value": round(float(value), 6), "step": step}
            self.run.write_status(best=self.best)

    def on_save(self, args, state, control, **kwargs):
        self._last_save = time.monotonic()
        path = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        self.writer.emit("checkpoint", step=state.global_step, path=path)


class FaultHooks:
    """Failures the tests inject into a real training process, set by environment variables.

    - ``TLWB_TEST_OOM_AT_STEP=N``: from step N on, raise an out-of-memory error, but only while
      the per-device batch is above ``TLWB_TEST_OOM_ABOVE_BATCH`` (default 0: always), as a real
      OOM would stop once the batch is small enough.
    - ``TLWB_TEST_KILL_AT_STEP=N``: SIGKILL this process at the end of step N (a crash with no
      chance to write anything).
    - ``TLWB_TEST_STEP_DELAY_S=S``: sleep S seconds after each step, so a test can act mid-run.
    """

    def __init__(self, oom_at_step: int = 0, oom_above_batch: int = 0, kill_at_step: int = 0, step_delay_s: float = 0.0) -> None:
        self.oom_at_step = oom_at_step
        self.oom_above_batch = oom_above_batch
        self.kill_at_step = kill_at_step
        self.step_delay_s = step_delay_s

    @classmethod
    def from_environment(cls) -> "FaultHooks":
        def number(name: str, kind: type = int) -> Any:
            return kind(os.environ.get(name, "0") or 0)

        return cls(
            oom_at_step=number("TLWB_TEST_OOM_AT_STEP"),
            oom_above_batch=number("TLWB_TEST_OOM_ABOVE_BATCH"),
            kill_at_step=number("TLWB_TEST_KILL_AT_STEP"),
            step_delay_s=number("TLWB_TEST_STEP_DELAY_S", float),
        )

    def at_step_end(self, step: int, batch_size: int) -> None:
        if self.oom_at_step and step >= self.oom_at_step and batch_size > self.oom_above_batch:
            import torch

            raise torch.OutOfMemoryError(f"CUDA out of memory at batch {batch_size} (simulated by TLWB_TEST_OOM_AT_STEP)")
        if self.kill_at_step and step >= self.kill_at_step:
            import signal

            os.kill(os.getpid(), signal.SIGKILL)
        if self.step_delay_s:
            time.sleep(self.step_delay_s)


def _maybe_float(value: Any) -> float | None:
    try:
        return round(float(value), 6)
    except (TypeError, ValueError):
        return None
