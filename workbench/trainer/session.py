"""The Trainer set-up for one run, executed inside the training process (see `main.py`)."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import faults
from ..chat import truncation_problem
from ..config import GROUP_BY_LENGTH_WARNING, RunConfig
from ..devices import (
    accelerator_arguments,
    describe_device,
    device_memory_bytes,
    pick_device,
    pick_precision,
    runtime_record,
    scale_arguments,
)
from ..errors import WorkbenchError
from ..fsutil import atomic_write_json
from ..models import (
    ModelShape,
    apply_method,
    count_parameters,
    load_base_model,
    load_model_config,
    load_tokenizer,
    resolve_model_source,
)
from ..preflight import TRUNCATION_HINT, check_max_length, check_quantization, estimate_training_memory
from ..runstore import RunDir
from ..tasks import get_task
from . import cancellation, ranks
from .callback import EventCallback
from .label_check import check_training_labels
from .tracking import trainer_report_to

#: Facts of a text-generation run's data that the `started` event carries.
STARTED_GENERATION_FIELDS = ("data_format", "token_lengths", "truncated_rows", "packing", "chat_template")


class EvalDetails:
    """Hands the full evaluation (per-class, confusion, samples) to the callback.

    Classification tasks compute it from the gathered logits in `compute_metrics`; a generating
    task (text generation) gathers no logits: `take` generates from the model the callback hands
    over, on rank 0 only (the other ranks would write nothing).
    """

    def __init__(self, task: Any, label_names: list[str], num_samples: int, config: RunConfig | None = None, tokenizer: Any = None) -> None:
        self.task = task
        self.label_names = label_names
        self.num_samples = num_samples
        self.config = config
        self.tokenizer = tokenizer
        self.raw: Any = None
        self.latest: Any = None

    def compute_metrics(self, prediction: Any) -> dict[str, float]:
        logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        self.latest = self.task.evaluate(logits, prediction.label_ids, self.raw, self.label_names, self.num_samples)
        return {k: v for k, v in self.latest.metrics.items() if isinstance(v, (int, float))}

    def take(self, metrics: dict[str, Any] | None = None, model: Any = None, prefix: str = "eval") -> Any:
        if self.task.generates and model is not None and self.config is not None:
            loss = (metrics or {}).get(f"{prefix}_loss")
            return self.task.evaluate_generation(
                model, self.tokenizer, self.raw, loss=loss, num_samples=self.num_samples,
                generation=self.config.generation, max_length=self.config.training.max_length,
                generate_rows=ranks.is_main_process(),
            )
        latest, self.latest = self.latest, None
        return latest


@dataclass
class Session:
    """What the steps of one run share, filled in as they go."""

    run: RunDir
    config: RunConfig
    writer: Any
    resume: bool
    status: dict[str, Any]
    started_at: float
    task: Any = None
    device: str = "cpu"
    precision: str = "fp32"
    source: str = ""
    tokenizer: Any = None
    model_config: Any = None
    base: Any = None
    model: Any = None
    params: Any = None
    prepared: Any = None
    total_steps: int = 0
    save_steps: int | None = None
    effective_batch: int = 0

    def log(self, message: str, level: str = "info") -> None:
        self.writer.emit("log", level=level, message=message)


def train_run(run: RunDir, *, resume: bool = False) -> None:
    """Train the run in `run` (whose config.toml is written); emits events to the end."""
    session = begin(run, resume)
    load_model_source(session)
    prepare_data(session)
    load_model(session)
    trainer, callback = build_trainer(session, build_arguments(session))
    checkpoint = announce(session, callback)
    if checkpoint is False:
        return
    evaluate_before_training(session, trainer, checkpoint)
    train_output = train(session, trainer, callback, checkpoint)
    if train_output is not None:
        finish(session, trainer, callback, train_output)


def begin(run: RunDir, resume: bool) -> Session:
    """Mark the run running, quiet the libraries, pick device and precision."""
    import datasets
    import transformers
    from transformers import set_seed

    config: RunConfig = run.config()
    status = run.read_status()
    session = Session(run=run, config=config, writer=ranks.event_writer(run), resume=resume, status=status, started_at=time.time())
    run.write_status(
        state="running",
        **ranks.process_record(),
        started_at=status.get("started_at") or session.started_at,
        ended_at=None,
        kind=None,  # a resumed run sheds the failure it is resuming from
        message=None,
        hint=None,
    )
    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    session.task = get_task(config.task)
    set_seed(config.training.seed)
    session.device = pick_device(config.training.device)
    session.precision = pick_precision(config.training.precision, session.device)
    ranks.check_devices(session.device)
    check_quantization(config.method, session.device)
    return session


def load_model_source(session: Session) -> None:
    """Resolve the model and read its tokenizer and config (no weights yet); check max_length."""
    config = session.config
    session.log(f"resolving model {config.model.name}")
    session.source = resolve_model_source(config.model)
    if config.model.trust_remote_code:
        session.log(f"trust_remote_code is on: code from {config.model.name} will run", "warning")
    session.tokenizer = load_tokenizer(session.source, config.model)
    check_max_length(config.training, load_model_config(session.source, config.model), session.tokenizer)


def prepare_data(session: Session) -> None:
    """Load and tokenise the data with the task; for generation, report lengths and truncation."""
    config = session.config
    session.log("loading and tokenising data")
    session.prepared = session.task.prepare(config, session.tokenizer)
    facts = session.prepared.facts
    if facts.get("chat_template") == "chatml":
        session.log("this tokenizer has no chat template: using ChatML (<|im_start|>role … <|im_end|>)")
    stats = facts.get("length_stats")
    if stats is not None:
        session.log(f"{facts['data_format']} data: {stats.describe()}")
        problem = truncation_problem(stats)
        if problem is not None and problem[0] == "error":
            raise WorkbenchError(problem[1], TRUNCATION_HINT, kind="config")
        if problem is not None:
            session.log(problem[1], "warning")
    if config.training.batching == "group_by_length":
        session.log(GROUP_BY_LENGTH_WARNING, "warning")


def load_model(session: Session) -> None:
    """Load the weights with the task's head and wrap them for the method."""
    import transformers

    config, task = session.config, session.task
    labels = session.prepared.label_names
    head = {} if task.generates else {
        "num_labels": len(labels), "id2label": dict(enumerate(labels)), "label2id": {n: i for i, n in enumerate(labels)},
    }
    session.model_config = load_model_config(session.source, config.model, **head)
    if getattr(session.model_config, "pad_token_id", None) is None:  # GPT-family: the pad token is EOS
        session.model_config.pad_token_id = session.tokenizer.pad_token_id
    session.base = load_base_model(getattr(transformers, task.auto_model), session.source, config.model, session.model_config, config.method)
    session.model = apply_method(session.base, config.method, task.peft_task_type)
    session.params = count_parameters(session.model)
    if ranks.is_main_process():
        prepared = session.prepared
        atomic_write_json(session.run.path / "labels.json", {"names": labels, "values": prepared.columns.get("label_values", labels)})


