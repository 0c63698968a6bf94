"""How long does listing runs take with many runs? (`tlwb runs` and the Runs screen's scan)

Creates N synthetic run directories in the real format (config.toml, status.json, .lock, and an
events.jsonl of a realistic run: a few hundred logged steps, several evaluations with their
confusion matrices and 64 kept samples each, a terminal event), then times:

- the core listing call (`[summarize(run) for run in list_runs(dir)]`, what the Runs screen does
  on each scan) in a fresh process, so no in-process cache helps;
- `tlwb runs` end to end (interpreter start and imports included).

Each first with no `summary.json` anywhere ("rebuild": every run's events are folded once and the
summary written, the cost of the first listing after an upgrade), then again ("steady": summaries
current, as the training process leaves them). Targets (steady): 1,000 runs < 1 s, 10,000 < 5 s.

    .venv/bin/python benchmarks/runs_listing.py                  # 1,000 runs
    .venv/bin/python benchmarks/runs_listing.py --runs 1000 10000
    .venv/bin/python benchmarks/runs_listing.py --runs 50 --quick   # checks it works

Every run's events.jsonl is a hard link to one of a few templates (identical content costs the
same to read and keeps 10,000 runs small on disk).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import REPO  # noqa: E402

STEPS = 300
LOG_EVERY = 1  # one step event per step: "a few hundred steps"
EVALS = 6
SAMPLES = 64
VARIANTS = ("finished", "failed", "cancelled", "finished-resumed")


def write_template(folder: Path, variant: str, seed: int) -> Path:
    """One realistic events.jsonl, written through the real EventWriter (validated events)."""
    import random

    from workbench.events import EventWriter

    rng = random.Random(seed)
    path = folder / f"events-{variant}.jsonl"
    writer = EventWriter(path)
    t0 = 1_796_000_000.0 + seed * 1000
    labels = ["negative", "positive"]

    def started(at: float, resumed: bool) -> None:
        writer.emit("started", time=at, device="cpu", precision="fp32", model="sentence-transformers/all-MiniLM-L6-v2",
                    model_source="/models/minilm", architecture="BertModel", method="lora", params_total=22_713_000,
                    params_trainable=148_000, train_size=3600, validation_size=400, test_size=0, validation_from_train=True,
                    labels=labels, label_counts={"negative": 1700, "positive": 1900}, columns={"text": "sentence", "label": "label"},
                    total_steps=STEPS, effective_batch_size=32, resumed=resumed, task="text-classification",
                    main_metric="accuracy", greater_is_better=True)

    started(t0, False)
    loss = 0.69
    cut = STEPS // 2 if variant in ("cancelled", "finished-resumed") else STEPS // 3 if variant == "failed" else STEPS
    for step in range(1, STEPS + 1, LOG_EVERY):
        if step > cut and variant == "finished-resumed" and step == cut + 1:
            writer.emit("cancelled", time=t0 + step, step=step - 1, checkpoint=f"/runs/x/checkpoints/checkpoint-{step - 1}")
            started(t0 + step + 60, True)
        if step > cut and variant != "finished-resumed":
            break
        loss = max(0.05, loss * 0.995 + rng.uniform(-0.01, 0.01))
        at = t0 + step + (60 if variant == "finished-resumed" and step > cut else 0)
        writer.emit("step", time=at, step=step, total_steps=STEPS, epoch=round(step / STEPS, 4), loss=round(loss, 6),
                    learning_rate=5e-4 * (1 - step / STEPS), grad_norm=1.0, samples_per_s=48.2, eta_s=STEPS - step,
                    elapsed_s=float(step), memory_bytes=1_500_000_000, memory_kind="rss")
        if step % (STEPS // EVALS) == 0:
            accuracy = 0.6 + 0.3 * step / STEPS
            writer.emit("eval", time=at, split="validation", step=step, epoch=round(step / STEPS, 4),
                        metrics={"accuracy": round(accuracy, 4), "macro_f1": round(accuracy - 0.01, 4), "n": 400, "loss": round(loss, 4)},
                        per_class={name: {"precision": 0.8, "recall": 0.8, "f1": 0.8, "support": 200} for name in labels},
                        confusion_matrix=[[160, 40], [40, 160]], labels=labels)
            items = [{"index": i, "text": f"a sample sentence number {i} about a film that was rather good", "gold": labels[i % 2],
                      "pred": labels[(i // 3) % 2], "confidence": round(rng.uniform(0.5, 1.0), 4),
                      "probs": {"negative": 0.5, "positive": 0.5}} for i in range(SAMPLES)]
            writer.emit("samples", time=at, split="validation", step=step, items=items)
            writer.emit("checkpoint", time=at, step=step, path=f"/runs/x/checkpoints/checkpoint-{step}")
    end = t0 + STEPS + 120
    if variant == "failed":
        writer.emit("failed", time=end, kind="oom", message="out of memory", hint="lower training.batch_size")
    elif variant == "cancelled":
        writer.emit("cancelled", time=end, step=cut, checkpoint=None)
    else:
        writer.emit("finished", time=end, metrics={"accuracy": 0.9, "macro_f1": 0.89}, output="/runs/x/adapter",
                    duration_s=float(STEPS), step=STEPS)
    writer.close()
    return path


def make_runs(runs_dir: Path, count: int, templates: dict[str, Path]) -> None:
    """`count` run directories whose events.jsonl are hard links to the templates."""
    from tests.fakes import fake_config
    from workbench.presets import config_to_toml

    runs_dir.mkdir(parents=True, exist_ok=True)
    configs = [config_to_toml(fake_config(name=f"bench-{i}", model={"name": model}))
               for i, model in enumerate(("sentence-transformers/all-MiniLM-L6-v2", "/data/models/sst2-bert/model", "bert-base-uncased"))]
    dead_lock = json.dumps({"pid": 2_000_000_000, "pid_start": 1.0})
    for index in range(count):
        variant = VARIANTS[index % len(VARIANTS)]
        state = "finished" if variant.startswith("finished") else variant
        run = runs_dir / f"2026-11-{1 + index % 28:02d}_{index:06d}_bench-{variant}"
        run.mkdir()
        (run / "config.toml").write_text(configs[index % len(configs)], "utf-8")
        status = {"state": state, "pid": 2_000_000_000, "pid_start": 1.0, "started_at": 1_796_000_000.0, "ended_at": 1_796_000_420.0,
                  "updated_at": 1_796_000_420.0}
        (run / "status.json").write_text(json.dumps(status), "utf-8")
        (run / ".lock").write_text(dead_lock, "utf-8")
        os.link(templates[variant], run / "events.jsonl")


CORE_LISTING = """
import sys, time
t = time.perf_counter()
from workbench.run_summary import summarize
from workbench.runstore import list_runs
summaries = [summarize(run) for run in list_runs(sys.argv[1])]
print(len(summaries), time.perf_counter() - t)
"""


def time_core(runs_dir: Path) -> tuple[int, float, float]:
    """(runs listed, wall seconds, CPU seconds) of the core listing call in a fresh interpreter
    (`workbench.runstore`'s import included in the wall figure; CPU is the whole child's)."""
    before = _children_cpu()
    done = subprocess.run([sys.executable, "-c", CORE_LISTING, str(runs_dir)], capture_output=True, text=True, cwd=REPO, check=True)
    listed, seconds = done.stdout.split()
    return int(listed), float(seconds), _children_cpu() - before


def _children_cpu() -> float:
    """User + system CPU seconds of this process's finished children: on a shared, loaded
    machine a steadier figure than wall time."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_cli(runs_dir: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of `tlwb runs --runs-dir DIR` (output to a pipe), start-up included."""
    before = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "workbench.cli", "runs", "--runs-dir", str(runs_dir)],
                          capture_output=True, text=True, cwd=REPO, env={**os.environ, "COLUMNS": "160"})
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"tlwb runs failed: {done.stderr}")
    return seconds, _children_cpu() - before


