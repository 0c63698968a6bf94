"""Causal-LM SFT throughput and quality: tlwb vs a plain TRL `SFTTrainer` script, packing on vs off.

Every side LoRA-tunes the same model (the packaged SmolLM2-135M-Instruct unless `--model`) on the
same SST-2 reviews turned into chat rows (prompt: the review and a question, answer `positive` /
`negative`), with the same LoRA settings, learning rate, batch size, epochs, max length and seed,
and is scored on the same held-out rows by the same code (`TextGeneration.score`: eval loss and
greedy exact match). Sides, alternated within each repeat (the order rotates):

- `tlwb`          `tlwb train` (a training process, as a user runs it), packing off;
- `tlwb-packing`  the same with `training.packing = true` (padding-free, no cross-row attention);
- `trl`           a plain script as TRL's docs write it: `SFTTrainer` on prompt/completion
                  conversations, `completion_only_loss`, the same LoRA config, packing off.

Prints per side the median training samples/s (training rows × epochs / the Trainer's own
`train_runtime`), tokens/s (the rows' real tokens per second of training), eval loss and exact match; then the
tlwb/trl ratio and the packing speed-up. Wall times are noisy on a shared machine.

    python benchmarks/sft_throughput.py --quick        # a few minutes on 2 CPU cores
    python benchmarks/sft_throughput.py --train-rows 400 --heldout-rows 80 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import sst2_chat_rows, train_to_end, write_jsonl  # noqa: E402

SMOLLM2 = "HuggingFaceTB/SmolLM2-135M-Instruct"
ALL_SIDES = ("tlwb", "tlwb-packing", "trl")


def model_folder(name: str) -> str:
    """A folder both sides load the same weights from (the packaged SmolLM2 converted once)."""
    from workbench.config import ModelConfig
    from workbench.models import resolve_model_source

    return resolve_model_source(ModelConfig(name=name))


def run_tlwb(side: str, data: dict[str, Path], work: Path, seed: int, args: argparse.Namespace) -> dict:
    from workbench.inference import load_run_model
    from workbench.presets import load_config

    overrides = [
        "task=text-generation", f"model.name={args.model}", f"data.train={data['train']}", f"data.validation={data['validation']}",
        "method.kind=lora", f"method.r={args.r}", f"method.alpha={args.alpha}", "method.dropout=0",
        f"training.epochs={args.epochs}", f"training.batch_size={args.batch_size}", f"training.learning_rate={args.learning_rate}",
        f"training.max_length={args.max_length}", f"training.seed={seed}", "training.eval_strategy=no",
        "training.warmup_ratio=0", "training.weight_decay=0", f"training.packing={'true' if side == 'tlwb-packing' else 'false'}",
        "generation.max_new_tokens=8",
    ]
    config = load_config(None, overrides, base={"name": f"bench-{side}"})
    run, last, wall = train_to_end(config, work / "runs")
    loaded = load_run_model(run)
    scored = loaded.task.score(loaded.model, loaded.tokenizer, loaded.config, str(data["heldout"]), [], 16).metrics
    return {"samples_per_s": last.train_samples_per_s, "runtime_s": last.train_runtime_s, "wall_s": wall,
            "eval_loss": scored["loss"], "exact_match": scored["exact_match"]}


#: The plain side: TRL as its documentation writes it, in its own process (no tlwb imported).
PLAIN_TRL = r'''
import json, sys
from datasets import load_dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
from trl import SFTConfig, SFTTrainer

a = json.loads(sys.argv[1])
set_seed(a["seed"])
def as_chat(row):
    return {"prompt": [{"role": "user", "content": row["prompt"]}], "completion": [{"role": "assistant", "content": row["completion"]}]}
train = load_dataset("json", data_files=a["train"], split="train").map(as_chat)
tokenizer = AutoTokenizer.from_pretrained(a["model"])
model = AutoModelForCausalLM.from_pretrained(a["model"])
args = SFTConfig(output_dir=a["out"], num_train_epochs=a["epochs"], per_device_train_batch_size=a["batch_size"],
                 learning_rate=a["learning_rate"], max_length=a["max_length"], seed=a["seed"], warmup_steps=0, weight_decay=0.0,
                 eval_strategy="no", save_strategy="no", report_to="none", disable_tqdm=True, logging_steps=10,
                 gradient_checkpointing=False, use_cpu=a["cpu"], dataloader_num_workers=0,
                 bf16=a["bf16"])  # SFTConfig defaults to bf16 autocast, ~10x slower on a CPU without bf16 units
lora = LoraConfig(task_type="CAUSAL_LM", r=a["r"], lora_alpha=a["alpha"], lora_dropout=0.0, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
trainer = SFTTrainer(model=model, args=args, train_dataset=train, processing_class=tokenizer, peft_config=lora)
out = trainer.train()
trainer.model.save_pretrained(a["out"] + "/adapter")
print(json.dumps({"samples_per_s": out.metrics["train_samples_per_second"], "runtime_s": out.metrics["train_runtime"]}))
'''


def run_trl(side: str, data: dict[str, Path], work: Path, seed: int, args: argparse.Namespace) -> dict:
    import torch

    out = work / "trl"
    settings = {"model": args.folder, "train": str(data["train"]), "out": str(out), "epochs": args.epochs, "batch_size": args.batch_size,
                "learning_rate": args.learning_rate, "max_length": args.max_length, "seed": seed, "r": args.r, "alpha": args.alpha,
                "cpu": not torch.cuda.is_available(),
                # the precision tlwb's `training.precision = "auto"` picks: bf16 where the GPU has it, else fp32
                "bf16": torch.cuda.is_available() and torch.cuda.is_bf16_supported()}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PLAIN_TRL, json.dumps(settings)], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the plain TRL script failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {**result, "wall_s": wall, **score_adapter(out / "adapter", data["heldout"], args)}


def score_adapter(adapter: Path, heldout: Path, args: argparse.Namespace) -> dict:
    """The plain side's adapter scored by the same code as tlwb's runs."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from workbench.config import RunConfig
    from workbench.models import load_tokenizer
    from workbench.tasks import get_task

    config = RunConfig.model_validate({"task": "text-generation", "model": {"name": args.model}, "data": {"train": str(heldout)},
                                       "training": {"max_length": args.max_length}, "generation": {"max_new_tokens": 8}})
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(args.folder), str(adapter)).eval()
    tokenizer = load_tokenizer(args.folder, config.model)
    metrics = get_task("text-generation").score(model, tokenizer, config, str(heldout), [], 16).metrics
    return {"eval_loss": metrics["loss"], "exact_match": metrics["exact_match"]}


