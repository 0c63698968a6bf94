"""Pre-flight: everything that can be checked before a training process is launched.

`preflight(config, runs_dir)` resolves the model (config and tokenizer only, never the weights),
loads the data through the task's own loader (so columns, label classes and NaN labels are
checked exactly as training will check them), and looks at the runs directory and the device.
Every failure is collected, not just the first, so a person fixes them all in one go; the CLI
prints them one line each and the TUI shows them in a dialog. Memory is a warning, not a
refusal: the estimate is rough and the user may know better.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .config import RunConfig, TrainingConfig, default_learning_rate
from .errors import RunError, WorkbenchError
from .devices import check_scale

#: A tokenizer's `model_max_length` above this is the "no limit" sentinel, not a real limit.
NO_TOKENIZER_LIMIT = 1_000_000
#: Warn when the estimated training memory exceeds this share of the device's memory.
MEMORY_WARNING_SHARE = 0.9
#: Bytes per Adam state entry (two fp32 moments per trainable parameter).
ADAM_STATE_BYTES = 8
#: The fix for answers cut away by max_length (pre-flight and the training process say the same).
TRUNCATION_HINT = "raise training.max_length, or drop or shorten the longest rows"
#: Rows tokenised to measure lengths before training (all of them up to this many).
LENGTH_SAMPLE_ROWS = 20_000
#: Learning rates outside these bounds (per method) get a pre-flight warning.
LEARNING_RATE_RANGES = {"full": (1e-7, 1e-3), "lora": (1e-6, 1e-2), "head": (1e-6, 1e-1)}
METHOD_NAMES = {"full": "full fine-tuning", "lora": "LoRA", "head": "training the head only"}
#: What to look at when a check fails in a way tlwb doesn't recognise (never "skip the check").
CHECK_HINTS = {
    "model": "check model.name and that its folder holds a complete save_pretrained model",
    "data": "check the data files and data.format, data.text_column and data.label_column",
    "token lengths": "check the data layout (data.chat_format and its columns)",
}


@dataclass
class PreflightReport:
    """What pre-flight found: `errors` refuse the launch, `warnings` only inform."""

    errors: list[WorkbenchError] = field(default_factory=list)
    warnings: list[WorkbenchError] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def lines(self) -> list[str]:
        """Each problem as one line (errors first), for logs and plain-text dialogs."""
        return [f"error: {e.one_line()}" for e in self.errors] + [f"warning: {w.one_line()}" for w in self.warnings]


def preflight(config: RunConfig, runs_dir: Path) -> PreflightReport:
    """Check a run before launching it; never raises for a problem the user can fix.

    Loader progress bars and library warnings are silenced (in the TUI they would scribble over
    the screen; in the CLI they would bury the one-line answers).
    """
    import warnings

    _quiet_datasets()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _preflight(config, Path(runs_dir))


def _quiet_datasets() -> None:
    import datasets

    datasets.disable_progress_bars()


def _quiet_transformers() -> None:
    """Imported only where pre-flight reads a model (not when `model_facts` remembers it)."""
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def _preflight(config: RunConfig, runs_dir: Path) -> PreflightReport:
    report = PreflightReport()
    model = _check(report, "model", lambda: _check_model(config, report))
    if model is not None:
        _check(report, "max_length", lambda: _check_max_length(config, model))
    _check(report, "data", lambda: _check_data(config, report))
    if model is not None and config.task == "text-generation":
        _check(report, "token lengths", lambda: _check_lengths(config, model, report))
    _check(report, "quantization", lambda: _check_quantization(config))
    _check(report, "scale", lambda: check_scale(config.training))
    _check(report, "runs directory", lambda: _check_runs_dir(runs_dir, config, model, report))
    if model is not None:
        _check(report, "memory", lambda: _check_memory(config, model, report))
    remote_code = remote_code_warning(config)
    if remote_code is not None:
        report.warnings.append(remote_code)
    learning_rate = learning_rate_warning(config)
    if learning_rate is not None:
        report.warnings.append(learning_rate)
    return report


def learning_rate_warning(config: RunConfig) -> WorkbenchError | None:
    """A warning (never a refusal: the user may know better) for a learning rate far outside
    what the method usually trains with, e.g. 0.9 or 1e-9 for full fine-tuning."""
    rate = config.training.learning_rate
    method = config.method.kind
    low, high = LEARNING_RATE_RANGES[method]
    if low <= rate <= high:
        return None
    typical = default_learning_rate(config.task, method)  # what tlwb itself would pick
    side = "above" if rate > high else "below"
    effect = "training is likely to diverge" if rate > high else "the weights will barely move"
    return WorkbenchError(
        f"training.learning_rate {rate:g} is far {side} the usual range for {METHOD_NAMES[method]} "
        f"({low:g} to {high:g}): {effect}",
        f"{method} usually trains well around {typical:g}: "
        f"--set training.learning_rate={typical:g} (or keep yours if you mean it)",
        kind="learning_rate",
    )


def remote_code_warning(config: RunConfig) -> WorkbenchError | None:
    """The warning, naming the model, that a preset turned `trust_remote_code` on."""
    if not config.model.trust_remote_code:
        return None
    return WorkbenchError(
        f"trust_remote_code is on: code from {config.model.name} will run on this machine",
        "turn it off unless you trust that repository",
        kind="remote_code",
    )


@dataclass
class _Model:
    facts: Any  # model_facts.ModelFacts
    info: Any  # models.ModelInfo
    tokenizer: Any  # None when the facts were remembered: `_tokenizer` loads it if a check needs it


def _tokenizer(config: RunConfig, model: _Model) -> Any:
    from .models import load_tokenizer

    if model.tokenizer is None:
        _quiet_transformers()
        model.tokenizer = load_tokenizer(model.info.source, config.model)
    return model.tokenizer


def _check(report: PreflightReport, what: str, check: Callable[[], Any]) -> Any:
    try:
        return check()
    except WorkbenchError as err:
        report.errors.append(err)
    except Exception as err:  # a loader failing in a way we don't know yet: still one line, no traceback
        first = (str(err).splitlines() or [""])[0][:160]
        report.errors.append(
            WorkbenchError(
                f"pre-flight could not check the {what}: {type(err).__name__}: {first}",
                CHECK_HINTS.get(what, "check that setting in the preset; if it looks right, report this as a tlwb bug"),
                kind="preflight",
            )
        )
    return None


def _check_model(config: RunConfig, report: PreflightReport) -> _Model:
    from . import model_facts
    from .model_checks import check_custom_code, check_model_folder
    from .models import resolve_model_source

    source = resolve_model_source(config.model)
    check_custom_code(source, config.model.name, config.model.trust_remote_code, config.model.revision)
    problems: list[WorkbenchError] = []
    if Path(source).is_dir() and not config.model.gguf_file:
        try:
            check_model_folder(Path(source))
        except WorkbenchError as err:
            problems.append(err)
    key = model_facts.cache_key(source, config)
    facts = model_facts.recall(key)
    if facts is not None and not problems:
        model = _Model(facts, facts.info(source), tokenizer=None)
    else:
        model = _read_model(config, source, problems, report)
        model_facts.remember(key, model.facts)
    info = model.info
    report.facts.update(
        model_source=source, params_total=info.params.total, params_trainable=info.params.trainable, max_positions=info.max_positions
    )
    return model


def _read_model(config: RunConfig, source: str, problems: list[WorkbenchError], report: PreflightReport) -> _Model:
    """Config, tokenizer and a meta-device build; raises the first problem (the folder's
    included), the others go to the report."""
    from .model_facts import ModelFacts
    from .models import inspect_model, load_model_config, load_tokenizer
    from .tasks import get_task

    _quiet_transformers()
    task = get_task(config.task)
    model_config = load_model_config(source, config.model)
    tokenizer = info = None
    try:
        tokenizer = load_tokenizer(source, config.model)
    except WorkbenchError as err:
        problems.append(err)
    try:
        info = inspect_model(config.model, config.method, task.auto_model, task.peft_task_type)
    except WorkbenchError as err:
        problems.append(err)
    if problems:
        report.errors.extend(problems[1:])
        raise problems[0]
    return _Model(ModelFacts.of(model_config, info, token_limit(model_config, tokenizer)), info, tokenizer)


def token_limit(model_config: Any, tokenizer: Any | None) -> int | None:
    """The longest input the model takes: its position table, or the tokenizer's stated limit."""
    from .models import max_positions

    limits = [max_positions(model_config)]
    stated = getattr(tokenizer, "model_max_length", None)
    if isinstance(stated, int) and 0 < stated < NO_TOKENIZER_LIMIT:
        limits.append(stated)
    known = [limit for limit in limits if limit]
    return min(known) if known else None


