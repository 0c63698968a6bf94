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

from .. import faults
from ..events import EventWriter
from ..runstore import RunDir
from . import ranks


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
        take_eval_details: Callable[..., Any],
        save_every_s: float | None = None,
        greater_is_better: bool = True,
    ) -> None:
        self.writer = writer
        self.run = run
        self.device = device
        self.samples_per_step = samples_per_step
        self.main_metric = main_metric
        self.greater_is_better = greater_is_better
        self.take_eval_details = take_eval_details
        self.save_every_s = save_every_s
        self._last_save = time.monotonic()
        self.cancel_requested = False
        self.cancelled_at_step: int | None = None
        self.best: dict[str, Any] | None = None
        self.last_validation: dict[str, Any] | None = None  # {step, metrics}: the same on every rank
        self._train_start = time.monotonic()
        self._last_log = (time.monotonic(), 0)
        self._last_tokens = 0  # state.num_input_tokens_seen at the last step event
        self._seconds_per_step: float | None = None
        self._evaluated_in_window = False

    # -- progress -----------------------------------------------------------------------------
    def on_train_begin(self, args, state, control, **kwargs):
        self._train_start = time.monotonic()
        self._last_log = (self._train_start, state.global_step)
        self._last_tokens = getattr(state, "num_input_tokens_seen", 0) or 0

    def on_step_end(self, args, state, control, **kwargs):
        faults.step_end(state.global_step, args.per_device_train_batch_size, ranks.rank(), cancelled=lambda: self.cancel_requested)
        save_due = self.save_every_s is not None and time.monotonic() - self._last_save >= self.save_every_s
        if ranks.world_size() > 1:  # ranks must agree on stopping and saving, or the others hang
            self.cancel_requested, save_due = ranks.any_ranks(self.cancel_requested, save_due)
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
        tokens = self._tokens_per_s(state, window, steps)
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
            **({"tokens_per_s": tokens} if tokens is not None else {}),
        )

    def _tokens_per_s(self, state: Any, window: float, steps: int) -> float | None:
        """Non-padding input tokens per second over the last window, when the Trainer counts them
        (`include_num_input_tokens_seen`, on for text generation); None otherwise."""
        seen = getattr(state, "num_input_tokens_seen", 0) or 0
        counted, self._last_tokens = seen - self._last_tokens, seen
        if not seen or steps <= 0 or counted <= 0:
            return None
        return round(counted / window, 1)

    # -- evaluation ---------------------------------------------------------------------------
    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self._evaluated_in_window = True
        details = self.take_eval_details(metrics=metrics or {}, model=kwargs.get("model"))
        if details is None:
            return
        self.emit_eval(details, step=state.global_step, epoch=state.epoch, loss=(metrics or {}).get("eval_loss"))

    def emit_eval(self, details: Any, *, step: int, epoch: float | None, loss: float | None, split: str = "validation") -> None:
        metrics = {k: round(v, 6) if isinstance(v, float) else v for k, v in details.metrics.items()}  # as loss and best
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
            self.keep_predictions(getattr(details, "predictions", None))
        value = metrics.get(self.main_metric)
        if split == "validation" and value is not None and self._improves(float(value)):
            self.best = {"name": self.main_metric, "value": round(float(value), 6), "step": step}
            self.run.write_status(best=self.best)
        self.write_summary()

    def on_train_end(self, args, state, control, **kwargs):
        self.write_summary()

    def keep_predictions(self, items: Any) -> None:
        """Every validation row's prediction into `predictions.jsonl` (rank 0; the latest
        evaluation's, so the final one's once training ends). Results browses the whole set."""
        if not items or not ranks.is_main_process():
            return
        from ..runinfo import write_predictions

        try:
            write_predictions(self.run, items)
        except OSError as err:
            self.writer.emit("log", level="warning", message=f"could not write predictions.jsonl: {err.strerror or err}")

    def write_summary(self) -> None:
        """Refresh the run's `summary.json` (what `tlwb runs` and the Runs screen list) from the
        events written so far; rank 0 only. A failure to write it never stops training: readers
        rebuild a missing or stale summary."""
        if not ranks.is_main_process():
            return
        from ..run_summary import write_summary

        try:
            write_summary(self.run)
        except Exception as err:  # noqa: BLE001 - a listing cache must not end a training run
            self.writer.emit("log", level="warning", message=f"could not write summary.json: {err}")

    def _improves(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best["value"] if self.greater_is_better else value < self.best["value"]

    def on_save(self, args, state, control, **kwargs):
        self._last_save = time.monotonic()
        path = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        self.writer.emit("checkpoint", step=state.global_step, path=path)


def _maybe_float(value: Any) -> float | None:
    try:
        return round(float(value), 6)
    except (TypeError, ValueError):
        return None
