"""NER quality and speed: tlwb against a plain Hugging Face Trainer script, same data and budget.

Both sides fine-tune the packaged all-MiniLM-L6-v2 (full fine-tuning) on the first
`--train-sentences` sentences of CoNLL-2003 `train.txt` (default 4,000 of 14,041), with the same
epochs, batch size, learning rate, warm-up, weight decay, max length and seed, then are scored on
the whole of `valid.txt` (3,250 sentences).

- tlwb: a real run, launched as a user would (`workbench.runner.launch`: its own process, the
  event callback), with `eval_strategy = "no"` so that its training time, like the plain
  script's, holds no evaluation, and run_ner's checkpoint interval (the Trainer default, 500
  steps) instead of tlwb's tenth-of-the-run default.
- plain: `plain_run_ner` below, written the way transformers' `examples/pytorch/token-
  classification/run_ner.py` does it: tokenize_and_align_labels (first sub-token labelled, -100
  elsewhere), DataCollatorForTokenClassification, Trainer, seqeval in its default mode over the
  words that kept a label.

Both trained models are scored with both metrics, so the F1 comparison is on equal terms:
- "strict": tlwb's own (seqeval strict mode with the detected scheme; every gold word counts,
  words cut off by max_length count as predicted O);
- "run_ner": the example's (seqeval default, conlleval-style; words without a label dropped).
Training samples/s is the Trainer's own `train_samples_per_second` on each side.

Targets: tlwb F1 within 0.5 points of the plain script (or better) and samples/s >= plain.

    .venv/bin/python benchmarks/ner_quality.py            # full (several minutes on 2 cores)
    .venv/bin/python benchmarks/ner_quality.py --quick    # 300 sentences, 200 to score: a smoke test (minutes)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
CONLL = REPO.parent / "shared" / "data" / "conll2003"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
#: run_ner keeps the Trainer's default checkpoint interval; tlwb is given the same one.
SAVE_STEPS = 500


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small version: 300 training sentences, batch 8, 200 scored, max_length 64")
    parser.add_argument("--train-sentences", type=int, default=4000)
    parser.add_argument("--eval-sentences", type=int, default=None, help="score on the first N of valid.txt (default: all)")
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--warmup", type=float, default=0.06, help="warm-up as a fraction of the steps")
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--plain-label-order", choices=["sorted", "tlwb"], default="sorted",
                        help="the plain script's label ids: run_ner's sorted list, or tlwb's order (O first, then B/I per "
                             "type). The head's rows are initialised in label order, so `tlwb` gives both sides the same "
                             "starting weights and isolates everything else")
    parser.add_argument("--plain-only", action="store_true", help="train and score the plain script only")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object too")
    args = parser.parse_args(argv)
    if args.quick:
        args.train_sentences, args.eval_sentences, args.epochs, args.max_length, args.batch_size = 300, args.eval_sentences or 200, 1, 64, 8
    return args


def conll_blocks(path: Path) -> list[str]:
    """Sentences of a CoNLL file as text blocks (DOCSTART lines dropped), to write subsets."""
    blocks, lines = [], []
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("-DOCSTART-"):
            if lines:
                blocks.append("\n".join(lines))
                lines = []
            continue
        lines.append(line)
    if lines:
        blocks.append("\n".join(lines))
    return blocks


def write_subset(source: Path, count: int | None, target: Path) -> Path:
    blocks = conll_blocks(source)
    target.write_text("\n\n".join(blocks[:count] if count else blocks) + "\n")
    return target


# -- the plain script ---------------------------------------------------------------------------
def read_conll_plain(path: Path) -> dict[str, list[list[str]]]:
    tokens, tags = [], []
    for block in conll_blocks(path):
        rows = [line.split() for line in block.splitlines()]
        tokens.append([r[0] for r in rows])
        tags.append([r[-1] for r in rows])
    return {"tokens": tokens, "ner_tags": tags}


def plain_run_ner(train_file: Path, eval_file: Path, model_path: str, args: argparse.Namespace, output_dir: Path) -> dict[str, Any]:
    """transformers' run_ner.py, reduced to this data: returns F1, samples/s and the model."""
    import datasets
    from transformers import (AutoModelForTokenClassification, AutoTokenizer, DataCollatorForTokenClassification, Trainer,
                              TrainingArguments, set_seed)

    set_seed(args.seed)
    raw_train = datasets.Dataset.from_dict(read_conll_plain(train_file))
    raw_eval = datasets.Dataset.from_dict(read_conll_plain(eval_file))
    # get_label_list: the sorted unique labels of the training data (or tlwb's order, to compare
    # the two from the same initial head)
    tags = {tag for row in raw_train["ner_tags"] for tag in row}
    if args.plain_label_order == "tlwb":
        from workbench.ner import order_tags

        label_list = order_tags(tags)
    else:
        label_list = sorted(tags)
    label_to_id = {label: i for i, label in enumerate(label_list)}
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForTokenClassification.from_pretrained(
        model_path, num_labels=len(label_list), label2id=label_to_id, id2label=dict(enumerate(label_list))
    )

    def tokenize_and_align_labels(examples: dict[str, list]) -> Any:
        tokenized = tokenizer(examples["tokens"], padding=False, truncation=True, max_length=args.max_length, is_split_into_words=True)
        labels = []
        for i, label in enumerate(examples["ner_tags"]):
            word_ids = tokenized.word_ids(batch_index=i)
            previous_word_idx = None
            label_ids = []
            for word_idx in word_ids:
                if word_idx is None:
                    label_ids.append(-100)
                elif word_idx != previous_word_idx:
                    label_ids.append(label_to_id[label[word_idx]])
                else:
                    label_ids.append(-100)  # label_all_tokens = False
                previous_word_idx = word_idx
            labels.append(label_ids)
        tokenized["labels"] = labels
        return tokenized

    train_dataset = raw_train.map(tokenize_and_align_labels, batched=True, remove_columns=raw_train.column_names)
    eval_dataset = raw_eval.map(tokenize_and_align_labels, batched=True, remove_columns=raw_eval.column_names)
    collator = DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=None)

    def compute_metrics(p: Any) -> dict[str, float]:
        return {"f1": run_ner_f1(p.predictions, p.label_ids, label_list, label_list)}

    training_args = TrainingArguments(
        output_dir=str(output_dir), num_train_epochs=args.epochs, per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size * 2, learning_rate=args.learning_rate, warmup_steps=args.warmup,
        weight_decay=args.weight_decay, seed=args.seed, save_steps=SAVE_STEPS, eval_strategy="no", report_to="none",
        logging_steps=10, disable_tqdm=True, dataloader_num_workers=0,
    )
    trainer = Trainer(model=model, args=training_args, train_dataset=train_dataset, eval_dataset=eval_dataset,
                      processing_class=tokenizer, data_collator=collator, compute_metrics=compute_metrics)
    train_result = trainer.train()
    metrics = trainer.evaluate()

    def score_other(other: Any) -> float:
        """The run_ner metric for another model (with its own label order) on this eval set."""
        other_trainer = Trainer(model=other, args=training_args, data_collator=collator)
        output = other_trainer.predict(eval_dataset)
        names = [other.config.id2label[i] for i in range(len(other.config.id2label))]
        return run_ner_f1(output.predictions, output.label_ids, names, label_list)

    return {
        "f1_run_ner": metrics["eval_f1"],
        "samples_per_s": train_result.metrics["train_samples_per_second"],
        "train_runtime_s": train_result.metrics["train_runtime"],
        "model": trainer.model,
        "tokenizer": tokenizer,
        "score_other": score_other,
    }


