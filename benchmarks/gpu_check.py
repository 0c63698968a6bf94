"""The GPU path, proven in one short run (≤ 8 minutes on one modern GPU).

On CUDA it trains, through `tlwb`'s real runner and training process:
  1. the encoder (BERT-base when the hub is reachable, else the packaged MiniLM) on SST-2 rows:
     full fine-tuning in fp32 and in bf16, LoRA in bf16, and full bf16 with `torch.compile`
     when `--compile` is given;
  2. the same full fine-tuning with a plain tutorial-style Trainer script (dynamic padding,
     bf16), side by side;
  3. a causal-LM LoRA run (the packaged SmolLM2-135M-Instruct) on SST-2 turned into chat rows;
and prints samples/s, tokens/s, peak GPU memory and held-out accuracy for each, checks that bf16
accuracy matches fp32 within noise (two standard errors of the difference), and lists the CUDA
defaults each run started with (the `started` event's runtime facts: precision, TF32, attention,
optimizer, pinned memory, dataloader workers).

On a machine without CUDA it says so and exits 0.

    python benchmarks/gpu_check.py                 # about 6 minutes on an H100-class GPU
    python benchmarks/gpu_check.py --rows 500      # shorter
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import MINILM, SHARED_DATA, sst2_slices  # noqa: E402

SMOLLM = "HuggingFaceTB/SmolLM2-135M-Instruct"
BERT_BASE = "google-bert/bert-base-uncased"


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def hub_reachable(model: str) -> bool:
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    try:
        from huggingface_hub import model_info

        model_info(model, timeout=5)
        return True
    except Exception:
        return False


def tlwb_run(name: str, overrides: list[str], work: Path, heldout: Path | None) -> dict:
    """One `tlwb` run to its end: speed from its events, peak memory, held-out score."""
    from workbench.inference import load_run_model
    from workbench.presets import load_config
    from workbench.runner import launch, wait
    from workbench.runstore import RunDir

    config = load_config(None, overrides, base={"name": name})
    started = time.monotonic()
    run, process = launch(config, work / "runs")
    last = wait(run, process=process)
    wall = time.monotonic() - started
    if last.get("type") != "finished":
        return {"name": name, "error": f"{last.get('kind', last.get('type'))}: {last.get('message', '')}"}
    events = [json.loads(line) for line in RunDir(run.path).events_path.read_text("utf-8").splitlines() if line.strip()]
    steps = [e for e in events if e.get("type") == "step"]
    start = next(e for e in reversed(events) if e.get("type") == "started")
    tokens = [e["tokens_per_s"] for e in steps if e.get("tokens_per_s")]
    result = {
        "name": name,
        "wall_s": round(wall, 1),
        "samples_per_s": last.get("train_samples_per_s"),
        "tokens_per_s": round(sum(tokens) / len(tokens), 1) if tokens else None,
        "peak_memory_bytes": max((e.get("memory_bytes") or 0 for e in steps), default=None),
        "runtime": start.get("runtime") or {k: start.get(k) for k in ("device", "precision")},
    }
    if heldout is not None:
        loaded = load_run_model(run)
        scored = loaded.task.score(loaded.model, loaded.tokenizer, loaded.config, str(heldout), getattr(loaded, "label_values", None), 64)
        result["score"] = {k: v for k, v in scored.metrics.items() if k in ("accuracy", "exact_match", "loss", "perplexity")}
    return result


def plain_run(model_path: str, train: Path, test: Path, work: Path) -> dict:
    command = [
        sys.executable, str(Path(__file__).with_name("plain_trainer.py")),
        "--model", model_path, "--train", str(train), "--test", str(test), "--padding", "dynamic",
        "--epochs", "1", "--learning-rate", "5e-5", "--output-dir", str(work / "plain"), "--bf16",
    ]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        return {"name": "plain Trainer (bf16)", "error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "name": "plain Trainer (bf16)", "wall_s": round(time.monotonic() - started, 1),
        "samples_per_s": result.get("train_samples_per_s"), "score": {"accuracy": result.get("accuracy")},
    }


def chat_rows(source: Path, folder: Path, train_rows: int, test_rows: int) -> tuple[Path, Path]:
    """SST-2 rows as prompt/completion JSONL: the review and a question → positive/negative."""
    lines = source.read_text("utf-8").splitlines()[1:]
    rows = []
    for line in lines[: train_rows + test_rows]:
        text, _, label = line.rpartition("\t")
        answer = "positive" if label.strip() == "1" else "negative"
        rows.append({"prompt": f"Review: {text.strip()}\nIs this review positive or negative? Answer with one word.", "completion": answer})
    folder.mkdir(parents=True, exist_ok=True)
    train, test = folder / "chat_train.jsonl", folder / "chat_test.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in rows[:train_rows]), "utf-8")
    test.write_text("".join(json.dumps(r) + "\n" for r in rows[train_rows:]), "utf-8")
    return train, test


def fmt_bytes(value: float | None) -> str:
    return "—" if not value else f"{value / 2**30:.2f} GiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000, help="SST-2 training rows for the encoder runs")
    parser.add_argument("--test-rows", type=int, default=872)
    parser.add_argument("--chat-rows", type=int, default=400)
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="the folder holding sst2/train.tsv")
    parser.add_argument("--compile", action="store_true", help="also a full bf16 run with torch.compile")
    args = parser.parse_args()
    if not cuda_available():
        print("gpu_check: this benchmark needs a CUDA GPU (torch.cuda.is_available() is False); nothing to do here.")
        return 0
    if not (args.data / "sst2" / "train.tsv").is_file():
        print(f"gpu_check: no SST-2 data at {args.data}/sst2/train.tsv; pass --data FOLDER")
        return 2

    import torch

    print(f"GPU: {torch.cuda.get_device_name()} · torch {torch.__version__} · bf16 {torch.cuda.is_bf16_supported()}")
    encoder = BERT_BASE if hub_reachable(BERT_BASE) else MINILM
    work = Path(tempfile.mkdtemp(prefix="tlwb-gpu-"))
    os.environ.setdefault("TLWB_CACHE_DIR", str(work / "cache"))
    train, test = sst2_slices(work / "data", args.rows, args.test_rows)
    common = [
        f"model.name={encoder}", f"data.train={train}", f"data.validation={test}", "training.epochs=1",
        "training.batch_size=32", "training.learning_rate=5e-5", "training.max_length=128", "training.seed=42",
        "training.eval_strategy=no", "training.logging_steps=10",
    ]
    plans = [
        ("full fp32", [*common, "method.kind=full", "training.precision=fp32"]),
        ("full bf16", [*common, "method.kind=full", "training.precision=bf16"]),
        ("lora bf16", [*common, "method.kind=lora", "training.learning_rate=5e-4", "training.precision=bf16"]),
    ]
    if args.compile:
        plans.append(("full bf16 compile", [*common, "method.kind=full", "training.precision=bf16", "training.torch_compile=true"]))
    results = [tlwb_run(name, overrides, work / name.replace(" ", "-"), test) for name, overrides in plans]
    model_path = encoder
    if encoder == MINILM:
        from workbench.packaged import packaged_model_path

        model_path = str(packaged_model_path(MINILM))
    results.append(plain_run(model_path, train, test, work))

    chat_train, chat_test = chat_rows(args.data / "sst2" / "train.tsv", work / "chat", args.chat_rows, 200)
    results.append(tlwb_run("causal-LM lora bf16", [
        "task=text-generation", f"model.name={SMOLLM}", f"data.train={chat_train}", f"data.validation={chat_test}",
        "method.kind=lora", "training.epochs=1", "training.batch_size=16", "training.learning_rate=2e-4",
        "training.max_length=256", "training.precision=bf16", "training.eval_strategy=no", "training.seed=42",
    ], work / "causal", chat_test))

    print(f"\n{'run':24s} {'samples/s':>10s} {'tokens/s':>10s} {'peak mem':>10s} {'wall':>7s}  score")
    for r in results:
        if "error" in r:
            print(f"{r['name']:24s} failed: {r['error']}")
            continue
        score = ", ".join(f"{k} {v:.4f}" for k, v in (r.get("score") or {}).items() if isinstance(v, (int, float)))
        print(f"{r['name']:24s} {r.get('samples_per_s') or 0:10.1f} {r.get('tokens_per_s') or 0:10.1f} "
              f"{fmt_bytes(r.get('peak_memory_bytes')):>10s} {r.get('wall_s', 0):6.1f}s  {score}")
    for r in results:
        if r.get("runtime"):
            print(f"  {r['name']}: {json.dumps(r['runtime'], sort_keys=True)}")

    by_name = {r["name"]: r for r in results if "error" not in r}
    fp32, bf16 = by_name.get("full fp32"), by_name.get("full bf16")
    if fp32 and bf16:
        a, b = fp32["score"]["accuracy"], bf16["score"]["accuracy"]
        noise = 2 * math.sqrt(a * (1 - a) / args.test_rows + b * (1 - b) / args.test_rows)
        verdict = "matches" if abs(a - b) <= noise else "DIFFERS FROM"
        print(f"\nbf16 accuracy {b:.4f} {verdict} fp32 {a:.4f} (|Δ| {abs(a - b):.4f}, noise ±{noise:.4f})")
        print(f"bf16 / fp32 speed ×{(bf16['samples_per_s'] or 0) / max(fp32['samples_per_s'] or 1e-9, 1e-9):.2f}")
    plain = by_name.get("plain Trainer (bf16)")
    if plain and bf16 and plain.get("samples_per_s"):
        print(f"tlwb / plain Trainer (bf16) speed ×{bf16['samples_per_s'] / plain['samples_per_s']:.3f}")
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