def leave_summaries(runs_dir: Path) -> None:
    """Every run's summary.json as its training process leaves it at the end: built once per
    kind of run (same events, same config) and stamped with each run's own files."""
    from workbench.run_summary import SUMMARY_FILE, _file_stamp, build_summary
    from workbench.runstore import RunDir

    built: dict[tuple[str, str], dict] = {}
    for path in sorted(runs_dir.iterdir()):
        run = RunDir(path)
        key = (path.name.rsplit("_", 1)[-1], run.config_path.read_text("utf-8"))
        if key not in built:
            built[key] = build_summary(run)
        summary = {**built[key], "stamps": {"events": _file_stamp(run.events_path), "config": _file_stamp(run.config_path)}}
        (path / SUMMARY_FILE).write_text(json.dumps(summary, separators=(",", ":")), "utf-8")


def remove_summaries(runs_dir: Path) -> None:
    for path in runs_dir.glob("*/summary.json"):
        path.unlink()


def bench(count: int, work: Path, templates: dict[str, Path], rebuild: bool) -> dict[str, tuple[float, float]]:
    """{figure: (wall, CPU) seconds}."""
    runs_dir = work / f"runs-{count}"
    make_runs(runs_dir, count, templates)
    figures: dict[str, tuple[float, float]] = {}
    if rebuild:
        figures["core rebuild"] = time_core(runs_dir)[1:]
        remove_summaries(runs_dir)
        figures["tlwb runs rebuild"] = time_cli(runs_dir)
    else:
        leave_summaries(runs_dir)
    listed, *figures["core steady"] = time_core(runs_dir)
    assert listed == count, (listed, count)
    figures["tlwb runs steady"] = time_cli(runs_dir)
    shutil.rmtree(runs_dir)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[1000], help="numbers of runs to list (default 1000)")
    parser.add_argument("--rebuild-up-to", type=int, default=1000,
                        help="also time the first listing (no summary.json) for N up to this (default 1000)")
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the script works")
    args = parser.parse_args()
    counts = [50] if args.quick else args.runs
    with tempfile.TemporaryDirectory(prefix="tlwb-runs-listing-") as tmp:
        work = Path(tmp)
        templates = {variant: write_template(work, variant, seed) for seed, variant in enumerate(VARIANTS)}
        size = sum(path.stat().st_size for path in templates.values()) / len(templates)
        print(f"events.jsonl per run: {size / 1024:.0f} KiB ({STEPS} steps, {EVALS} evaluations with {SAMPLES} samples each)")
        print("seconds: wall (CPU)")
        print(f"{'runs':>7}  {'core steady':>16}  {'tlwb runs steady':>16}  {'core rebuild':>16}  {'tlwb runs rebuild':>17}")
        for count in counts:
            figures = bench(count, work, templates, rebuild=count <= args.rebuild_up_to)

            def shown(key: str) -> str:
                return f"{figures[key][0]:.2f} ({figures[key][1]:.2f})" if key in figures else "—"

            print(f"{count:>7,}  {shown('core steady'):>16}  {shown('tlwb runs steady'):>16}  {shown('core rebuild'):>16}  {shown('tlwb runs rebuild'):>17}",
                  flush=True)


if __name__ == "__main__":
    main()
