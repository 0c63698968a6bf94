"""A fake text-generation run (events crafted as the generation task writes them) and a fake chat
model, for the Results, Train and playground tests of causal-LM runs."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Iterator

from tests.fakes import FakeRun, fake_config
from workbench.config import GenerationConfig, RunConfig

GENERATIONS = [
    {"index": 0, "prompt": "Is this review positive or negative? a gorgeous , witty , seductive movie .",
     "reference": "positive", "generated": "positive", "match": True},
    {"index": 1, "prompt": "Is this review positive or negative? the movie is a disaster , but a fun one",
     "reference": "positive", "generated": "negative", "match": False},
    {"index": 2, "prompt": [{"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello."},
                            {"role": "user", "content": "Is 'not quite as good as its predecessor' positive?"}],
     "reference": "negative", "generated": "negative", "match": True},
    {"index": 3, "prompt": "Is this review positive or negative? it 's a bit long",
     "reference": "negative", "generated": "It is positive, mostly, because the reviewer liked the acting a lot.", "match": False},
]


def generation_config(**overrides: Any) -> RunConfig:
    base = dict(name="fake-chat", task="text-generation", model={"name": "HuggingFaceTB/SmolLM2-135M-Instruct"},
                data={"train": "/data/chat/train.jsonl"}, method={"kind": "lora"})
    base.update(overrides)
    return fake_config(**base)


class GenerationRun(FakeRun):
    """A SmolLM2 LoRA run on chat rows: `started`/`step`/`eval`/`samples` as the generation task writes them."""

    def __init__(self, runs_dir: Path, run_id: str = "2026-11-30_091500_fake-chat", **kwargs: Any) -> None:
        super().__init__(runs_dir, run_id, config=generation_config(), **kwargs)

    def started(self, total_steps: int = 100, labels: list[str] | None = None) -> None:
        self.writer.emit("started", time=self.started_at, device="cpu", precision="fp32", model="HuggingFaceTB/SmolLM2-135M-Instruct",
                         architecture="LlamaForCausalLM", method="lora", params_total=134_515_008, params_trainable=921_600,
                         train_size=180, validation_size=20, test_size=0, validation_from_train=True, labels=[],
                         total_steps=total_steps, effective_batch_size=8, resumed=False, task="text-generation",
                         main_metric="loss", greater_is_better=False, data_format="messages",
                         token_lengths={"p50": 41, "p90": 58, "p99": 77, "max": 80}, truncated_rows=0, packing=False,
                         chat_template="tokenizer")

    def step(self, step: int, loss: float, total_steps: int = 100, **extra: Any) -> None:
        super().step(step, loss, total_steps, samples_per_s=6.4, tokens_per_s=281.0, **extra)

    def generation_eval(self, step: int, loss: float, exact_match: float | None = 0.5,
                        items: list[dict[str, Any]] | None = None) -> None:
        import math

        metrics: dict[str, Any] = {"loss": loss, "perplexity": math.exp(loss), "n": 20}
        if exact_match is not None:
            metrics["exact_match"] = exact_match
        self.writer.emit("eval", split="validation", step=step, epoch=round(step / 100, 4), metrics=metrics)
        self.writer.emit("samples", split="validation", step=step, items=items if items is not None else GENERATIONS)
        best = self.run.read_status().get("best")
        if best is None or loss < best["value"]:
            self.run.write_status(best={"name": "loss", "value": loss, "step": step})

    def finish(self, duration_s: float = 112.0) -> None:
        self.writer.emit("finished", time=self.started_at + duration_s, metrics={"loss": 0.9, "perplexity": 2.46},
                         best_metric=self.run.read_status().get("best"), output=str(self.run.adapter_dir),
                         duration_s=duration_s, step=100)
        self.run.write_status(state="finished", ended_at=self.started_at + duration_s)
        self.run.adapter_dir.mkdir(parents=True, exist_ok=True)  # a saved adapter, so the playground opens
        (self.run.adapter_dir / "adapter_config.json").write_text("{}")
        (self.run.adapter_dir / ".complete").write_text("")


class FakeChatModel:
    """Stands in for a loaded causal LM: `reply_to` answers with canned pieces, one per token."""

    def __init__(self, config: RunConfig | None = None) -> None:
        self.config = config or generation_config()
        self.prompts: list[list[dict[str, str]]] = []
        self.gate: threading.Event | None = None  # when set up, each piece waits for it (a slow model)

    def stream(self, messages: list[dict[str, str]], generation: GenerationConfig, stop: threading.Event) -> Iterator[str]:
        self.prompts.append([dict(turn) for turn in messages])
        question = messages[-1]["content"]
        for piece in ["You", " asked", ": ", question.rstrip("?"), "."]:
            if self.gate is not None:
                self.gate.wait(10)
            if stop.is_set():
                return
            yield piece


def fake_chat(monkeypatch, model: FakeChatModel | None = None) -> FakeChatModel:
    """The chat playground loads `model` and streams its pieces instead of a real generation."""
    model = model or FakeChatModel()
    monkeypatch.setattr("screens.widgets.chat_playground.load_model_of_run", lambda run: model)
    monkeypatch.setattr("screens.widgets.chat_playground.stream_reply",
                        lambda loaded, messages, generation, stop: loaded.stream(messages, generation, stop))
    return model