def build_arguments(session: Session) -> Any:
    """TrainingArguments (SFTConfig for generation) from the run's config."""
    config, run = session.config, session.run
    training = config.training
    session.effective_batch = training.batch_size * training.gradient_accumulation_steps * ranks.world_size()
    session.total_steps = _total_steps(len(session.prepared.train), config)
    session.save_steps = checkpoint_interval(config, session.total_steps)
    common: dict[str, Any] = dict(
        output_dir=str(run.checkpoints_dir),
        num_train_epochs=training.epochs,
        max_steps=training.max_steps or -1,
        per_device_train_batch_size=training.batch_size,
        per_device_eval_batch_size=training.eval_batch_size or training.batch_size * 2,
        gradient_accumulation_steps=training.gradient_accumulation_steps,
        learning_rate=training.learning_rate,
        weight_decay=training.weight_decay,
        warmup_steps=training.warmup_ratio,
        eval_strategy=training.eval_strategy,
        eval_steps=training.eval_steps,
        save_strategy="steps" if session.save_steps else "no",
        save_steps=session.save_steps or 500,
        save_total_limit=training.save_total_limit,
        logging_strategy="steps",
        logging_steps=training.logging_steps or auto_logging_steps(session.total_steps),
        seed=training.seed,
        bf16=session.precision == "bf16",
        fp16=session.precision == "fp16",
        use_cpu=session.device == "cpu",
        ddp_backend=ranks.ddp_backend(session.device),
        # Our heads return a per-device mean loss and ignore num_items_in_batch; left on, the
        # Trainer multiplies that mean by the process count (2 ranks: loss and gradients doubled).
        average_tokens_across_devices=False,
        report_to=trainer_report_to(training.report_to, run.path),
        run_name=run.id,
        disable_tqdm=True,
        # length_buckets: the trainer class draws its own sampler (build_trainer)
        train_sampling_strategy="group_by_length" if training.batching == "group_by_length" else "random",
    )
    common.update(accelerator_arguments(session.device))  # fast CUDA defaults; recorded in `started` as runtime
    common.update(scale_arguments(training))  # gradient checkpointing, FSDP, DeepSpeed
    if not session.task.generates:
        from transformers import TrainingArguments

        return TrainingArguments(**common, remove_unused_columns=True)
    from trl import SFTConfig

    return SFTConfig(
        **common,
        max_length=training.max_length,
        packing=training.packing,
        packing_strategy="bfd",  # padding-free: rows never attend to each other (position ids restart)
        padding_free=training.packing,
        prediction_loss_only=True,  # no logits gathered: evaluation generates instead (EvalDetails.take)
        include_num_input_tokens_seen="non_padding",  # for tokens_per_s on step events
        dataset_num_proc=None,
    )