def run_ner_f1(logits: Any, label_ids: Any, predicted_names: list[str], gold_names: list[str]) -> float:
    """run_ner's compute_metrics: argmax, drop -100 positions, seqeval default mode, micro F1."""
    import numpy as np
    from seqeval.metrics import classification_report

    predictions = np.argmax(logits, axis=2)
    true_predictions = [[predicted_names[q] for q, l in zip(pred, lab) if l != -100] for pred, lab in zip(predictions, label_ids)]
    true_labels = [[gold_names[l] for q, l in zip(pred, lab) if l != -100] for pred, lab in zip(predictions, label_ids)]
    return classification_report(true_labels, true_predictions, output_dict=True, zero_division=0)["micro avg"]["f1-score"]


# -- tlwb -------------------------------------------------------------------------------------
def tlwb_config(train_file: Path, eval_file: Path, args: argparse.Namespace) -> Any:
    """The run config tlwb trains with: the shipped CoNLL preset at this benchmark's settings."""
    from workbench.presets import load_config

    config = load_config(str(Path(__file__).parent / "presets" / "conll2003-local.toml"), [
        f"data.train={train_file}", f"data.validation={eval_file}", "method.kind=full",
        f"training.epochs={args.epochs}", f"training.batch_size={args.batch_size}", f"training.learning_rate={args.learning_rate}",
        f"training.warmup_ratio={args.warmup}", f"training.weight_decay={args.weight_decay}", f"training.max_length={args.max_length}",
        f"training.seed={args.seed}", "training.eval_strategy=no", "training.logging_steps=10", "training.num_samples=0",
        f"training.save_steps={SAVE_STEPS}",
    ])
    config.data.max_train_samples = None
    return config


