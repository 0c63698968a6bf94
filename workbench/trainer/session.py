"""The Trainer set-up for one run, executed inside the training process (see `main.py`)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

from .. import faults
from ..config import RunConfig
from ..devices import describe_device, device_memory_bytes, pick_device, pick_precision
from ..errors import WorkbenchError
from ..fsutil import atomic_write_json
from ..models import (
    apply_method,
    count_parameters,
    load_base_model,
    load_model_config,
    load_tokenizer,
    max_positions,
    resolve_model_source,
)
from ..preflight import estimate_training_memory
from ..runstore import RunDir
from ..tasks import get_task
from . import cancellation, ranks
from .callback import EventCallback
from .tracking import trainer_report_to


class EvalDetails:
    """Hands the full evaluation (per-class, confusion, samples) from compute_metrics to the callback."""

    def __init__(self, task: Any, label_names: list[str], num_samples: int) -> None:
        self.task = task
        self.label_names = label_names
        self.num_samples = num_samples
        self.raw: Any = None
        self.latest: Any = None

    def compute_metrics(self, prediction: Any) -> dict[str, float]:
        logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        self.latest = self.task.evaluate(logits, prediction.label_ids, self.raw, self.label_names, self.num_samples)
        return {k: v for k, v in self.latest.metrics.items() if isinstance(v, (int, float))}

    def take(self) -> Any:
        latest, self.latest = self.latest, None
        return latest


def train_run(run: RunDir, *, resume: bool = False) -> None:
    """Train the run in `run` (whose config.toml is written); emits events to the end."""
    import datasets
    import transformers
    from transformers import Trainer, TrainingArguments, set_seed

    config: RunConfig = run.config()
    writer = ranks.event_writer(run)
    started_at = time.time()
    status = run.read_status()
    run.write_status(
        state="running",
        **ranks.process_record(),
        started_at=status.get("started_at") or started_at,
        ended_at=None,
        kind=None,  # a resumed run sheds the failure it is resuming from
        message=None,
        hint=None,
    )
    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()

    def log(message: str, level: str = "info") -> None:
        writer.emit("log", level=level, message=message)

    task = get_task(config.task)
    set_seed(config.training.seed)
    device = pick_device(config.training.device)
    precision = pick_precision(config.training.precision, device)
    ranks.check_devices(device)
    log(f"resolving model {config.model.name}")
    source = resolve_model_source(config.model)
    if config.model.trust_remote_code:
        log(f"trust_remote_code is on: code from {config.model.name} will run", "warning")
    tokenizer = load_tokenizer(source, config.model)
    model_config_probe = load_model_config(source, config.model)
    limit = max_positions(model_config_probe)
    if limit and config.training.max_length > limit:
        raise WorkbenchError(
            f"training.max_length {config.training.max_length} is beyond this model's limit of {limit} tokens",
            f"set training.max_length to {limit} or less",
            kind="config",
        )
    log("loading and tokenising data")
    prepared = task.prepare(config, tokenizer)
    labels = prepared.label_names
    model_config = load_model_config(
        source,
        config.model,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
    )
    if getattr(model_config, "pad_token_id", None) is None:
        model_config.pad_token_id = tokenizer.pad_token_id
    base = load_base_model(getattr(transformers, task.auto_model), source, config.model, model_config)
    model = apply_method(base, config.method, task.peft_task_type)
    params = count_parameters(model)
    if ranks.is_main_process():
        atomic_write_json(run.path / "labels.json", {"names": labels, "values": prepared.columns.get("label_values", labels)})

    if config.training.group_by_length:
        log("training.group_by_length is on: faster, but it has collapsed small runs to the majority class; compare with it off", "warning")

    details = EvalDetails(task, labels, config.training.num_samples)
    details.raw = prepared.raw_validation
    effective_batch = config.training.batch_size * config.training.gradient_accumulation_steps * ranks.world_size()
    total_steps = _total_steps(len(prepared.train), config)
    save_steps = checkpoint_interval(config, total_steps)
    eval_strategy = config.training.eval_strategy
    args = TrainingArguments(
        output_dir=str(run.checkpoints_dir),
        num_train_epochs=config.training.epochs,
        max_steps=config.training.max_steps or -1,
        per_device_train_batch_size=config.training.batch_size,
        per_device_eval_batch_size=config.training.eval_batch_size or config.training.batch_size * 2,
        gradient_accumulation_steps=config.training.gradient_accumulation_steps,
        learning_rate=config.training.learning_rate,
        weight_decay=config.training.weight_decay,
        warmup_steps=config.training.warmup_ratio,
        eval_strategy=eval_strategy,
        eval_steps=config.training.eval_steps,
        save_strategy="steps" if save_steps else "no",
        save_steps=save_steps or 500,
        save_total_limit=config.training.save_total_limit,
        logging_strategy="steps",
        logging_steps=config.training.logging_steps or auto_logging_steps(total_steps),
        seed=config.training.seed,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=device == "cpu",
        ddp_backend=ranks.ddp_backend(device),
        # Our heads return a per-device mean loss and ignore num_items_in_batch; left on, the
        # Trainer multiplies that mean by the process count (2 ranks: loss and gradients doubled).
        average_tokens_across_devices=False,
        report_to=trainer_report_to(config.training.report_to, run.path),
        run_name=run.id,
        disable_tqdm=True,
        train_sampling_strategy="group_by_length" if config.training.group_by_length else "random",
        dataloader_num_workers=0,
        remove_unused_columns=True,
    )
    callback = EventCallback(
        writer, run, device=device, samples_per_step=effective_batch, main_metric=task.main_metric,
        take_eval_details=details.take, save_every_s=None if save_steps else config.training.save_minutes * 60,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=prepared.train,
        eval_dataset=prepared.validation if eval_strategy != "no" else None,
        processing_class=tokenizer,
        data_collator=task.collator(tokenizer),
        compute_metrics=details.compute_metrics,
        callbacks=[callback],
    )
    _install_sigterm(callback)
    checkpoint = run.latest_checkpoint() if resume else None
    if resume:
        callback.best = status.get("best")
        log(f"resuming from {checkpoint.name}" if checkpoint else "no checkpoint to resume from: starting from step 0")
    writer.emit(
        "started",
        device=describe_device(device),
        precision=precision,
        model=config.model.name,
        model_source=source,
        architecture=(model_config.architectures or [type(base).__name__])[0],
        method=config.method.kind,
        params_total=params.total,
        params_trainable=params.trainable,
        train_size=len(prepared.train),
        validation_size=len(prepared.validation),
        test_size=len(prepared.test) if prepared.test is not None else 0,
        validation_from_train=prepared.validation_from_train,
        labels=labels,
        label_counts=prepared.label_counts,
        columns={k: v for k, v in prepared.columns.items() if k != "label_values"},
        total_steps=total_steps,
        effective_batch_size=effective_batch,
        batch_size=config.training.batch_size,
        gradient_accumulation_steps=config.training.gradient_accumulation_steps,
        save_steps=save_steps,
        resumed=resume,
        resumed_from_step=checkpoint_step(checkpoint),
        auto_batch=status.get("auto_batch", []),
        memory_estimate_bytes=estimate_training_memory(model_config, params, config.training, precision),
        device_memory_bytes=device_memory_bytes(device),
    )
    if ranks.any_rank(callback.cancel_requested):  # cancelled while loading: nothing trained, nothing to save
        writer.emit("cancelled", step=checkpoint_step(checkpoint) or 0, checkpoint=str(checkpoint) if checkpoint else None)
        run.write_status(state="cancelled", ended_at=time.time(), message="cancelled before training started")
        return
    train_output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)

    if callback.cancel_requested:
        saved = run.latest_checkpoint()
        writer.emit("cancelled", step=callback.cancelled_at_step or trainer.state.global_step, checkpoint=str(saved) if saved else None)
        run.write_status(state="cancelled", ended_at=time.time(), message="cancelled by the user",
                         hint=f"`tlwb resume {run.id}` continues from step {trainer.state.global_step}")
        return

    final: dict[str, Any] = {}
    last = callback.last_validation  # not read from events.jsonl: every rank must decide alike
    if eval_strategy == "no" or last is None or last["step"] != trainer.state.global_step:
        details.raw = prepared.raw_validation
        result = trainer.evaluate(prepared.validation)
        final.update({k.removeprefix("eval_"): v for k, v in result.items()})
    else:
        final.update(last["metrics"])
    if prepared.test is not None:
        details.raw = prepared.raw_test
        trainer.compute_metrics = details.compute_metrics
        test_output = trainer.predict(prepared.test, metric_key_prefix="test")
        test_details = details.take()
        if test_details is not None:
            callback.emit_eval(test_details, step=trainer.state.global_step, epoch=trainer.state.epoch, loss=test_output.metrics.get("test_loss"), split="test")
            final.update({f"test_{k}": v for k, v in test_details.metrics.items()})
    if not ranks.is_main_process():
        return  # rank 0 saves the model and ends the run
    output = save_trained(trainer, tokenizer, run, config.method.kind)
    duration = time.time() - started_at
    writer.emit(
        "finished",
        metrics=final,
        best_metric=callback.best,
        output=str(output),
        duration_s=round(duration, 1),
        step=trainer.state.global_step,
        train_runtime_s=train_output.metrics.get("train_runtime"),
        train_samples_per_s=train_output.metrics.get("train_samples_per_second"),
    )
    run.write_status(state="finished", ended_at=time.time(), best=callback.best or run.read_status().get("best"))


def _total_steps(train_size: int, config: RunConfig) -> int:
    import math

    if config.training.max_steps:
        return config.training.max_steps
    batches = math.ceil(train_size / (config.training.batch_size * ranks.world_size()))
    per_epoch = max(1, batches // config.training.gradient_accumulation_steps)
    return math.ceil(per_epoch * config.training.epochs)


def checkpoint_interval(config: RunConfig, total_steps: int) -> int | None:
    """Steps between checkpoints when `training.save_steps` is set; None means time-based
    checkpoints (every `training.save_minutes` of training, see EventCallback), so short runs
    don't pay for saving optimizer state and long runs lose at most a few minutes to a crash."""
    return config.training.save_steps


def auto_logging_steps(total_steps: int) -> int:
    """About 60 progress events per run (smooth curves), never fewer than one per 25 steps."""
    return max(1, min(25, total_steps // 60))


def checkpoint_step(checkpoint: Path | None) -> int | None:
    return int(checkpoint.name.rsplit("-", 1)[-1]) if checkpoint else None


def _install_sigterm(callback: Any) -> None:
    """From here on a cancel goes to the callback; one that came during start-up carries over."""
    callback.cancel_requested = callback.cancel_requested or cancellation.requested()

    def request_cancel(signum: int, frame: Any) -> None:
        callback.cancel_requested = True

    signal.signal(signal.SIGTERM, request_cancel)
    signal.signal(signal.SIGINT, request_cancel)


def save_trained(trainer: Any, tokenizer: Any, run: RunDir, method: str) -> Path:
    """Save model (or adapter) into a temp folder, then rename: never a half-written model."""
    target = run.adapter_dir if method == "lora" else run.model_dir
    staging = target.with_name(f".{target.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        trainer.model.save_pretrained(str(staging))
        tokenizer.save_pretrained(str(staging))
        faults.save_model(staging)
        (staging / ".complete").write_text(json.dumps({"saved_at": time.time()}))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    return target