def build_trainer(session: Session, args: Any) -> tuple[Any, EventCallback]:
    config, task, prepared = session.config, session.task, session.prepared
    details = EvalDetails(task, prepared.label_names, config.training.num_samples, config, session.tokenizer)
    details.raw = prepared.raw_validation
    callback = EventCallback(
        session.writer, session.run, device=session.device, samples_per_step=session.effective_batch,
        main_metric=task.main_metric, greater_is_better=task.greater_is_better,
        take_eval_details=details.take, save_every_s=None if session.save_steps else config.training.save_minutes * 60,
    )
    evaluating = config.training.eval_strategy != "no"
    common = dict(
        model=session.model, args=args, train_dataset=prepared.train,
        eval_dataset=prepared.validation if evaluating else None,
        processing_class=session.tokenizer, callbacks=[callback],
    )
    if task.generates:
        from trl import SFTTrainer

        trainer = _trainer_class(SFTTrainer, config, generates=True)(**common)
    else:
        from transformers import Trainer

        trainer = _trainer_class(Trainer, config, generates=False)(**common, data_collator=task.collator(session.tokenizer), compute_metrics=details.compute_metrics)
    trainer.tlwb_details = details  # type: ignore[attr-defined]
    _install_sigterm(callback)
    return trainer, callback


def _trainer_class(trainer_class: type, config: RunConfig, generates: bool) -> type:
    """The Trainer (SFTTrainer) with tlwb's batch orders: classifiers evaluate in length order
    (`ordered_eval`), and `length_buckets` draws the training batches (`batching`)."""
    if not generates:
        from .ordered_eval import trainer_with_length_ordered_evaluation

        trainer_class = trainer_with_length_ordered_evaluation(trainer_class)
    if config.training.batching != "length_buckets":
        return trainer_class
    from .batching import trainer_with_length_buckets

    return trainer_with_length_buckets(trainer_class)


def announce(session: Session, callback: EventCallback) -> Path | None | bool:
    """Write `started`; returns the checkpoint to resume from, or False when cancelled already."""
    config, prepared, params = session.config, session.prepared, session.params
    checkpoint = session.run.latest_checkpoint() if session.resume else None
    if session.resume:
        callback.best = session.status.get("best")
        session.log(f"resuming from {checkpoint.name}" if checkpoint else "no checkpoint to resume from: starting from step 0")
    generation_facts = {k: v for k, v in prepared.facts.items() if k in STARTED_GENERATION_FIELDS}
    session.writer.emit(
        "started",
        task=config.task,
        main_metric=session.task.main_metric,
        greater_is_better=session.task.greater_is_better,
        device=describe_device(session.device),
        precision=session.precision,
        model=config.model.name,
        model_source=session.source,
        architecture=(session.model_config.architectures or [type(session.base).__name__])[0],
        method=config.method.kind,
        params_total=params.total,
        params_trainable=params.trainable,
        train_size=len(prepared.train),
        validation_size=len(prepared.validation),
        test_size=len(prepared.test) if prepared.test is not None else 0,
        validation_from_train=prepared.validation_from_train,
        labels=prepared.label_names,
        label_counts=prepared.label_counts,
        columns={k: v for k, v in prepared.columns.items() if k != "label_values"},
        total_steps=session.total_steps,
        effective_batch_size=session.effective_batch,
        batch_size=config.training.batch_size,
        gradient_accumulation_steps=config.training.gradient_accumulation_steps,
        save_steps=session.save_steps,
        resumed=session.resume,
        resumed_from_step=checkpoint_step(checkpoint),
        auto_batch=session.status.get("auto_batch", []),
        memory_estimate_bytes=estimate_training_memory(ModelShape.of(session.model_config), params, config.training, session.precision,
                                                       config.method.kind, session.device, session.task.generates),
        device_memory_bytes=device_memory_bytes(session.device),
        runtime=runtime_record(session.device, session.precision, session.base),
        **generation_facts,
    )
    if ranks.any_rank(callback.cancel_requested):  # cancelled while loading: nothing trained, nothing to save
        session.writer.emit("cancelled", step=checkpoint_step(checkpoint) or 0, checkpoint=str(checkpoint) if checkpoint else None)
        session.run.write_status(state="cancelled", ended_at=time.time(), message="cancelled before training started")
        return False
    return checkpoint


