"""The tail of a run's story: steps, evaluations, warnings, checkpoints and how it ended.

A failed run ends with its one-line message and hint in red, with the word "failed" (colour
never carries meaning alone).
"""

from __future__ import annotations

from collections import deque
from pathlib import PurePath
from typing import Any

from rich.text import Text
from textual.widgets import RichLog

from workbench import humanize


def _metrics(metrics: dict[str, Any]) -> str:
    return "  ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float))


def describe(event: dict[str, Any], training_s: float | None = None) -> list[Text]:
    """The log lines for one event (none for events the log doesn't show). `training_s`, for a
    `finished` event, is the run's whole training time (every segment of a resumed run: the one
    duration every screen shows); without it, the event's own."""
    kind = event.get("type")
    if kind == "step":
        speed = f"  {event['samples_per_s']:.1f}/s" if event.get("samples_per_s") else ""
        return [Text(f"step {event.get('step', 0):>5}  loss {event.get('loss', float('nan')):.4f}"
                     f"  lr {humanize.learning_rate(event.get('learning_rate'))}{speed}")]
    if kind == "eval":
        return [Text(f"eval {event.get('split', 'validation')} step {event.get('step')}  {_metrics(event.get('metrics', {}))}", style="cyan")]
    if kind == "log":
        return [Text(str(event.get("message", "")), style="yellow" if event.get("level") == "warning" else "dim")]
    if kind == "checkpoint":
        return [Text(f"checkpoint saved at step {event.get('step')}", style="dim")]
    if kind == "started":
        trainable, total = event.get("params_trainable") or 0, event.get("params_total") or 0
        share = f" ({100 * trainable / total:.2f}%)" if total else ""
        return [
            Text(f"{event.get('architecture', 'model')} · {event.get('method', '?')} · trainable {humanize.count(trainable)}"
                 f" of {humanize.count(total)}{share} · {event.get('device', '?')}{' · resumed' if event.get('resumed') else ''}"),
            Text(f"data: train {event.get('train_size', 0):,} · validation {event.get('validation_size', 0):,}"
                 f" · {len(event.get('labels', []))} labels", style="dim"),
        ]
    if kind == "finished":
        duration = training_s if training_s is not None else event.get("duration_s")
        return [Text(f"finished in {humanize.duration(duration)}  {_metrics(event.get('metrics', {}))}", style="bold green")]
    if kind == "failed":
        lines = [Text(f"✗ failed ({event.get('kind', 'error')}): {event.get('message', '')}", style="bold red")]
        if event.get("hint"):
            lines.append(Text(f"  hint: {event['hint']}", style="red"))
        return lines
    if kind == "cancelled":
        if not event.get("checkpoint"):
            return [Text(f"cancelled at step {event.get('step')}; no checkpoint was saved", style="yellow")]
        checkpoint = PurePath(event["checkpoint"]).name
        return [Text(f"cancelled at step {event.get('step')}; {checkpoint} saved, `tlwb resume` continues it", style="yellow")]
    return []


class RunLog(RichLog):
    """A bounded, auto-scrolling log of a run's events."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(max_lines=500, wrap=False, markup=False, highlight=False, auto_scroll=True, id=id)
        self.border_title = "log"
        self.lines_written: deque[str] = deque(maxlen=500)  # plain text of the lines shown

    def add(self, event: dict[str, Any], training_s: float | None = None) -> None:
        for line in describe(event, training_s):
            self.lines_written.append(line.plain)
            self.write(line)