def check_max_length(training: TrainingConfig, model_config: Any, tokenizer: Any | None) -> None:
    """`training.max_length` within the model's limit; pre-flight and the training process share it."""
    check_token_limit(training, token_limit(model_config, tokenizer))


def check_token_limit(training: TrainingConfig, limit: int | None) -> None:
    if limit and training.max_length > limit:
        raise WorkbenchError(
            f"training.max_length {training.max_length} is beyond this model's limit of {limit} tokens",
            f"set training.max_length to {limit} or less",
            kind="config",
        )


def _check_max_length(config: RunConfig, model: _Model) -> None:
    check_token_limit(config.training, model.facts.token_limit)


def check_quantization(method: Any, device: str) -> None:
    """QLoRA's 4-bit kernels (bitsandbytes) run on CUDA only."""
    if method.quantize == "4bit" and not device.startswith("cuda"):
        raise WorkbenchError(
            f"method.quantize = \"4bit\" (QLoRA) needs a CUDA GPU: bitsandbytes' 4-bit kernels don't run on {device}",
            "set method.quantize = \"none\" for plain LoRA, or train on a machine with an NVIDIA GPU",
            kind="config",
        )


def _check_quantization(config: RunConfig) -> None:
    if config.method.quantize == "none":
        return
    from .devices import pick_device

    check_quantization(config.method, pick_device(config.training.device))


