"""Fake run directories for UI and CLI tests: a test writes `events.jsonl` step by step."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from workbench.config import RunConfig
from workbench.events import EventWriter
from workbench.fsutil import atomic_write_text
from workbench.presets import config_to_toml
from workbench.runstore import RunDir

LABELS = ["negative", "positive"]


def fake_config(**overrides: Any) -> RunConfig:
    data = {
        "name": "fake-sst2",
        "model": {"name": "sentence-transformers/all-MiniLM-L6-v2"},
        "data": {"train": "/data/sst2/train.tsv"},
        "method": {"kind": "lora"},
        "training": {"epochs": 1, "batch_size": 32},
    }
    data.update(overrides)
    return RunConfig.model_validate(data)


class FakeRun:
    """A run directory whose events a test writes by hand; `pid` is this test process (alive)."""

    def __init__(self, runs_dir: Path, run_id: str = "2026-11-28_101200_fake-sst2", config: RunConfig | None = None,
                 started_at: float = 1_796_000_000.0) -> None:
        self.run = RunDir(Path(runs_dir) / run_id)
        self.run.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.run.config_path, config_to_toml(config or fake_config()))
        self.writer = EventWriter(self.run.events_path)
        self.started_at = started_at
        self.run.write_status(state="running", pid=os.getpid(), pid_start=None, started_at=started_at)

    def started(self, total_steps: int = 100, labels: list[str] = LABELS) -> None:
        # `time` on the fake clock: training time is measured from `started` to the run's end.
        self.writer.emit("started", time=self.started_at, device="cpu", precision="fp32", model="sentence-transformers/all-MiniLM-L6-v2",
                         model_source="/models/minilm", architecture="BertModel", method="lora",
                         params_total=22_713_000, params_trainable=148_000, train_size=3600, validation_size=400,
                         test_size=0, validation_from_train=True, labels=labels,
                         label_counts={l: 1800 for l in labels}, columns={"text": "sentence", "label": "label"},
                         total_steps=total_steps, effective_batch_size=32, resumed=False)

    def step(self, step: int, loss: float, total_steps: int = 100, **extra: Any) -> None:
        fields = dict(step=step, total_steps=total_steps, epoch=round(step / total_steps, 4), loss=loss,
                      learning_rate=5e-4 * (1 - step / total_steps), grad_norm=1.0, samples_per_s=48.2,
                      eta_s=41.0, elapsed_s=69.0, memory_bytes=1_500_000_000, memory_kind="rss")
        fields.update(extra)
        self.writer.emit("step", **fields)

    def eval(self, step: int, accuracy: float, samples: list[dict[str, Any]] | None = None, split: str = "validation") -> None:
        confusion = [[341, 87], [77, 367]]
        per_class = {
            "negative": {"precision": 0.83, "recall": 0.80, "f1": 0.81, "support": 428},
            "positive": {"precision": 0.81, "recall": 0.83, "f1": 0.82, "support": 444},
        }
        self.writer.emit("eval", split=split, step=step, epoch=round(step / 100, 4),
                         metrics={"accuracy": accuracy, "macro_f1": accuracy - 0.004, "n": 872, "loss": 0.41},
                         per_class=per_class, confusion_matrix=confusion, labels=LABELS)
        self.writer.emit("samples", split=split, step=step, items=samples if samples is not None else default_samples())
        status = self.run.read_status()
        best = status.get("best")
        if best is None or accuracy > best["value"]:
            self.run.write_status(best={"name": "accuracy", "value": accuracy, "step": step})

    def ner_eval(self, step: int, f1: float, samples: list[dict[str, Any]] | None = None, split: str = "validation") -> None:
        """An entity-level evaluation shaped like the token-classification task's (per type, span confusion)."""
        per_class = {
            "LOC": {"precision": 0.90, "recall": 0.85, "f1": 0.874, "support": 20},
            "ORG": {"precision": 0.60, "recall": 0.50, "f1": 0.545, "support": 12},
            "PER": {"precision": 0.95, "recall": 0.95, "f1": 0.95, "support": 20},
        }
        confusion = [[17, 2, 0, 1], [1, 6, 0, 5], [0, 0, 19, 1], [1, 3, 0, 0]]
        self.writer.emit("eval", split=split, step=step, epoch=round(step / 100, 4),
                         metrics={"f1": f1, "precision": f1 + 0.01, "recall": f1 - 0.01, "accuracy": 0.97, "loss": 0.2},
                         per_class=per_class, confusion_matrix=confusion, labels=["LOC", "ORG", "PER", "O"])
        self.writer.emit("samples", split=split, step=step, items=samples if samples is not None else default_ner_samples())
        self.run.write_status(best={"name": "f1", "value": f1, "step": step})

    def finish(self, duration_s: float = 112.0) -> None:
        self.writer.emit("finished", time=self.started_at + duration_s, metrics={"accuracy": 0.812, "macro_f1": 0.808}, best_metric=self.run.read_status().get("best"),
                         output=str(self.run.adapter_dir), duration_s=duration_s, step=100)
        self.run.write_status(state="finished", ended_at=self.started_at + duration_s)

    def fail(self, kind: str = "oom", message: str = "out of memory", hint: str = "lower the batch size") -> None:
        self.writer.emit("failed", time=self.started_at + 12, kind=kind, message=message, hint=hint)
        self.run.write_status(state="failed", kind=kind, message=message, hint=hint, ended_at=self.started_at + 12)


