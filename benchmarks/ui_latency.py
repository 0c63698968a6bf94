"""How responsive is the TUI while it follows a real training run, and does it slow training down?

Trains the packaged all-MiniLM-L6-v2 (LoRA) on the first rows of SST-2 twice:
1. headless: `tlwb train CONFIG` in a subprocess, as a user would in a terminal;
2. attached: the same config started from the app (`app.start_run`, headless Textual
   `run_test` at 80x24), while this script presses the screen keys in turn (ctrl+n Setup,
   ctrl+g Train, ctrl+e Results, ctrl+r Runs) every `--interval` seconds and a probe measures
   the event loop's lag; near the end it presses ctrl+q and answers the quit question (leave
   the run going), timing key → app ended.
3. quit from a fresh Setup: `tlwb`'s own `run_app` in a subprocess, ctrl+q pressed while Setup
   inspects the model and the data (the worst case: threads busy importing transformers),
   timing key → process gone (the terminal is back) and checking nothing printed after it.

Reports key→frame latency per key (key sent → the new screen current and painted), p50/p95,
the first press of each key apart (it builds the screen), event-loop lag, and training
throughput (median samples/s over the run's step events; the Trainer's own figure beside it)
for both, with ratios. Targets: p95 reaction < 100 ms; quit < 1 s; throughput attached >= 97 %
of headless.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/ui_latency.py            # full: 4,000 rows, 1 epoch
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/ui_latency.py --quick    # 320 rows: checks it works
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import cycle
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from screens.app import WorkbenchApp  # noqa: E402
from screens.dialogs import QuitDialog  # noqa: E402
from screens.results import ResultsScreen  # noqa: E402
from screens.runs import RunsScreen  # noqa: E402
from screens.setup import SetupScreen  # noqa: E402
from screens.train import TrainScreen  # noqa: E402
from workbench import runner  # noqa: E402
from workbench.config import RunConfig  # noqa: E402
from workbench.presets import config_to_toml, load_config  # noqa: E402
from workbench.runstore import RunDir, list_runs  # noqa: E402

SST2 = REPO.parent / "shared" / "data" / "sst2" / "train.tsv"


def benchmark_config(rows: int, epochs: float) -> RunConfig:
    return load_config(None, [
        "model.name=sentence-transformers/all-MiniLM-L6-v2", f"data.train={SST2}", f"data.max_train_samples={rows}",
        "method.kind=lora", f"training.epochs={epochs}", "training.batch_size=32", "training.max_length=64",
        "training.logging_steps=2", "training.eval_strategy=no",
    ], base={"name": "ui-latency"})


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def throughput(run: RunDir) -> dict[str, float]:
    """Median samples/s over step events (the first window, warming up, left out) and the Trainer's."""
    events = run.events()
    speeds = [e["samples_per_s"] for e in events if e.get("type") == "step" and e.get("samples_per_s")][1:]
    finished = next((e for e in events if e.get("type") == "finished"), {})
    if finished == {}:
        raise SystemExit(f"run {run.id} did not finish: {events[-1] if events else 'no events'}\n{run.log_path}")
    return {"steps": statistics.median(speeds) if speeds else float("nan"),
            "trainer": finished.get("train_samples_per_s") or float("nan")}