def _check_lengths(config: RunConfig, model: _Model, report: PreflightReport) -> None:
    """Text generation: token lengths of the training rows through the chat template; answers
    cut away entirely by max_length are an error above `chat.TRUNCATED_ANSWER_LIMIT`, else a warning."""
    from . import chat
    from .tasks import get_task

    _, layout, rows = get_task(config.task).examples(config)
    tokenizer = _tokenizer(config, model)
    source = chat.ensure_chat_template(tokenizer, config.data) if layout.format != "text" else "none"
    stats = chat.length_stats(tokenizer, rows["train"][:LENGTH_SAMPLE_ROWS], max_length=config.training.max_length,
                              train_on_prompt=config.training.train_on_prompt)
    report.facts.update(data_format=layout.format, chat_template=source, token_lengths=stats.token_lengths(),
                        truncated_rows=stats.truncated_rows, answer_cut_rows=stats.answer_cut_rows)
    problem = chat.truncation_problem(stats)
    if problem is None:
        return
    level, message = problem
    error = WorkbenchError(message, TRUNCATION_HINT, kind="config")
    if level == "error":
        raise error
    report.warnings.append(error)


def _check_data(config: RunConfig, report: PreflightReport) -> None:
    """Load the splits with the task's own loader: files, encoding, columns, labels, classes."""
    from .tasks import get_task

    splits, labels, columns = get_task(config.task).load(config)
    report.facts.update(labels=list(labels.names), columns=columns)
    report.facts.update(train_size=len(splits.train), validation_size=len(splits.validation))


