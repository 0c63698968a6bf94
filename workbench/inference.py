"""Loading a finished run's model (full model or LoRA adapter) for eval, predict and the playground."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .config import RunConfig
from .errors import RunError
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
        return self.task.predict(self.model, self.tokenizer, texts, self.config.training.max_length)


def load_run_model(run: RunDir, device: str = "cpu") -> LoadedRun:
    """The trained model of a run; a run without a completely saved model is refused."""
    import transformers

    from .models import load_base_model, load_model_config, resolve_model_source

    config = run.config()
    task = get_task(config.task)
    saved = run.trained_model_dir()
    if saved is None:
        state = run.status().get("state", "unknown")
        raise RunError(
            f"run {run.id} has no saved model (state: {state})",
            "wait for it to finish, or `tlwb resume` it; only finished runs have a model",
        )
    auto_class = getattr(transformers, task.auto_model)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(saved))
    if saved == run.adapter_dir:
        from peft import PeftModel

        adapter_config = json.loads((saved / "adapter_config.json").read_text())
        base_source = adapter_config.get("base_model_name_or_path") or resolve_model_source(config.model)
        labels = _labels(run)
        base_config = load_model_config(
            base_source, config.model, num_labels=len(labels),
            id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)},
        )
        base = load_base_model(auto_class, base_source, config.model, base_config)  # its own head may have other labels
        model = PeftModel.from_pretrained(base, str(saved))
    else:
        model = auto_class.from_pretrained(str(saved))
    model.to(device).eval()
    values = json.loads((run.path / "labels.json").read_text()).get("values", _labels(run))
    return LoadedRun(run, config, task, model, tokenizer, values)


def _labels(run: RunDir) -> list[str]:
    return json.loads((run.path / "labels.json").read_text())["names"]
