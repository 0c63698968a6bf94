"""Console rendering of a run's events for `tlwb train` and `tlwb attach`.

On a terminal: a live progress bar with loss, ETA and throughput. Otherwise (CI, pipes, `nohup`):
one plain line per log step, so logs stay readable.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from .. import humanize

#: Generations printed before and after training for a text-generation run.
SHOWN_GENERATIONS = 3


class ConsoleProgress:
    def __init__(self, console: Console, *, quiet: bool = False, run: Any = None) -> None:
        """`run` (a RunDir): the end line then gives the run's whole training time (every segment
        of a resumed run, `RunHistory.training_seconds`), as Runs and Results do."""
        self.console = console
        self.run = run
        self.quiet = quiet
        self.live = console.is_terminal and not quiet
        self._progress: Progress | None = None
        self._task: Any = None
        self._before: list[dict[str, Any]] | None = None  # generations at step 0 (text generation)
        self._latest: list[dict[str, Any]] | None = None

    def handle(self, event: dict[str, Any]) -> None:
        if self.quiet:
            return
        kind = event["type"]
        handler = getattr(self, f"_on_{kind}", None)
        if handler:
            handler(event)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def _print(self, text: str) -> None:
        (self._progress.console if self._progress else self.console).print(text)

    def _on_log(self, event: dict[str, Any]) -> None:
        style = "yellow" if event.get("level") == "warning" else "dim"
        self._print(f"[{style}]{event['message']}[/]")

    def _on_started(self, event: Any) -> None:
        resumed = " (resumed)" if event.get("resumed") else ""
        trainable, total = event.get("params_trainable") or 0, event.get("params_total") or 0  # optional in older runs
        labels = event.get("labels") or []
        self._print(
            f"{event.get('architecture', '?')} · {event.get('method', '?')} · trainable {humanize.count(trainable)}"
            f" of {humanize.count(total)} ({100 * trainable / max(total, 1):.2f}%)"
            f" · {event.get('device', '?')} {event.get('precision', '')}{resumed}"
        )
        if labels:
            kinds = f" · labels {', '.join(labels[:8])}{'…' if len(labels) > 8 else ''}"
        else:  # text generation: no labels, a chat format instead
            kinds = f" · format {event['data_format']}" if event.get("data_format") else ""
        self._print(f"data: train {event.get('train_size', 0):,} · validation {event.get('validation_size', 0):,}{kinds}")
        if self.live:
            self._progress = Progress(
                TextColumn("[bold]epoch {task.fields[epoch]}"),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                TimeRemainingColumn(),
                TextColumn("loss {task.fields[loss]} · {task.fields[speed]}"),
                console=self.console,
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task("train", total=event["total_steps"], epoch="0.00", loss="—", speed="")

    def _on_step(self, event: dict[str, Any]) -> None:
        speed = f"{event['samples_per_s']:.1f} samples/s" if event.get("samples_per_s") else ""
        if self._progress is not None:
            self._progress.update(
                self._task, completed=event["step"], total=event["total_steps"],
                epoch=f"{event.get('epoch', 0.0):.2f}", loss=_loss(event), speed=speed,
            )
        else:
            self._print(
                f"step {event['step']}/{event.get('total_steps', '?')}  epoch {event.get('epoch', 0.0):.2f}  loss {_loss(event)}"
                f"  lr {humanize.learning_rate(event.get('learning_rate'))}  {speed}  ETA {humanize.duration(event.get('eta_s'))}"
            )

    def _on_eval(self, event: dict[str, Any]) -> None:
        metrics = event["metrics"]
        shown = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float))
        self._print(f"[cyan]eval[/] {event.get('split', 'validation')} step {event['step']}  {shown}")

    def _on_samples(self, event: dict[str, Any]) -> None:
        """Generations: the ones made before training (step 0) are printed at once; later ones
        are kept, and the same rows' latest generations are printed when the run ends."""
        items = [item for item in event.get("items") or [] if "generated" in item]
        if not items or event.get("split", "validation") != "validation":
            return
        if event.get("step") == 0 and self._before is None:
            self._before = items
            self._print_generations("before training", items[:SHOWN_GENERATIONS])
        else:
            self._latest = items

    def _print_generations(self, title: str, items: list[dict[str, Any]]) -> None:
        self._print(f"[bold]generations {title}[/]")
        for item in items:
            mark = {True: " [green]✓[/]", False: " [red]✗[/]"}.get(item.get("match"), "")
            self._print(f"  [dim]prompt[/]    {_one_line(item.get('prompt', ''))}")
            self._print(f"  [dim]reference[/] {_one_line(item.get('reference', ''))}")
            self._print(f"  [dim]generated[/] {_one_line(item.get('generated', ''))}{mark}")

    def _generations_after(self) -> None:
        if not self._latest:
            return
        wanted = [item.get("index") for item in (self._before or [])[:SHOWN_GENERATIONS]]
        by_index = {item.get("index"): item for item in self._latest}
        after = [by_index[i] for i in wanted if i in by_index] or self._latest[:SHOWN_GENERATIONS]
        self._print_generations("after training", after)

    def _on_checkpoint(self, event: dict[str, Any]) -> None:
        self._print(f"[dim]checkpoint saved at step {event['step']}[/]")

    def _on_finished(self, event: dict[str, Any]) -> None:
        self.close()
        self._generations_after()
        metrics = event.get("metrics", {})
        shown = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float))
        seconds = self.run.history().training_seconds() if self.run is not None else None
        seconds = seconds if seconds is not None else event.get("duration_s")
        self._print(f"[bold green]finished[/] in {humanize.duration(seconds)}  {shown}")
        self._print(f"model: {event.get('output')}")

    def _on_failed(self, event: dict[str, Any]) -> None:
        self.close()
        self._print(f"[bold red]failed[/] ({event.get('kind')}): {event.get('message')}")
        if event.get("hint"):
            self._print(f"  [dim]hint:[/] {event['hint']}")

    def _on_cancelled(self, event: dict[str, Any]) -> None:
        self.close()
        self._print(f"[yellow]cancelled[/] at step {event.get('step')}; checkpoint: {event.get('checkpoint') or 'none'}")


def _one_line(text: Any, width: int = 100) -> str:
    flat = " ".join(str(text).split())
    return escape(flat if len(flat) <= width else flat[: width - 1] + "…")


def _loss(event: Any) -> str:
    loss = event.get("loss")
    return f"{loss:.4f}" if isinstance(loss, (int, float)) else "—"