def _check_runs_dir(runs_dir: Path, config: RunConfig, model: _Model | None, report: PreflightReport) -> None:
    existing = _nearest_existing(runs_dir)
    if existing == runs_dir.expanduser().absolute() and not existing.is_dir():
        raise RunError(f"runs directory {runs_dir} is a file, not a directory", "choose another with --runs-dir")
    if not existing.is_dir():
        raise RunError(f"runs directory {runs_dir} can't be created: {existing} is not a directory", "choose another with --runs-dir")
    if not _can_write_in(existing):
        raise RunError(f"runs directory {runs_dir} is not writable", "fix its permissions or choose another with --runs-dir")
    if model is None:
        return
    from .fsutil import checkpoint_extra_bytes

    needed = estimate_disk_bytes(model.info.params, config, checkpoint_extra_bytes(model.info.source))
    free = shutil.disk_usage(existing).free
    report.facts.update(disk_needed_bytes=needed, disk_free_bytes=free)
    if needed > free:
        from .humanize import bytes_ as size

        raise RunError(
            f"not enough free disk for the checkpoints: about {size(needed)} needed, {size(free)} free in {existing}",
            "free some space, lower training.save_total_limit, use method.kind = lora, or choose another --runs-dir",
        )


def _nearest_existing(path: Path) -> Path:
    path = path.expanduser().absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _can_write_in(folder: Path) -> bool:
    """Really try (as root, permission bits say yes to everything)."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def estimate_disk_bytes(params: Any, config: RunConfig, extra_per_save: int = 0) -> int:
    """Checkpoints kept (plus the one being written before pruning) and the final model, in fp32.

    A LoRA checkpoint holds only the adapter; full and head checkpoints hold the whole model. Each
    also holds the Adam moments of the trainable parameters, and `extra_per_save` (the tokenizer
    files, scheduler, rng state, trainer state: `fsutil.checkpoint_extra_bytes`), which the final
    model holds too.
    """
    saved = params.trainable if config.method.kind == "lora" else params.total
    checkpoint = saved * 4 + params.trainable * ADAM_STATE_BYTES + extra_per_save
    return int(checkpoint * (config.training.save_total_limit + 1) + saved * 4 + extra_per_save)


def precision_bytes(precision: str) -> int:
    return 2 if precision in {"bf16", "fp16"} else 4


def estimate_training_memory(shape: Any, params: Any, training: TrainingConfig, precision: str,
                             method: str = "full", device: str = "cpu", generating: bool = False) -> int:
    """A rough peak-memory estimate for one training step of a model of `shape`
    (`models.ModelShape`; see `models.estimate_memory_bytes`)."""
    from .models import CPU_RUNTIME_BYTES, estimate_memory_bytes

    return estimate_memory_bytes(
        params,
        training.batch_size,
        training.max_length,
        shape.hidden_size,
        shape.layers,
        precision_bytes(precision),
        heads=shape.heads,
        method=method,
        checkpointing=training.gradient_checkpointing,
        runtime_bytes=CPU_RUNTIME_BYTES if device == "cpu" else 0,
        vocab=shape.vocab_size if generating else None,
    )


def _check_memory(config: RunConfig, model: _Model, report: PreflightReport) -> None:
    from .devices import device_memory_bytes, pick_device, pick_precision

    device = pick_device(config.training.device)
    precision = pick_precision(config.training.precision, device)
    estimate = estimate_training_memory(model.facts.shape, model.info.params, config.training, precision,
                                        config.method.kind, device, config.task == "text-generation")
    available = device_memory_bytes(device)
    report.facts.update(device=device, memory_estimate_bytes=estimate, device_memory_bytes=available)
    if available and estimate > MEMORY_WARNING_SHARE * available:
        from .humanize import bytes_ as size

        training = config.training
        smaller = max(1, training.batch_size // 4)
        report.warnings.append(
            WorkbenchError(
                f"batch {training.batch_size} × length {training.max_length} may need ~{size(estimate)} but {device} has "
                f"{size(available)}{' free' if device == 'cpu' else ''}",
                f"if it runs out of memory: training.batch_size={smaller} with "
                f"gradient_accumulation_steps={training.gradient_accumulation_steps * training.batch_size // smaller}, "
                "or method.kind = lora, or training.auto_batch = true",
                kind="memory",
            )
        )