def evaluate_before_training(session: Session, trainer: Any, checkpoint: Path | None) -> None:
    """A generation run that starts from step 0 is evaluated once before training (an `eval`
    and a `samples` event at step 0): the untrained model's loss, exact match and generations
    are the baseline that the trained model's are read against. Not on resume."""
    if not session.task.generates or checkpoint is not None or session.config.training.eval_strategy == "no":
        return
    session.log("evaluating the model before training (the baseline)")
    trainer.tlwb_details.raw = session.prepared.raw_validation
    trainer.evaluate()


def train(session: Session, trainer: Any, callback: EventCallback, checkpoint: Path | None) -> Any:
    """Run the Trainer; None when the run was cancelled (its checkpoint saved, `cancelled` written)."""
    train_output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    if callback.cancel_requested:
        run = session.run
        saved = run.latest_checkpoint()
        session.writer.emit("cancelled", step=callback.cancelled_at_step or trainer.state.global_step, checkpoint=str(saved) if saved else None)
        run.write_status(state="cancelled", ended_at=time.time(), message="cancelled by the user",
                         hint=f"`tlwb resume {run.id}` continues from step {trainer.state.global_step}")
        return None
    return train_output


#: Keys of `Trainer.evaluate`'s result that are timings, not scores (never in `finished` metrics).
UNSCORED_EVAL_KEYS = {"runtime", "samples_per_second", "steps_per_second", "epoch"}


def finish(session: Session, trainer: Any, callback: EventCallback, train_output: Any) -> None:
    """Final validation (unless the last step was evaluated), the test split, save, `finished`."""
    config, prepared, run = session.config, session.prepared, session.run
    details: EvalDetails = trainer.tlwb_details
    final: dict[str, Any] = {}
    last = callback.last_validation  # not read from events.jsonl: every rank must decide alike
    if config.training.eval_strategy == "no" or last is None or last["step"] != trainer.state.global_step:
        details.raw = prepared.raw_validation
        result = trainer.evaluate(prepared.validation)
        evaluated = callback.last_validation  # the eval event just written: metrics rounded as in every event
        if evaluated is not None and evaluated["step"] == trainer.state.global_step:
            final.update(evaluated["metrics"])
        else:
            final.update({k.removeprefix("eval_"): round(float(v), 6) for k, v in result.items()
                          if isinstance(v, (int, float)) and k.removeprefix("eval_") not in UNSCORED_EVAL_KEYS})
        if session.task.generates and "loss" in final:
            final["perplexity"] = round(math.exp(min(float(final["loss"]), 50.0)), 4)
    else:
        final.update(last["metrics"])
    if prepared.test is not None:
        details.raw = prepared.raw_test
        if session.task.generates:
            output_metrics = trainer.evaluate(prepared.test, metric_key_prefix="test")
            test_details = details.take(output_metrics, trainer.model, prefix="test")
            test_loss = output_metrics.get("test_loss")
        else:
            trainer.compute_metrics = details.compute_metrics
            test_output = trainer.predict(prepared.test, metric_key_prefix="test")
            test_details = details.take()
            test_loss = test_output.metrics.get("test_loss")
        if test_details is not None:
            callback.emit_eval(test_details, step=trainer.state.global_step, epoch=trainer.state.epoch, loss=test_loss, split="test")
            final.update({f"test_{k}": v for k, v in test_details.metrics.items()})
    label_check = check_training_labels(trainer, prepared, run)
    if not ranks.is_main_process():
        return  # rank 0 saves the model and ends the run
    output = save_trained(trainer, session.tokenizer, run, config.method.kind)
    run.release_reserve()  # the run's end must fit, even on a disk the save just filled
    session.writer.emit(
        "finished",
        metrics=final,
        best_metric=callback.best,
        output=str(output),
        duration_s=round(time.time() - session.started_at, 1),
        step=trainer.state.global_step,
        train_runtime_s=train_output.metrics.get("train_runtime"),
        train_samples_per_s=train_output.metrics.get("train_samples_per_second"),
        label_errors=label_check[0] if label_check else None,
        label_rows_checked=label_check[1] if label_check else None,
    )
    faults.finished_written()
    run.write_status(state="finished", ended_at=time.time(), best=callback.best or run.read_status().get("best"))
    callback.write_summary()  # summary.json as the run ended, so listing never re-reads its events


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