def headless(config: RunConfig, runs_dir: Path) -> dict[str, float]:
    preset = runs_dir.parent / "ui-latency.toml"
    preset.write_text(config_to_toml(config))
    before = set(list_runs(runs_dir))
    subprocess.run([sys.executable, "-m", "workbench.cli", "train", str(preset), "--runs-dir", str(runs_dir)],
                   check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    (run,) = set(list_runs(runs_dir)) - before
    return throughput(run)


async def probe_lag(lags: list[float], stop: asyncio.Event, period: float = 0.02) -> None:
    """How late the event loop wakes a sleeper: the delay every handler on it would see."""
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(period)
        lags.append(time.perf_counter() - start - period)


async def react(app: WorkbenchApp, key: str, target: type) -> float:
    """Seconds from a key event reaching the app to `target` being current and painted.

    (Not `pilot.press`: it also waits for the whole process, training threads included, to go
    idle, which measures the machine rather than the app.)
    """
    from textual import events

    start = time.perf_counter()
    app._driver.send_message(events.Key(key, None))
    while not isinstance(app.screen, target):
        await asyncio.sleep(0.001)
    painted = asyncio.get_running_loop().create_future()
    app.screen.call_after_refresh(painted.set_result, None)
    await painted
    return time.perf_counter() - start


#: The screen keys in the order pressed, each with the screen it shows.
SCREEN_KEYS = [("ctrl+n", SetupScreen), ("ctrl+g", TrainScreen), ("ctrl+e", ResultsScreen), ("ctrl+r", RunsScreen)]


async def quit_going(app: WorkbenchApp) -> float:
    """Seconds from ctrl+q to the app ended, answering its question at once (leave it running)."""
    from textual import events

    start = time.perf_counter()
    app._driver.send_message(events.Key("ctrl+q", None))
    while app.is_running and not isinstance(app.screen, QuitDialog):
        await asyncio.sleep(0.001)
    if app.is_running:
        app._driver.send_message(events.Key("enter", None))
    while app.is_running:
        await asyncio.sleep(0.001)
    return time.perf_counter() - start


async def attached(config: RunConfig, runs_dir: Path, interval: float) -> dict[str, object]:
    reactions: dict[str, list[float]] = {key: [] for key, _ in SCREEN_KEYS}
    first: dict[str, float] = {}
    lags: list[float] = []
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        while app.current_slot() is None:  # Runs, or Setup when the runs folder is empty (--keys-only)
            await pilot.pause(0.05)
        app.start_run(config)
        while not isinstance(app.screen, TrainScreen):
            await pilot.pause(0.05)
        watcher = app.watch_run(app.screen.run)
        while watcher.started is None:  # training proper, not model loading
            await pilot.pause(0.05)
        stop = asyncio.Event()
        probe = asyncio.create_task(probe_lag(lags, stop))
        for key, target in cycle(SCREEN_KEYS):
            if watcher.ended is not None or _near_end(watcher):
                break
            seconds = await react(app, key, target)
            if key in first:
                reactions[key].append(seconds)
            else:
                first[key] = seconds  # the first press builds the screen
            await asyncio.sleep(interval)
        stop.set()
        await probe
        run = watcher.run
        quit_s = await quit_going(app) if watcher.ended is None else float("nan")
    runner.wait(run)  # left running: let it finish for the throughput figures
    return {"reactions": reactions, "first": first, "quit": quit_s, "lags": lags, **throughput(run)}


def _near_end(watcher) -> bool:
    """Keep the last tenth of the run for the quit measurement (the run is still going)."""
    step = watcher.latest_step
    return bool(step and step.total_steps and step.step >= 0.9 * step.total_steps)


QUIT_FROM_SETUP = r"""
import sys, time
from pathlib import Path
from screens.app import run_app
from screens.setup import SetupScreen

async def quit_while_inspecting(pilot):
    while not (isinstance(pilot.app.screen, SetupScreen) and pilot.app.screen.is_mounted):
        await pilot.pause(0.01)
    await pilot.pause(0.5)  # the previews' threads are importing transformers and datasets now
    print(f"QUIT {time.monotonic()}", flush=True)
    await pilot.press("ctrl+q")

run_app(Path(sys.argv[1]), headless=True, auto_pilot=quit_while_inspecting)
"""


def quit_from_setup(runs_dir: Path) -> tuple[float, str]:
    """(seconds from ctrl+q to the process gone, whatever it wrote after ctrl+q)."""
    empty = runs_dir.parent / "no-runs"
    empty.mkdir(exist_ok=True)
    done = subprocess.run([sys.executable, "-c", QUIT_FROM_SETUP, str(empty)], capture_output=True, text=True,
                          cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=300)
    ended = time.monotonic()
    quit_at = next(float(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("QUIT "))
    after = done.stdout.split("\n", 1)[1] if "\n" in done.stdout else ""
    return ended - quit_at, (after + done.stderr).strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="320 rows: a check that the benchmark works")
    parser.add_argument("--rows", type=int, default=4000, help="SST-2 training rows (default 4,000)")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between key presses")
    parser.add_argument("--keys-only", action="store_true",
                        help="skip the headless run: key latencies and quit only, no throughput ratio")
    args = parser.parse_args()
    rows = 320 if args.quick else args.rows
    config = benchmark_config(rows, args.epochs)
    with tempfile.TemporaryDirectory(prefix="tlwb-ui-latency-") as folder:
        runs_dir = Path(folder) / "runs"
        runs_dir.mkdir()
        print(f"MiniLM LoRA on {rows:,} SST-2 rows, {args.epochs:g} epoch(s), batch 32, max length 64")
        base = {"steps": float("nan"), "trainer": float("nan")}
        if not args.keys_only:
            print("headless `tlwb train`…", flush=True)
            base = headless(config, runs_dir)
        print("attached to the TUI, switching screens every "
              f"{args.interval:g}s…", flush=True)
        ui = asyncio.run(attached(config, runs_dir, args.interval))
        print("quit from a fresh Setup (subprocess)…", flush=True)
        setup_quit_s, printed_after = quit_from_setup(runs_dir)
    reactions = [1000 * r for keys in ui["reactions"].values() for r in keys]
    lags = [1000 * lag for lag in ui["lags"]]
    print()
    print(f"{'key → frame (ms)':28}{'first':>10}{'p50':>10}{'p95':>10}{'max':>10}{'n':>7}")
    for key, _ in SCREEN_KEYS:
        times = [1000 * r for r in ui["reactions"][key]]
        print(f"{key:28}{1000 * ui['first'].get(key, float('nan')):>10.1f}{percentile(times, 50):>10.1f}"
              f"{percentile(times, 95):>10.1f}{max(times, default=float('nan')):>10.1f}{len(times):>7}")
    print(f"{'all switches after the first':28}{'':>10}{percentile(reactions, 50):>10.1f}{percentile(reactions, 95):>10.1f}"
          f"{max(reactions, default=float('nan')):>10.1f}{len(reactions):>7}")
    print(f"{'ctrl+q, run going → ended':28}{1000 * ui['quit']:>10.1f}")
    print(f"{'ctrl+q, fresh Setup → exit':28}{1000 * setup_quit_s:>10.1f}   (process gone; printed after: "
          f"{printed_after[:60]!r})")
    print(f"{'event-loop lag (ms)':28}{'':>10}{percentile(lags, 50):>10.1f}{percentile(lags, 95):>10.1f}"
          f"{max(lags, default=float('nan')):>10.1f}{len(lags):>7}")
    print()
    print(f"{'samples/s':28}{'headless':>10}{'attached':>10}{'ratio':>10}")
    for label, key in (("median over step events", "steps"), ("Trainer's own figure", "trainer")):
        print(f"{label:28}{base[key]:>10.1f}{ui[key]:>10.1f}{ui[key] / base[key]:>10.1%}")
    p95 = percentile(reactions, 95)
    ratio = ui["steps"] / base["steps"]
    print()
    print(f"p95 reaction {p95:.0f} ms (target < 100): {'ok' if p95 < 100 else 'MISSED'}; "
          f"throughput attached/headless {ratio:.1%} (target >= 97%): {'ok' if ratio >= 0.97 else 'MISSED'}")


if __name__ == "__main__":
    main()