def default_samples() -> list[dict[str, Any]]:
    rows = [
        ("the movie is a disaster , but a fun one", "positive", "negative", 0.51),
        ("not quite as good as its predecessor", "negative", "positive", 0.55),
        ("a gorgeous , witty , seductive movie .", "positive", "positive", 0.97),
        ("the plot is nothing but boilerplate clichés", "negative", "negative", 0.93),
        ("an utterly charming and hilarious film", "positive", "positive", 0.88),
        ("it 's a bit long", "negative", "negative", 0.62),
    ]
    return [
        {"index": i, "text": text, "gold": gold, "pred": pred, "confidence": conf,
         "probs": {pred: conf, ("negative" if pred == "positive" else "positive"): round(1 - conf, 4)}}
        for i, (text, gold, pred, conf) in enumerate(rows)
    ]


def ner_config() -> RunConfig:
    return fake_config(name="fake-conll", task="token-classification", data={"train": "/data/conll2003/train.txt"})


def _entity(tokens: list[str], start: int, end: int, kind: str, **extra: Any) -> dict[str, Any]:
    return {"start": start, "end": end, "type": kind, "text": " ".join(tokens[start:end]), **extra}


def default_ner_samples() -> list[dict[str, Any]]:
    """Three sentences: one right, one with a wrong type (Paris as ORG), one with a missed entity."""
    right = ["Angela", "Merkel", "visited", "Paris", "."]
    wrong_type = ["Peter", "flew", "to", "Paris", "."]
    missed = ["The", "UN", "met", "in", "Geneva", "."]
    return [
        {"index": 0, "tokens": right, "gold": ["B-PER", "I-PER", "O", "B-LOC", "O"], "pred": ["B-PER", "I-PER", "O", "B-LOC", "O"],
         "gold_entities": [_entity(right, 0, 2, "PER"), _entity(right, 3, 4, "LOC")],
         "pred_entities": [_entity(right, 0, 2, "PER", confidence=0.98), _entity(right, 3, 4, "LOC", confidence=0.95)],
         "correct": True, "confidence": 0.91},
        {"index": 1, "tokens": wrong_type, "gold": ["B-PER", "O", "O", "B-LOC", "O"], "pred": ["B-PER", "O", "O", "B-ORG", "O"],
         "gold_entities": [_entity(wrong_type, 0, 1, "PER"), _entity(wrong_type, 3, 4, "LOC")],
         "pred_entities": [_entity(wrong_type, 0, 1, "PER", confidence=0.9), _entity(wrong_type, 3, 4, "ORG", confidence=0.52)],
         "correct": False, "confidence": 0.52},
        {"index": 2, "tokens": missed, "gold": ["O", "B-ORG", "O", "O", "B-LOC", "O"], "pred": ["O", "O", "O", "O", "B-LOC", "O"],
         "gold_entities": [_entity(missed, 1, 2, "ORG"), _entity(missed, 4, 5, "LOC")],
         "pred_entities": [_entity(missed, 4, 5, "LOC", confidence=0.88)],
         "correct": False, "confidence": 0.61},
    ]


def cached_hub_config(hub: Path, repo_id: str, config: dict[str, Any], revision: str = "a" * 40) -> Path:
    """A Hugging Face hub cache under `hub` holding only `repo_id`'s config.json at `main` (what an
    offline `from_pretrained` of a hub id finds); returns the snapshot folder. Point
    `huggingface_hub.constants.HF_HUB_CACHE` at `hub` to use it."""
    repo = hub / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    (snapshot / "config.json").write_text(json.dumps(config))
    return snapshot
