"""Text generation: supervised fine-tuning of causal LMs on text, prompt→answer or chat data.

Rows are read by `workbench.chat` (formats, the chat template, the answer mask) and tokenised
into `input_ids` + `labels` that TRL's `SFTTrainer` takes as they are (see chat.py for why).
Evaluation is the eval loss (perplexity from it) plus greedy generations for a sample of
validation rows, and exact match over all of them when the answers are short.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any, Sequence

from .. import chat
from ..config import GenerationConfig, RunConfig
from ..data import load_source, load_splits
from ..errors import DataError
from .base import EvalResult, Prepared

#: Longest prompt / reference / generation kept in a samples event.
SAMPLE_TEXT_CHARS = 600
GENERATION_BATCH = 8
#: Tokens generated beyond the longest reference when exact match is scored (answers are short).
EXACT_MATCH_SLACK_TOKENS = 4


@dataclass
class NoLabels:
    """Generation has no label set; pre-flight and the started event read `.names`."""

    names: list[str] = field(default_factory=list)


class TextGeneration:
    name = "text-generation"
    auto_model = "AutoModelForCausalLM"
    peft_task_type = "CAUSAL_LM"
    main_metric = "loss"
    greater_is_better = False
    generates = True

    def load(self, config: RunConfig) -> tuple[Any, NoLabels, dict[str, str | None]]:
        """Raw splits (each row as `chat.to_conversation` gives it) and the layout's columns."""
        state: dict[str, Any] = {}

        def prepare(dataset: Any, role: str) -> Any:
            if "layout" not in state:
                state["layout"] = chat.detect_layout(dataset, config.data)
            layout = state["layout"]
            missing = [c for c in layout.columns.values() if c not in dataset.column_names]
            if missing:
                raise DataError(f"the {role} data has no column '{missing[0]}'", "give every split the same columns")
            return dataset

        splits = load_splits(config.data, self.name, config.training.seed, prepare)
        layout: chat.ChatLayout = state["layout"]
        return splits, NoLabels(), {"format": layout.format, **layout.columns}

    def examples(self, config: RunConfig) -> tuple[Any, chat.ChatLayout, dict[str, list[Any]]]:
        """(raw splits, layout, {split: rows as conversations or plain texts})."""
        splits, _, columns = self.load(config)
        layout = chat.ChatLayout(str(columns["format"]), {k: str(v) for k, v in columns.items() if k != "format"})
        rows = {"train": conversations(splits.train, layout), "validation": conversations(splits.validation, layout)}
        if splits.test is not None:
            rows["test"] = conversations(splits.test, layout)
        return splits, layout, rows

    def prepare(self, config: RunConfig, tokenizer: Any) -> Prepared:
        splits, layout, rows = self.examples(config)
        template = chat.ensure_chat_template(tokenizer, config.data) if layout.format != "text" else "none"
        max_length, on_prompt = config.training.max_length, config.training.train_on_prompt
        encoded = {split: [chat.encode(tokenizer, r, max_length=max_length, train_on_prompt=on_prompt) for r in items] for split, items in rows.items()}
        stats = chat.stats_of(encoded["train"], max_length)
        return Prepared(
            train=tokenised(encoded["train"]),
            validation=tokenised(encoded["validation"]),
            test=tokenised(encoded["test"]) if "test" in encoded else None,
            raw_validation=rows["validation"],
            raw_test=rows.get("test"),
            label_names=[],
            columns={"format": layout.format, **layout.columns},
            validation_from_train=splits.validation_from_train,
            facts={
                "data_format": layout.format,
                "token_lengths": stats.token_lengths(),
                "truncated_rows": stats.truncated_rows,
                "answer_cut_rows": stats.answer_cut_rows,
                "packing": config.training.packing,
                "chat_template": template,
                "length_stats": stats,
            },
        )

    def collator(self, tokenizer: Any, padding_free: bool = False) -> Any:
        from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

        return DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id, padding_free=padding_free)

    def evaluate(self, logits: Any, labels: Any, raw: Any, label_names: list[str], num_samples: int) -> EvalResult:
        raise NotImplementedError("text generation evaluates by generating: use evaluate_generation")

    def evaluate_generation(
        self, model: Any, tokenizer: Any, raw: Sequence[Any], *, loss: float | None, num_samples: int,
        generation: GenerationConfig, max_length: int, generate_rows: bool = True,
    ) -> EvalResult:
        """Perplexity from `loss`; greedy generations for `num_samples` rows of `raw`; exact match
        over every row when all references are short."""
        metrics: dict[str, float] = {"n": len(raw)}
        if loss is not None:
            metrics["perplexity"] = round(perplexity(loss), 4)
        if not generate_rows or not raw:
            return EvalResult(metrics, {}, [], [], [])
        pairs = [chat.split_for_generation(row) for row in raw]
        references = [ref for _, ref in pairs]
        exact = chat.short_references(references) and not isinstance(raw[0], str)
        indices = list(range(len(raw))) if exact else sorted(random.Random(0).sample(range(len(raw)), min(num_samples, len(raw))))
        budget = generation.max_new_tokens
        if exact:
            longest = max(len(tokenizer(r, add_special_tokens=False)["input_ids"]) for r in references)
            budget = min(budget, longest + EXACT_MATCH_SLACK_TOKENS)
        outputs = generate(model, tokenizer, [pairs[i][0] for i in indices], generation.model_copy(update={"max_new_tokens": budget}), max_length)
        generated = dict(zip(indices, outputs))
        if exact:
            matches = [chat.normalise_answer(generated[i]) == chat.normalise_answer(references[i]) for i in indices]
            metrics["exact_match"] = round(sum(matches) / len(matches), 4)
        shown = indices if not exact else sorted(random.Random(0).sample(indices, min(num_samples, len(indices))))
        samples = [sample_item(i, pairs[i][0], references[i], generated[i], exact) for i in shown]
        return EvalResult(metrics, {}, [], [], samples)

    def predict(self, model: Any, tokenizer: Any, texts: list[str], max_length: int, *,
                generation: GenerationConfig | None = None, chat_prompts: bool | None = None) -> list[dict[str, Any]]:
        """Generate for each text: through the chat template when the tokenizer has one (a chat
        run saved it), else as a plain continuation."""
        use_chat = bool(getattr(tokenizer, "chat_template", None)) if chat_prompts is None else chat_prompts
        prompts: list[Any] = [[{"role": "user", "content": t}] for t in texts] if use_chat else list(texts)
        outputs = generate(model, tokenizer, prompts, generation or GenerationConfig(), max_length)
        return [{"prompt": text, "generated": out} for text, out in zip(texts, outputs)]

    def score(self, model: Any, tokenizer: Any, config: RunConfig, source: str, label_values: list[str], batch_size: int) -> EvalResult:
        """Loss, perplexity, exact match (over every row when answers are short), n and samples on a file."""
        dataset = load_source(source, config.data, self.name, "test")
        layout = chat.detect_layout(dataset, config.data)
        rows = conversations(dataset, layout)
        encoded = [chat.encode(tokenizer, r, max_length=config.training.max_length, train_on_prompt=config.training.train_on_prompt) for r in rows]
        loss = mean_loss(model, tokenizer, [e for e in encoded if any(e.trained)], batch_size)
        if not rows:
            return EvalResult({"n": 0}, {}, [], [], [])
        result = self.evaluate_generation(
            model, tokenizer, rows, loss=loss, num_samples=20, generation=config.generation,
            max_length=config.training.max_length,
        )
        if loss is not None:
            result.metrics["loss"] = round(loss, 6)
        return result


