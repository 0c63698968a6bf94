"""Rich tables for the CLI: runs, metrics, predictions."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from .. import humanize
from ..runstore import RunSummary

STATE_STYLES = {"running": "cyan", "starting": "cyan", "finished": "green", "failed": "red", "cancelled": "yellow"}


#: Shown after the state of a run that diagnostics flag (see `tlwb show RUN`).
DIAGNOSIS_MARK = "⚠"


def runs_table(summaries: list[RunSummary], title: str = "", width: int = 80) -> Text:
    """The runs list (`runs_lines`) as one rich `Text`."""
    lines = [Text(title)] if title else []
    for cells in runs_lines(summaries, width):
        line = Text(no_wrap=True, overflow="crop")
        for text, style in cells:
            line.append(text, style=style)
        lines.append(line)
    return Text("\n").join(lines)


def write_runs(console: Console, summaries: list[RunSummary], title: str = "") -> None:
    """Print the runs list at the console's width, styled as the console allows (no colour into
    a pipe), straight to its file: ten thousand runs print in a fraction of a second, where rich's
    own layout would take seconds."""
    from rich.color import ColorSystem
    from rich.style import Style

    systems = {"standard": ColorSystem.STANDARD, "256": ColorSystem.EIGHT_BIT, "truecolor": ColorSystem.TRUECOLOR,
               "windows": ColorSystem.WINDOWS}
    system = systems.get(console.color_system or "") if not console.no_color else None
    styles: dict[str, Style] = {}

    def styled(text: str, style: str) -> str:
        if not style or system is None:
            return text
        return styles.setdefault(style, Style.parse(style)).render(text, color_system=system)

    if len(title) > console.width:  # a long runs path keeps its end, where the folder's name is
        title = "…" + title[len(title) - console.width + 1:]
    out = [title] if title else []
    out += ["".join(styled(text, style) for text, style in cells).rstrip() for cells in runs_lines(summaries, console.width)]
    console.file.write("\n".join(out) + "\n")
    console.file.flush()


def runs_lines(summaries: list[RunSummary], width: int = 80) -> list[list[tuple[str, str]]]:
    """The header and one line per run as (text, style) pieces, fitted to `width` columns (the
    terminal's). The run id (it starts with the date and time), state, method, best and time are
    never cut; name, model and data share what is left, cut with … only when it is too little.
    The task column appears only when runs of several tasks are listed."""
    show_task = len({s.task for s in summaries}) > 1
    headers = ["run", "state", *(["task"] if show_task else []), "name", "model", "data", "method", "best", "time"]
    rows = [_run_row(s, show_task) for s in summaries]
    natural = [max([len(h)] + [len(row[i][0]) for row in rows]) for i, h in enumerate(headers)]
    flexible = [headers.index(name) for name in ("name", "model", "data")]
    fixed = sum(w for i, w in enumerate(natural) if i not in flexible) + len(headers) - 1
    shares = share_width(max(0, width - fixed), [natural[i] for i in flexible])
    widths = [shares[flexible.index(i)] if i in flexible else w for i, w in enumerate(natural)]
    right = {headers.index("best"), headers.index("time")}
    return [_line([(h, "bold") for h in headers], widths, right)] + [_line(row, widths, right) for row in rows]


def _line(cells: list[tuple[str, str]], widths: list[int], right: set[int]) -> list[tuple[str, str]]:
    pieces: list[tuple[str, str]] = []
    for i, ((text, style), width) in enumerate(zip(cells, widths)):
        if len(text) > width:
            text = text[: max(0, width - 1)] + "…"
        pieces.append(((" " if i else "") + (text.rjust(width) if i in right else text.ljust(width)), style))
    return pieces


def _run_row(s: RunSummary, show_task: bool) -> list[tuple[str, str]]:
    """(text, style) per column."""
    task = [("ner" if s.task == "token-classification" else "gen" if s.task == "text-generation" else "cls", "")] if show_task else []
    best = f"{s.best_value:.3f}" if s.best_value is not None else "—"
    state = f"{s.state} {DIAGNOSIS_MARK}" if s.diagnostics else s.state
    return [
        (s.id, ""), (state, STATE_STYLES.get(s.state, "")), *task, (s.name or "—", ""), (model_cell(s), ""),
        (humanize.short_data(s.data), ""), (s.method, ""), (best, ""), (humanize.duration(s.duration_s), ""),
    ]


def share_width(available: int, wanted: list[int], minimum: int = 4) -> list[int]:
    """Split `available` columns among columns that want `wanted` widths: each gets what it wants
    when all fit; otherwise the narrow ones keep theirs and the wide ones share the rest evenly
    (never below `minimum`)."""
    if sum(wanted) <= available:
        return list(wanted)
    shares = [min(w, minimum) for w in wanted]
    left = max(0, available - sum(shares))
    hungry = sorted(range(len(wanted)), key=lambda i: wanted[i])
    for position, i in enumerate(hungry):
        even = left // (len(hungry) - position)
        extra = min(wanted[i] - shares[i], even)
        shares[i] += extra
        left -= extra
    return shares


def model_cell(summary: RunSummary) -> str:
    """The recognisable model name (`RunSummary.model_label`), shortened the way the TUI does."""
    return humanize.short_model(summary.model_label or summary.model)


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


def prediction_table(results: list[dict[str, Any]], names: list[str] | None = None, *, header: bool = True) -> Table:
    """Predictions as a table: label, confidence, text; or text, entity, type, confidence for
    entities. `names` (the labels or entity types) fix the columns' widths, so tables of
    successive chunks line up; `header=False` for every chunk after the first."""
    table = Table(box=None, header_style="bold", show_header=header, expand=True)
    name_width = max([5, *(len(name) for name in names or [])])
    if results and "entities" in results[0]:
        table.add_column("text", ratio=2)
        table.add_column("entity", ratio=1)
        table.add_column("type", width=name_width)
        table.add_column("confidence", justify="right", width=10)
        for result in results:
            if not result["entities"]:
                table.add_row(escape(result["text"]), "—", "", "")
            for i, entity in enumerate(result["entities"]):
                table.add_row(escape(result["text"]) if i == 0 else "", escape(entity["text"]), escape(entity["type"]), f"{entity['confidence']:.3f}")
        return table
    table.add_column("label", width=name_width)
    table.add_column("confidence", justify="right", width=10)
    table.add_column("text", ratio=1)
    for result in results:
        table.add_row(escape(result["label"]), f"{result['confidence']:.3f}", escape(result["text"]))
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
        name, label = config["model"]["name"], payload.get("model_label") or config["model"]["name"]
        model = label if label == name else f"{label} ({name})"
        console.print(f"model {escape(model)} · data {escape(config['data']['train'])} · method {config['method']['kind']}")
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
    print_diagnostics(console, payload.get("diagnostics") or [])


def print_diagnostics(console: Console, diagnostics: list[dict[str, str]]) -> None:
    """What went wrong with a run: one line each, with its hint beneath."""
    for diagnostic in diagnostics:
        console.print(f"[yellow]{DIAGNOSIS_MARK} {diagnostic['kind']}:[/] {escape(diagnostic['message'])}", soft_wrap=True)
        console.print(f"  [dim]hint:[/] {escape(diagnostic['hint'])}", soft_wrap=True)


#: Rows `tlwb show RUN --label-errors` prints (--json gives every row the file keeps).
LABEL_ERRORS_SHOWN = 20
#: Labels are cut to this many characters there.
LABEL_CHARS = 12


def show_label_errors(console: Console, run: Any, *, as_json: bool = False) -> None:
    """`tlwb show RUN --label-errors`: the suspect rows, most suspicious first; a run with no label
    check (or a lost file) is an error with a hint, one whose check found none says so."""
    import json

    from ..errors import RunError
    from ..label_errors import label_errors_report

    report = label_errors_report(run)
    none = report["none"]
    if none is not None and none["kind"] != "found_none":
        hints = {
            "missing": "train the run again to check its labels again",
            "collapsed": f"tlwb show {run.id} shows the diagnosis and what to change",
        }
        raise RunError(none["message"], hints.get(none["kind"], f"tlwb show {run.id} says how the run went; "
                                                                 "the check runs when a text classifier finishes training"))
    if as_json:
        print(json.dumps(report))
        return
    if none is not None:
        console.print(f"[green]✓[/] {escape(none['message'])}")
        return
    rows, of = report["rows"], f" of {report['checked']:,}" if report["checked"] else ""
    console.print(f"[yellow]⚑[/] {report['found']:,}{of} training rows look mislabelled, most suspicious first: {escape(report['path'])}",
                  soft_wrap=True)
    shown = rows[:LABEL_ERRORS_SHOWN]
    label_width = min(LABEL_CHARS, max([len("model says")] + [len(row[key]) for row in shown for key in ("given", "suggested")]))
    table = Table(box=None, header_style="bold", pad_edge=False, expand=True)  # the text takes what the rest leave
    table.add_column("row", justify="right", width=max([3] + [len(f"{row['row']:,}") for row in shown]))
    for title in ("given", "model says"):
        table.add_column(title, no_wrap=True, overflow="ellipsis", width=label_width)
    table.add_column("conf", justify="right", width=4)
    table.add_column("text", no_wrap=True, overflow="ellipsis", ratio=1)
    for row in shown:
        text = " ".join(f"{row['text']} {row.get('text_pair') or ''}".split())
        table.add_row(f"{row['row']:,}", escape(row["given"]), escape(row["suggested"]), f"{row['suggested_prob']:.2f}", escape(text))
    console.print(table)
    if len(rows) > LABEL_ERRORS_SHOWN:
        console.print(f"[dim]… {len(rows) - LABEL_ERRORS_SHOWN:,} more in the file (--json lists them all)[/]")
