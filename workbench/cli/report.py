"""Rich tables for the CLI: runs, metrics, predictions."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from .. import humanize
from ..runstore import RunSummary

STATE_STYLES = {"running": "cyan", "starting": "cyan", "finished": "green", "failed": "red", "cancelled": "yellow"}


def runs_table(summaries: list[RunSummary], title: str = "") -> Table:
    """One row per run. The run id (it starts with the date and time) and the state are never
    cut; the task column appears only when runs of several tasks are listed, to fit 80 columns."""
    table = Table(title=title, title_justify="left", header_style="bold", box=None, pad_edge=False, padding=(0, 1), collapse_padding=True)
    show_task = len({s.task for s in summaries}) > 1
    table.add_column("run", no_wrap=True, min_width=max((len(s.id) for s in summaries), default=10))
    table.add_column("state", no_wrap=True, min_width=9)
    if show_task:
        table.add_column("task", no_wrap=True, min_width=3)
    table.add_column("model", max_width=11, overflow="ellipsis", no_wrap=True)
    table.add_column("data", max_width=9, overflow="ellipsis", no_wrap=True)
    table.add_column("method", no_wrap=True, min_width=6)
    table.add_column("best", justify="right", no_wrap=True, min_width=5)
    table.add_column("time", justify="right", no_wrap=True, min_width=6)
    for s in summaries:
        style = STATE_STYLES.get(s.state, "")
        task = ["ner" if s.task == "token-classification" else "cls"] if show_task else []
        best = f"{s.best_value:.3f}" if s.best_value is not None else "—"
        table.add_row(
            s.id, f"[{style}]{s.state}[/]", *task, humanize.short_model(s.model), humanize.short_data(s.data),
            s.method, best, humanize.duration(s.duration_s),
        )
    return table


def metrics_tables(metrics: dict[str, Any], per_class: dict[str, dict[str, float]], confusion: list[list[int]], labels: list[str]) -> list[Table]:
    overall = Table(title="metrics", title_justify="left", box=None, header_style="bold")
    overall.add_column("metric")
    overall.add_column("value", justify="right")
    for key, value in metrics.items():
        overall.add_row(key, humanize.number(value, 4))
    classes = Table(title="per class", title_justify="left", box=None, header_style="bold")
    for column in ("label", "precision", "recall", "f1", "support"):
        classes.add_column(column, justify="left" if column == "label" else "right")
    for label, scores in per_class.items():
        classes.add_row(label, *(humanize.number(scores[k], 3) for k in ("precision", "recall", "f1")), f"{int(scores['support']):,}")
    tables = [overall, classes]
    if confusion:
        grid = Table(title="confusion (rows: gold, columns: predicted)", title_justify="left", box=None, header_style="bold")
        grid.add_column("gold \\ pred")
        for label in labels:
            grid.add_column(label, justify="right")
        for label, row in zip(labels, confusion):
            grid.add_row(label, *(f"[bold]{v:,}[/]" if i == j else f"{v:,}" for j, v in enumerate(row) for i in [labels.index(label)]))
        tables.append(grid)
    return tables


def prediction_table(results: list[dict[str, Any]]) -> Table:
    table = Table(box=None, header_style="bold")
    if results and "entities" in results[0]:
        for column in ("text", "entity", "type", "confidence"):
            table.add_column(column, justify="right" if column == "confidence" else "left")
        for result in results:
            if not result["entities"]:
                table.add_row(result["text"], "—", "", "")
            for i, entity in enumerate(result["entities"]):
                table.add_row(result["text"] if i == 0 else "", entity["text"], entity["type"], f"{entity['confidence']:.3f}")
        return table
    for column in ("label", "confidence", "text"):
        table.add_column(column, justify="right" if column == "confidence" else "left")
    for result in results:
        table.add_row(result["label"], f"{result['confidence']:.3f}", result["text"])
    return table


def show_run(console: Console, payload: dict[str, Any]) -> None:
    """`tlwb show RUN`: the payload of `runinfo.run_details` for a person."""
    status = payload["status"]
    style = STATE_STYLES.get(status.get("state", ""), "")
    console.print(f"[bold]{payload['id']}[/]  [{style}]{status.get('state')}[/]  {payload['path']}")
    if status.get("message"):
        console.print(f"  {status['message']}")
        if status.get("hint"):
            console.print(f"  [dim]hint:[/] {status['hint']}")
    config = payload["config"]
    if config:
        console.print(f"model {config['model']['name']} · data {config['data']['train']} · method {config['method']['kind']}")
    else:
        console.print("[red]config.toml is unreadable[/]")
    best = payload.get("best")
    timing = f"trained {humanize.duration(payload.get('training_seconds'))}"
    if payload.get("segments", 0) > 1:
        timing += f" in {payload['segments']} segments"
    console.print(timing + (f" · best {best['name']} {humanize.number(best['value'], 4)} @ step {best.get('step')}" if best else ""))
    for evaluation in payload["evals"]:
        shown = "  ".join(f"{k} {v:.4f}" for k, v in evaluation["metrics"].items() if isinstance(v, float))
        console.print(f"  eval {evaluation.get('split', 'validation')} step {evaluation['step']}: {shown}")
    if payload.get("model_dir"):
        console.print(f"model: {payload['model_dir']}")