def conversations(dataset: Any, layout: chat.ChatLayout) -> list[Any]:
    return [chat.to_conversation(row, layout, i) for i, row in enumerate(dataset.to_list())]  # to_list: one arrow conversion, not a decode per row


def tokenised(encoded: Sequence[chat.Encoded]) -> Any:
    """A `datasets.Dataset` of `input_ids`/`labels`; rows left with no trained token are dropped
    (they carry no loss; SFTTrainer would drop them too). They are counted in `length_stats`."""
    import datasets

    kept = [e for e in encoded if any(e.trained)]
    return datasets.Dataset.from_dict({"input_ids": [e.input_ids for e in kept], "labels": [e.labels for e in kept]})


def perplexity(loss: float) -> float:
    return math.exp(min(float(loss), 50.0))


def sample_item(index: int, prompt: Any, reference: str, generated: str, exact: bool) -> dict[str, Any]:
    shown = prompt if isinstance(prompt, str) else "\n".join(f"{t['role']}: {t['content']}" for t in prompt if t["role"] != "system") or ""
    item: dict[str, Any] = {
        "index": index,
        "prompt": _clip(shown),
        "reference": _clip(reference),
        "generated": _clip(generated),
        "match": chat.normalise_answer(generated) == chat.normalise_answer(reference) if exact else None,
    }
    return item


