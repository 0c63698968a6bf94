"""A plain Hugging Face Trainer fine-tuning script, written the way tutorials write it.

Used by `train_throughput.py` as the baseline. `--padding max_length` pads every example to
`--max-length` in `map()` (the classic tutorial); `--padding dynamic` leaves padding to the
collator. Prints one JSON line: the Trainer's training samples/s, held-out accuracy (unless
`--skip-eval`) and when the first optimizer step ended (`first_step_at`, for `startup.py`).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from datasets import load_dataset
from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainerCallback, TrainingArguments, set_seed


class FirstStep(TrainerCallback):
    """Notes the wall-clock time at the end of the first optimizer step."""

    at: float | None = None

    def on_step_end(self, args, state, control, **kwargs):
        if self.at is None:
            self.at = time.time()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--train", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--padding", choices=["max_length", "dynamic"], required=True)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--epochs", type=float, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--bf16", action="store_true", help="train in bf16 (CUDA)")
    parser.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps")
    parser.add_argument("--skip-eval", action="store_true", help="don't score the test file")
    args = parser.parse_args()

    dataset = load_dataset("csv", data_files={"train": args.train, "test": args.test}, sep="\t", quoting=3)
    tokenizer = AutoTokenizer.from_pretrained(args.model)

    def tokenize(batch):
        if args.padding == "max_length":
            return tokenizer(batch["sentence"], padding="max_length", truncation=True, max_length=args.max_length)
        return tokenizer(batch["sentence"], truncation=True, max_length=args.max_length)

    dataset = dataset.map(tokenize, batched=True)
    set_seed(args.seed)  # as run_glue.py does: the new head's initialisation follows the seed
    model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=2)

    def compute_metrics(prediction):
        return {"accuracy": float((np.argmax(prediction.predictions, -1) == prediction.label_ids).mean())}

    training_args = TrainingArguments(
        output_dir=args.output_dir,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size * 2,
        num_train_epochs=args.epochs,
        max_steps=args.max_steps,
        learning_rate=args.learning_rate,
        seed=args.seed,
        eval_strategy="no",
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        logging_steps=10,
        bf16=args.bf16,
    )
    first_step = FirstStep()
    trainer = Trainer(
        model=model,
        callbacks=[first_step],
        args=training_args,
        train_dataset=dataset["train"],
        eval_dataset=dataset["test"],
        processing_class=tokenizer,
        compute_metrics=compute_metrics,
    )
    output = trainer.train()
    metrics = {} if args.skip_eval else trainer.evaluate()
    print(json.dumps({
        "train_samples_per_s": output.metrics["train_samples_per_second"],
        "train_runtime_s": output.metrics["train_runtime"],
        "accuracy": metrics.get("eval_accuracy"),
        "train_rows": len(dataset["train"]),
        "first_step_at": first_step.at,
    }))


if __name__ == "__main__":
    main()