def tokens_per_row(train: Path, folder: str, max_length: int) -> float:
    """Mean real (non-pad) tokens of a training row through the chat template, capped at max_length."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    counts = []
    for line in train.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        turns = [{"role": "user", "content": row["prompt"]}, {"role": "assistant", "content": row["completion"]}]
        counts.append(min(max_length, len(tokenizer.apply_chat_template(turns, tokenize=True, return_dict=True)["input_ids"])))
    return statistics.mean(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=SMOLLM2)
    parser.add_argument("--sides", default=",".join(ALL_SIDES))
    parser.add_argument("--train-rows", type=int, default=400)
    parser.add_argument("--heldout-rows", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=float, default=1)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--max-length", type=int, default=80)
    parser.add_argument("--r", type=int, default=8)
    parser.add_argument("--alpha", type=float, default=16)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quick", action="store_true", help="96 training rows, 24 held out, one repeat")
    args = parser.parse_args()
    if args.quick:
        args.train_rows, args.heldout_rows, args.repeats = 96, 24, 1
    sides = [s for s in args.sides.split(",") if s]
    unknown = set(sides) - set(ALL_SIDES)
    if unknown:
        print(f"error: unknown sides {', '.join(sorted(unknown))}\nhint: choose from {', '.join(ALL_SIDES)}", file=sys.stderr)
        raise SystemExit(2)
    args.folder = model_folder(args.model)
    results: dict[str, list[dict]] = {side: [] for side in sides}
    with tempfile.TemporaryDirectory(prefix="tlwb-sft-bench-") as scratch:
        work = Path(scratch)
        data = {"train": write_jsonl(work / "train.jsonl", sst2_chat_rows(0, args.train_rows)),
                "validation": write_jsonl(work / "validation.jsonl", sst2_chat_rows(30_000, 8)),
                "heldout": write_jsonl(work / "heldout.jsonl", sst2_chat_rows(20_000, args.heldout_rows))}
        per_row = tokens_per_row(data["train"], args.folder, args.max_length)
        for repeat in range(args.repeats):
            order = sides[repeat % len(sides):] + sides[: repeat % len(sides)]
            for side in order:
                runner = run_trl if side == "trl" else run_tlwb
                result = runner(side, data, work / f"{side}-{repeat}", args.seed, args)
                # Rows per second of training from each side's own train_runtime (packing makes
                # the Trainer's "samples" packed sequences on some TRL versions; rows are rows).
                result["samples_per_s"] = args.train_rows * args.epochs / result["runtime_s"]
                result["tokens_per_s"] = result["samples_per_s"] * per_row
                results[side].append(result)
                print(json.dumps({"side": side, "repeat": repeat, **result}), flush=True)
    report(results, args, per_row)


def report(results: dict[str, list[dict]], args: argparse.Namespace, per_row: float) -> None:
    def med(side: str, key: str) -> float:
        return statistics.median(r[key] for r in results[side])

    print(f"\n{args.model} · LoRA r={args.r} · {args.train_rows} train rows ({per_row:.1f} tokens each) · "
          f"{args.heldout_rows} held out · {args.repeats} repeat(s), medians")
    print(f"{'side':<14}{'samples/s':>11}{'tokens/s':>10}{'eval loss':>11}{'exact match':>13}")
    for side in results:
        print(f"{side:<14}{med(side, 'samples_per_s'):>11.2f}{med(side, 'tokens_per_s'):>10.0f}{med(side, 'eval_loss'):>11.4f}{med(side, 'exact_match'):>13.3f}")
    if "tlwb" in results and "trl" in results:
        print(f"tlwb / trl samples/s: {med('tlwb', 'samples_per_s') / med('trl', 'samples_per_s'):.3f}")
    if "tlwb" in results and "tlwb-packing" in results:
        print(f"packing speed-up (tlwb-packing / tlwb samples/s): {med('tlwb-packing', 'samples_per_s') / med('tlwb', 'samples_per_s'):.3f}")


if __name__ == "__main__":
    main()
