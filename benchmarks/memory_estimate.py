"""Memory: the estimate Setup and pre-flight show vs the measured peak of a real training step.

For full fine-tuning, LoRA and head-only training of an encoder (the packaged MiniLM) and a
decoder (the packaged SmolLM2-135M as a classifier), at two batch sizes, and with
`training.gradient_checkpointing` for full fine-tuning, this trains a couple of steps on IMDB
reviews long enough to fill `max_length` (so the estimate's worst case is what runs) and
compares the `started` event's `memory_estimate_bytes` with the training process's peak
resident set (CPU: `ru_maxrss`; on CUDA the step events' allocator figures would be the peak).
Target: estimate / measured within ±25 %.

    python benchmarks/memory_estimate.py                 # encoder and decoder
    python benchmarks/memory_estimate.py --models minilm # the encoder only
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import MINILM, SHARED_DATA  # noqa: E402

SMOLLM2 = "HuggingFaceTB/SmolLM2-135M-Instruct"
#: (name, model, max_length, batch sizes)
MODELS = {"minilm": (MINILM, 128, (8, 32)), "smollm2": (SMOLLM2, 128, (2, 8))}
#: (method, gradient checkpointing)
CASES = (("full", False), ("lora", False), ("head", False), ("full", True))
#: Reports a child process's peak RSS (KiB on Linux) once it has exited.
PEAK_RSS = "import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024); sys.exit(code)"
#: What importing the training process's libraries costs before any model is loaded.
BASELINE = "import torch, transformers, datasets, peft; from transformers import Trainer; import workbench.trainer.session"


def imdb_slices(folder: Path, rows: int) -> tuple[Path, Path]:
    """Long reviews (every one fills max_length) as train and a tiny validation file."""
    with (SHARED_DATA / "imdb" / "train.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        long_rows = []
        for row in reader:
            if len(row["text"]) > 2000:
                long_rows.append({"text": row["text"], "label": row["label"]})
            if len(long_rows) >= rows + 8:
                break
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "train.csv", folder / "validation.csv"
    for path, part in zip(paths, (long_rows[:rows], long_rows[rows:])):
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["text", "label"])
            writer.writeheader()
            writer.writerows(part)
    return paths


def baseline_rss() -> int:
    out = subprocess.run([sys.executable, "-c", PEAK_RSS, sys.executable, "-c", BASELINE], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


def measure(model: str, method: str, checkpointing: bool, batch: int, max_length: int, data: tuple[Path, Path], work: Path, steps: int) -> dict:
    from workbench.presets import load_config
    from workbench.runner import create_run

    config = load_config(None, [
        f"model.name={model}", f"data.train={data[0]}", f"data.validation={data[1]}", f"method.kind={method}",
        f"training.batch_size={batch}", f"training.max_length={max_length}", f"training.max_steps={steps}",
        "training.eval_strategy=no", "training.logging_steps=1", "training.precision=fp32", "training.device=cpu",
        f"training.gradient_checkpointing={str(checkpointing).lower()}", "training.learning_rate=1e-5",
    ], base={"name": f"mem-{method}"})
    run = create_run(config, work / "runs")
    out = subprocess.run([sys.executable, "-c", PEAK_RSS, sys.executable, "-m", "workbench.trainer", str(run.path)],
                         capture_output=True, text=True)
    events = [json.loads(line) for line in (run.path / "events.jsonl").read_text("utf-8").splitlines() if line.strip()]
    if out.returncode != 0 or events[-1]["type"] != "finished":
        raise SystemExit(f"run failed: {events[-1]} (see {run.log_path})")
    started = next(e for e in events if e["type"] == "started")
    return {"estimate": started["memory_estimate_bytes"], "peak": int(out.stdout.split()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=lambda s: s.split(","), default=list(MODELS))
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tlwb-memory-"))
    data = imdb_slices(work / "data", 64)
    base = baseline_rss()
    gib = 1024**3
    print(f"libraries alone (torch, transformers, datasets, peft, the training process): {base / gib:.2f} GiB peak RSS")
    print(f"{'model':8s} {'method':10s} {'batch':>5s} {'length':>6s} {'estimate':>9s} {'peak RSS':>9s} {'est/peak':>8s} {'est/(peak-libs)':>15s}")
    for name in args.models:
        model, max_length, batches = MODELS[name]
        for method, checkpointing in CASES:
            for batch in batches if not checkpointing else batches[-1:]:
                result = measure(model, method, checkpointing, batch, max_length, data, work, args.steps)
                label = method + (" +gc" if checkpointing else "")
                print(f"{name:8s} {label:10s} {batch:5d} {max_length:6d} {result['estimate'] / gib:8.2f}G {result['peak'] / gib:8.2f}G"
                      f" {result['estimate'] / result['peak']:8.2f} {result['estimate'] / max(1, result['peak'] - base):15.2f}", flush=True)


if __name__ == "__main__":
    main()