def _clip(text: str) -> str:
    return text if len(text) <= SAMPLE_TEXT_CHARS else text[: SAMPLE_TEXT_CHARS - 1] + "…"


def generate(model: Any, tokenizer: Any, prompts: Sequence[Any], generation: GenerationConfig, max_length: int) -> list[str]:
    """Generate for each prompt (a conversation to answer, or plain text to continue), batched,
    left-padded; greedy unless `generation.temperature` > 0. Stops at EOS or the template's
    end-of-turn marker."""
    import torch

    was_training = model.training
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    device = next(model.parameters()).device
    stops = end_of_turn_strings(tokenizer)
    outputs: list[str] = []
    try:
        for start in range(0, len(prompts), GENERATION_BATCH):
            batch = prompts[start : start + GENERATION_BATCH]
            texts = [p if isinstance(p, str) else chat.prompt_text(tokenizer, p) for p in batch]
            special = isinstance(batch[0], str)
            keep = prompt_budget(max_length, generation.max_new_tokens)
            tokenizer.truncation_side = "left"
            encoded = tokenizer(texts, return_tensors="pt", padding=True, truncation=True, max_length=keep, add_special_tokens=special).to(device)
            kwargs: dict[str, Any] = {"max_new_tokens": generation.max_new_tokens, "pad_token_id": tokenizer.pad_token_id}
            if generation.temperature > 0:
                kwargs.update(do_sample=True, temperature=generation.temperature, top_p=generation.top_p)
            else:
                kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            if stops:
                kwargs.update(stop_strings=stops, tokenizer=tokenizer)
            with torch.no_grad():
                ids = model.generate(**encoded, **kwargs)
            for row in ids[:, encoded["input_ids"].shape[1]:]:
                outputs.append(cut_at_stop(tokenizer.decode(row, skip_special_tokens=True), stops))
    finally:
        tokenizer.padding_side = side
        tokenizer.truncation_side = "right"
        model.train(was_training)
    return outputs


def prompt_budget(max_length: int, max_new_tokens: int) -> int:
    """Tokens of a prompt kept (its end): `max_length` less the answer's budget, but never less
    than half of `max_length`, so a long budget doesn't cut a prompt the model was trained on."""
    return max(max_length - max_new_tokens, max_length // 2, 1)


def end_of_turn_strings(tokenizer: Any) -> list[str]:
    """Markers that end an answer but are not the tokenizer's EOS token (ChatML on a base model)."""
    template = getattr(tokenizer, "chat_template", None) or ""
    stops = []
    if "<|im_end|>" in template and tokenizer.eos_token != "<|im_end|>":
        stops.append("<|im_end|>")
    return stops


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    for stop in stops:
        text = text.split(stop, 1)[0]
    return text.strip()


def mean_loss(model: Any, tokenizer: Any, encoded: Sequence[chat.Encoded], batch_size: int) -> float | None:
    """Token-weighted mean cross-entropy over the trained tokens of `encoded`."""
    import torch

    if not encoded:
        return None
    collate = TextGeneration().collator(tokenizer)
    device = next(model.parameters()).device
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(encoded), batch_size):
        batch = collate([{"input_ids": e.input_ids, "labels": e.labels} for e in encoded[start : start + batch_size]])
        batch = {k: v.to(device) for k, v in batch.items()}
        with torch.no_grad():
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
        shifted, targets = logits[:, :-1], batch["labels"][:, 1:]
        loss = torch.nn.functional.cross_entropy(shifted.reshape(-1, shifted.size(-1)), targets.reshape(-1), ignore_index=-100, reduction="sum")
        total += float(loss)
        count += int((targets != -100).sum())
    return total / count if count else None


TASK = TextGeneration()