def tlwb_run(train_file: Path, eval_file: Path, args: argparse.Namespace, runs_dir: Path) -> dict[str, Any]:
    from workbench.runner import launch, wait

    run, process = launch(tlwb_config(train_file, eval_file, args), runs_dir)
    last = wait(run, process=process)
    if last.get("type") != "finished":
        raise SystemExit(f"tlwb run failed: {last}\n{run.log_path.read_text()[-2000:]}")
    return {"run": run, "f1_strict": last["metrics"]["f1"], "samples_per_s": last["train_samples_per_s"], "train_runtime_s": last["train_runtime_s"]}


def strict_f1(model: Any, tokenizer: Any, eval_file: Path, run_config: Any) -> float:
    """tlwb's metric (`tlwb eval`) for any model."""
    from workbench.tasks import get_task

    task = get_task("token-classification")
    names = [model.config.id2label[i] for i in range(len(model.config.id2label))]
    return task.score(model, tokenizer, run_config, str(eval_file), names, 64).metrics["f1"]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import datasets
    import transformers

    args = parse_args(argv)
    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    from workbench.inference import load_run_model
    from workbench.models import packaged_model_path

    model_path = str(packaged_model_path(MODEL))
    with tempfile.TemporaryDirectory(prefix="ner-bench-") as folder:
        work = Path(folder)
        train_file = write_subset(CONLL / "train.txt", args.train_sentences, work / "train.txt")
        eval_file = write_subset(CONLL / "valid.txt", args.eval_sentences, work / "valid.txt")
        print(f"data: {args.train_sentences:,} training sentences of train.txt, {len(conll_blocks(eval_file)):,} of valid.txt; "
              f"{args.epochs:g} epochs, batch {args.batch_size}, lr {args.learning_rate:g}, max_length {args.max_length}, seed {args.seed}",
              flush=True)

        started = time.time()
        plain = plain_run_ner(train_file, eval_file, model_path, args, work / "plain")
        print(f"plain: trained in {plain['train_runtime_s']:.0f}s ({time.time() - started:.0f}s with scoring), "
              f"labels {args.plain_label_order}", flush=True)
        plain["f1_strict"] = strict_f1(plain["model"], plain["tokenizer"], eval_file, tlwb_config(train_file, eval_file, args))
        if args.plain_only:
            print(f"plain   F1 strict {100 * plain['f1_strict']:.2f}, run_ner {100 * plain['f1_run_ner']:.2f}, "
                  f"{plain['samples_per_s']:.1f} samples/s")
            result = {"plain": {k: plain[k] for k in ("f1_strict", "f1_run_ner", "samples_per_s", "train_runtime_s")},
                      "plain_label_order": args.plain_label_order}
            if args.json:
                print(json.dumps(result))
            return result
        started = time.time()
        ours = tlwb_run(train_file, eval_file, args, work / "runs")
        print(f"tlwb:  trained in {ours['train_runtime_s']:.0f}s ({time.time() - started:.0f}s in all)", flush=True)

        loaded = load_run_model(ours["run"])
        ours["f1_run_ner"] = plain["score_other"](loaded.model)

    rows = {"tlwb": ours, "plain": plain}
    print()
    print(f"{'':8} {'F1 strict':>10} {'F1 run_ner':>11} {'train samples/s':>16}")
    for name, row in rows.items():
        print(f"{name:8} {100 * row['f1_strict']:10.2f} {100 * row['f1_run_ner']:11.2f} {row['samples_per_s']:16.1f}")
    result = {
        "train_sentences": args.train_sentences,
        "epochs": args.epochs,
        "tlwb": {k: ours[k] for k in ("f1_strict", "f1_run_ner", "samples_per_s", "train_runtime_s")},
        "plain": {k: plain[k] for k in ("f1_strict", "f1_run_ner", "samples_per_s", "train_runtime_s")},
        "f1_points_vs_plain": {m: round(100 * (ours[m] - plain[m]), 2) for m in ("f1_strict", "f1_run_ner")},
        "throughput_ratio": round(ours["samples_per_s"] / plain["samples_per_s"], 3),
    }
    quality_ok = all(delta >= -0.5 for delta in result["f1_points_vs_plain"].values())
    speed_ok = result["throughput_ratio"] >= 1.0
    print(f"F1 tlwb - plain: {result['f1_points_vs_plain']['f1_strict']:+.2f} points strict, "
          f"{result['f1_points_vs_plain']['f1_run_ner']:+.2f} run_ner (target >= -0.50: {'met' if quality_ok else 'MISSED'})")
    print(f"throughput tlwb / plain: {result['throughput_ratio']:.3f} (target >= 1: {'met' if speed_ok else 'MISSED'})")
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
