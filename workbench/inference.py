"""Loading a finished run's model (full model or LoRA adapter) for eval, predict and the playground."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import RunConfig
from .errors import ModelError, RunError, WorkbenchError
from .runstore import RunDir
from .tasks import Task, get_task


@dataclass
class LoadedRun:
    run: RunDir
    config: RunConfig
    task: Task
    model: Any
    tokenizer: Any
    label_values: list[str]

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        extra = {"generation": self.config.generation} if getattr(self.task, "generates", False) else {}
        return self.task.predict(self.model, self.tokenizer, texts, self.config.training.max_length, **extra)


def load_run_model(run: RunDir, device: str = "cpu", *, merge_adapter: bool = False) -> LoadedRun:
    """The trained model of a run; a run without a completely saved model is refused.

    `merge_adapter`: fold a LoRA adapter into the base weights (peft's `merge_and_unload`) for
    one-off inference; the model is then a plain transformers model."""
    import transformers

    from .models import load_base_model, load_model_config, resolve_model_source

    config = run.config()
    task = get_task(config.task)
    saved = saved_model_dir(run)
    check_saved_model(run, saved)
    auto_class = getattr(transformers, task.auto_model)
    with _loading(saved):
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(saved))
    if saved == run.adapter_dir:
        with _loading(saved):
            adapter_config = json.loads((saved / "adapter_config.json").read_text())
        base_source = adapter_config.get("base_model_name_or_path") or resolve_model_source(config.model)
        labels = _labels(run)
        base_config = load_model_config(
            base_source, config.model, num_labels=len(labels),
            id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)},
        )
        base = load_base_model(auto_class, base_source, config.model, base_config)  # its own head may have other labels
        with _loading(saved):
            model = _apply_adapter(base, saved, merge_adapter)
    else:
        with _loading(saved):
            model = auto_class.from_pretrained(str(saved), weights_only=True)
    model.to(device).eval()
    values = json.loads((run.path / "labels.json").read_text()).get("values", _labels(run))
    return LoadedRun(run, config, task, model, tokenizer, values)


def saved_model_dir(run: RunDir) -> Path:
    """The run's completely saved model or adapter folder; a run without one is refused."""
    saved = run.trained_model_dir()
    if saved is None:
        state = run.status().get("state", "unknown")
        raise RunError(
            f"run {run.id} has no saved model (state: {state})",
            "wait for it to finish, or `tlwb resume` it; only finished runs have a model",
        )
    return saved


#: The fix for a damaged model folder inside a finished run.
DAMAGED_RUN_HINT = "the saved model is damaged: restore that folder from a backup, or train again (tlwb train {config})"


def check_saved_model(run: RunDir, saved: Path) -> None:
    """A finished run's model or adapter folder is whole and safe before anything loads it:
    weights present, safetensors not truncated, pickles holding only tensors. Raises ModelError
    naming the file."""
    from .model_checks import check_model_folder

    try:
        check_model_folder(saved, what="run's model")
    except ModelError as err:
        hint = err.hint if "holds code" in err.message else DAMAGED_RUN_HINT.format(config=run.config_path)
        raise ModelError(err.message, hint) from None


@contextlib.contextmanager
def _loading(saved: Path):
    """Loader failures on a run's own model folder become one ModelError line naming it."""
    import pickle

    try:
        yield
    except WorkbenchError:
        raise
    except pickle.UnpicklingError:
        raise ModelError(
            f"refusing to load the weights in {saved}: the pickled checkpoint holds more than tensors (it could run code)",
            "delete the .bin file unless you trust it; a safetensors copy of the model loads safely",
        ) from None
    except Exception as err:  # transformers/peft/safetensors raise many types for a damaged folder
        first = (str(err).splitlines() or [""])[0][:160]
        raise ModelError(f"can't load the model saved in {saved}: {type(err).__name__}: {first}",
                         "the saved model is damaged: restore that folder from a backup, or train again") from None


def _apply_adapter(base: Any, saved: Path, merge: bool) -> Any:
    """The adapter on its base; folded into the base weights (peft's `merge_and_unload`) when
    asked, so one-off inference runs a plain transformers model with no adapter overhead."""
    from peft import PeftModel

    model = PeftModel.from_pretrained(base, str(saved))
    return model.merge_and_unload() if merge else model


def _labels(run: RunDir) -> list[str]:
    return json.loads((run.path / "labels.json").read_text())["names"]
