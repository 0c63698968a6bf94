"""Results: *how good is it, and where is it wrong?* Metrics · Confusion · Predictions · Playground ·
Label errors (the training rows the model most confidently contradicts).

Everything is read from the run directory in a thread worker (`RunResults.read`), and read
again when the run's watcher reports a new evaluation, samples or the end, so a still-running
run's results fill in as it goes. Works for text classification (labels, probabilities) and
token classification (entity types, highlighted sentences).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import HorizontalScroll, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Input, Static, TabbedContent, TabPane, Tabs

from workbench import humanize
from workbench.config import RunConfig
from workbench.diagnostics import diagnostics_of
from workbench.export import export_run
from workbench.events import BaseEvent, EvalEvent, SamplesEvent, StartedEvent, StepEvent
from workbench.history import RunHistory
from workbench.label_errors import (
    LabelErrorRow,
    LabelErrorsUnreadable,
    default_export_path,
    export_label_errors,
    read_label_errors,
    why_none,
)
from workbench.runinfo import PREDICTIONS_FILE, load_predictions
from workbench.runstore import ACTIVE_STATES, RunDir, RunStatus

from .base import WorkbenchScreen
from .export_dialog import ExportDialog, default_export_dir
from .messages import EvalEvent, RunEnded, SamplesEvent
from .widgets.chat_playground import ChatPlayground
from .widgets.confusion_grid import ConfusionGrid
from .widgets.diagnostics import DiagnosticsPanel
from .widgets.example_detail import ExampleDetail
from .widgets.footer import WorkbenchFooter
from .widgets.generations_table import GENERATION_FILTERS, GenerationsTable
from .widgets.header import WorkbenchHeader
from .widgets.label_errors_export import LabelErrorsExportDialog
from .widgets.label_errors_table import ALL_LABELS, LabelErrorsTable, as_example
from .widgets.metrics_tables import EvalHistory, PerClassScores
from .widgets.playground import Playground
from .widgets.predictions_table import FILTER_NAMES, FILTERS, SORT_NAMES, SORTS, PredictionsTable, is_error
from .widgets.results_tabs import ResultsTabs
from .widgets.run_summary import RunSummary
from .widgets.state import state_text

if TYPE_CHECKING:
    from .run_watcher import RunWatcher

#: What takes the focus when a tab is shown.
FOCUS_IN_PANE = {"metrics": "#eval-history", "confusion": "#confusion-scroll", "predictions": "#predictions-table",
                 "playground": "#playground-input", "label-errors": "#label-errors-table"}
#: … in a text-generation run, whose Predictions tab is a generations browser and Playground a chat.
FOCUS_IN_GENERATION_PANE = {**FOCUS_IN_PANE, "predictions": "#generations-table", "playground": "#chat-input"}


@dataclass
class RunResults:
    """What the Results screen shows, gathered from one read of the run directory: its status,
    config and `RunHistory` (the one fold over its events), every validation prediction of the
    latest evaluation (`predictions.jsonl`) and the run's diagnosis."""

    state: str
    status: RunStatus
    config: RunConfig | None
    history: RunHistory = field(default_factory=RunHistory)
    #: Every validation prediction (`runinfo.load_predictions`); a run from before
    #: predictions.jsonl existed gives its kept samples.
    predictions: list[dict[str, Any]] = field(default_factory=list)
    #: `[{kind, message, hint}]` (`diagnostics.diagnostics_of`).
    diagnostics: list[dict[str, str]] = field(default_factory=list)
    #: The rows of label_errors.csv, most suspicious first; None without the file.
    label_errors: list[LabelErrorRow] | None = None
    #: Why label_errors.csv could not be read (`message — hint`), if it could not.
    label_errors_problem: str | None = None

    @classmethod
    def read(cls, run: RunDir) -> "RunResults":
        """Everything, read in one go (called in a thread: the predictions file can be large)."""
        status = run.status()
        try:
            config: RunConfig | None = run.config()
        except Exception:  # a broken config.toml must not hide the metrics
            config = None
        history = run.history()
        if (run.path / PREDICTIONS_FILE).exists():
            predictions = load_predictions(run)
        else:  # what load_predictions falls back to, without folding the events a second time
            samples = history.samples.get("validation")
            predictions = list(samples.items) if samples is not None else []
        try:
            diagnostics = diagnostics_of(history)
        except Exception:  # a diagnosis must never hide the results
            diagnostics = []
        label_errors, problem = None, None
        try:
            label_errors = read_label_errors(run.path)
        except LabelErrorsUnreadable as error:  # shown on its tab; the rest of the results stand
            problem = error.one_line()
        return cls(state=status.state, status=status, config=config, history=history,
                   predictions=predictions, diagnostics=diagnostics, label_errors=label_errors, label_errors_problem=problem)

    def predictions_of(self, split: str) -> list[dict[str, Any]]:
        """The rows the predictions browser shows for `split`: every one for validation, the
        kept samples for another split (only validation's are all kept)."""
        if split == "validation" and self.predictions:
            return self.predictions
        event = self.samples.get(split) or {}
        return list(event.get("items") or [])

    @property
    def evals(self) -> list[EvalEvent]:
        return self.history.evals

    @property
    def collapsed(self) -> bool:
        """The diagnosis found the model predicting one class for (nearly) everything."""
        return any(d.get("kind") == "collapse" for d in self.diagnostics)

    @property
    def samples(self) -> dict[str, SamplesEvent]:
        return self.history.samples  # split -> its latest samples

    @property
    def started(self) -> StartedEvent | None:
        return self.history.started

    @property
    def last_step(self) -> StepEvent | None:
        return self.history.last_step

    @property
    def end(self) -> BaseEvent | None:
        return self.history.ended

    @property
    def splits(self) -> list[str]:
        return self.history.splits

    def latest_eval(self, split: str) -> EvalEvent | None:
        return self.history.latest_eval(split)

    @property
    def label_check(self) -> tuple[int | None, int | None]:
        """(suspect rows found, training rows checked) as the `finished` event tells them."""
        ended = self.history.ended
        return getattr(ended, "label_errors", None), getattr(ended, "label_rows_checked", None)

    @property
    def generation_task(self) -> bool:
        return (self.history.task or (self.config.task if self.config else None)) == "text-generation"

    @property
    def token_task(self) -> bool:
        return (self.history.task or (self.config.task if self.config else None)) == "token-classification"


def summary_text(run: RunDir, results: RunResults, width: int | None = None) -> Text:
    """`finished in 1m 52s · accuracy 0.812 (best 0.830 @ step 50) · all-MiniLM-L6-v2 · lora · sst2`.

    The verdict comes first. In `width` cells (80 columns), the details give way before what
    was trained does: first the best's step, then the best itself, then the model's name (the
    header's run id names it too), so the data's name stays visible. The metric is the task's own ranking metric and the time the run's training time
    (RunHistory).
    """
    for detail in ("full", "short", "none", "no model"):
        text = _summary_text(results, detail)
        if width is None or text.cell_len <= width:
            break
    return text


def _summary_text(results: RunResults, best_detail: str) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append_text(state_text(results.state))
    status = results.status
    history = results.history
    if results.state == "failed":
        text.append(f": {status.message or ''}", style="red")
        return text
    duration = history.training_seconds()
    if duration is not None and results.state not in ACTIVE_STATES:
        text.append(f" in {humanize.duration(duration)}")
    if results.state in ACTIVE_STATES and results.last_step:
        text.append(f" · step {results.last_step.step}/{results.last_step.total_steps or '?'}")
    latest = results.latest_eval("validation") or (results.evals[-1] if results.evals else None)
    main = history.main_metric
    if latest and main:
        value = latest.metrics.get(main)
        if isinstance(value, (int, float)):
            text.append(f" · {main} ", style="dim")
            text.append(f"{value:.3f}", style="bold")
            baseline = collapse_baseline(results, latest, main)
            if baseline is not None:
                text.append(f" ⚠ baseline {baseline:.3f}", style="bold yellow")
    best = history.best or status.best
    if best is not None and best_detail not in ("none", "no model"):  # each step drops what the one before did
        where = f" @ step {best.step}" if best_detail == "full" else ""
        text.append(f" (best {best.value:.3f}{where})", style="dim")
    config = results.config
    if config is not None:
        model = "" if best_detail == "no model" else f" · {humanize.short_model(config.model.name)}"
        text.append(f"{model} · {config.method.kind} · {humanize.short_data(config.data.train)}", style="dim")
    return text


def collapse_baseline(results: RunResults, evaluation: EvalEvent, metric: str) -> float | None:
    """What always answering the majority class scores on `metric`, for a run diagnosed as
    collapsed (shown next to its score); None otherwise or when the evaluation can't say."""
    from workbench.diagnostics import counts_from_confusion, majority_baseline

    if not results.collapsed:
        return None
    if results.token_task:
        return 0.0 if metric == "f1" else None  # the all-O baseline finds no entity
    matrix, labels = evaluation.get("confusion_matrix"), evaluation.get("labels")
    if not matrix or not labels:
        return None
    baseline = majority_baseline(counts_from_confusion(matrix, labels)[0])
    if baseline is None:
        return None
    return {"accuracy": baseline.accuracy, "macro_f1": baseline.macro_f1}.get(metric)


class ResultsScreen(WorkbenchScreen):
    """Tabs 1–5; in Predictions: f/a/e/l filter, s sort, enter shows one example; in Label errors:
    f filters by given label, x exports the rows listed as CSV, enter shows one row."""

    TITLE = "Results"
    CSS_PATH = "results.tcss"
    BINDINGS = [
        Binding("1", "show_tab('metrics')", "Tabs", key_display="1-5"),
        Binding("2", "show_tab('confusion')", "Confusion", show=False),
        Binding("3", "show_tab('predictions')", "Predictions", show=False),
        Binding("4", "show_tab('playground')", "Playground", show=False),
        Binding("5", "show_tab('label-errors')", "Label errors", show=False),
        Binding("f", "cycle_filter", "Filter"),
        Binding("a", "set_filter('all')", "All", show=False),
        Binding("e", "set_filter('errors')", "Errors only", show=False),
        Binding("l", "set_filter('low')", "Low confidence", show=False),
        Binding("s", "cycle_sort", "Sort"),
        Binding("t", "toggle_split", "Split"),
        Binding("x", "export_label_errors", "Export CSV"),
        Binding("ctrl+s", "export", "Export", priority=True),
        Binding("escape", "leave_input", "Leave input", show=False),
    ]

    class Loaded(Message):
        def __init__(self, results: RunResults) -> None:
            super().__init__()
            self.results = results

    def __init__(self, run: RunDir, watcher: RunWatcher) -> None:
        """`watcher` is the app's one `RunWatcher` for `run`, followed while the run is going."""
        super().__init__()
        self.run = run
        self.results: RunResults | None = None
        self.split = "validation"
        self.watcher = watcher
        self._following = False

    def compose(self) -> ComposeResult:
        yield WorkbenchHeader()
        yield RunSummary(id="results-summary")
        with ResultsTabs(id="results-tabs"):
            with TabPane("Metrics", id="metrics"):
                with VerticalScroll():
                    yield DiagnosticsPanel(clip=False, id="results-diagnostics")
                    yield Static("evaluations", classes="caption")
                    yield EvalHistory(id="eval-history")
                    yield Static(id="per-class-caption", classes="caption")
                    yield PerClassScores(id="per-class")
            with TabPane("Confusion", id="confusion"):
                yield Static(id="confusion-caption", classes="caption")
                with HorizontalScroll(id="confusion-scroll"):
                    yield ConfusionGrid(id="confusion-grid")
            with TabPane("Predictions", id="predictions"):
                yield Static(id="predictions-bar")
                yield PredictionsTable(id="predictions-table")
                yield GenerationsTable(id="generations-table")  # shown instead for a text-generation run
            with TabPane("Playground", id="playground"):
                yield Playground(self.run, id="playground-pane")
                yield ChatPlayground(self.run, id="chat-pane")
            with TabPane("Label errors", id="label-errors"):
                yield Static(id="label-errors-bar")
                yield Static(id="label-errors-empty")
                yield LabelErrorsTable(id="label-errors-table")
        yield WorkbenchFooter()

    def on_mount(self) -> None:
        self.query_one("#results-summary", Static).update(Text("reading the run…", style="dim"))
        self.load()

    def on_unmount(self) -> None:
        self.watcher.unsubscribe(self)

    def _show_summary(self, results: RunResults) -> None:
        self.query_one(RunSummary).show(lambda width: summary_text(self.run, results, width))

    # -- reading the run ----------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="results-load", exit_on_error=False)
    def load(self) -> None:
        self.post_message(self.Loaded(RunResults.read(self.run)))

    @on(EvalEvent)
    @on(SamplesEvent)
    @on(RunEnded)
    def _run_moved_on(self, message: EvalEvent | SamplesEvent | RunEnded) -> None:
        if message.run == self.run:
            self.load()

    def on_results_screen_loaded(self, message: Loaded) -> None:
        results = self.results = message.results
        self._follow_if_going(results.state)
        if self.split not in results.splits and results.splits:
            self.split = "validation" if "validation" in results.splits else results.splits[0]
        self._show_summary(results)
        with self.app.batch_update():
            self._lay_out_for_task(results)
            self._show_metrics(results)
            self._show_confusion(results)
            self._show_predictions(results)
            self._show_label_errors(results)
        if self.query_one(TabbedContent).active == "playground":
            self._playground().activate()  # the run may have saved its model since
        self.refresh_bindings()

    def _follow_if_going(self, state: str) -> None:
        """Subscribe to a still-going run's watcher (once), then read again: nothing it saw
        between the first read and now is missed."""
        if not self._following and state in ACTIVE_STATES:
            self._following = True
            self.watcher.subscribe(self)
            self.load()

    @property
    def generation(self) -> bool:
        return self.results is not None and self.results.generation_task

    def _playground(self) -> Playground | ChatPlayground:
        return self.query_one(ChatPlayground) if self.generation else self.query_one(Playground)

    def _lay_out_for_task(self, results: RunResults) -> None:
        """A text-generation run has no confusion matrix; its predictions are generations and
        its playground a chat. The other tasks keep the layout composed."""
        generation = results.generation_task
        tabs = self.query_one(TabbedContent)
        for tab in ("confusion", "label-errors"):  # no confusion matrix, no label check
            if generation:
                tabs.hide_tab(tab)
            else:
                tabs.show_tab(tab)
        tabs.get_tab("predictions").label = "Generations" if generation else "Predictions"
        self.query_one(PredictionsTable).display = not generation
        self.query_one(GenerationsTable).display = generation
        self.query_one(Playground).display = not generation
        self.query_one(ChatPlayground).display = generation

    def _show_metrics(self, results: RunResults) -> None:
        self.query_one(DiagnosticsPanel).show(results.diagnostics)
        best = (results.history.best or results.status.best or {}).get("step")
        self.query_one(EvalHistory).show(results.evals, best)
        latest = results.latest_eval(self.split)
        caption = self.query_one("#per-class-caption", Static)
        what = "entity type" if results.token_task else "class"
        for table in self.query_one("#metrics").query(DataTable):
            table.display = latest is not None
        if latest is None:
            caption.update(Text(_no_evaluation(results), style="dim"))
            return
        if results.generation_task:
            self.query_one(PerClassScores).display = False
            caption.update(Text("loss and perplexity on the held-out rows; exact match when the answers are short"
                                " · tab 3: the generations", style="dim"))
            return
        caption.update(Text(f"per {what} · {self.split} · step {latest.get('step')}", style="dim"))
        self.query_one(PerClassScores).show(latest.get("per_class") or {}, what)

    def _show_confusion(self, results: RunResults) -> None:
        latest = results.latest_eval(self.split)
        caption = self.query_one("#confusion-caption", Static)
        grid = self.query_one(ConfusionGrid)
        if latest is None:
            caption.update(Text(_no_evaluation(results), style="dim"))
            grid.show([], [])
            return
        note = " · O: missed or spurious entity" if results.token_task else ""
        caption.update(Text(f"{self.split} · step {latest.get('step')} · rows: gold, columns: predicted{note}", style="dim"))
        grid.show(latest.get("confusion_matrix") or [], latest.get("labels") or [], latest.get("per_class"))

    def _show_predictions(self, results: RunResults) -> None:
        if results.generation_task:
            event = results.samples.get(self.split) or {}
            self.query_one(GenerationsTable).show_samples(event.get("items") or [])
            self._show_predictions_bar()
            return
        table = self.query_one(PredictionsTable)
        latest = results.latest_eval(self.split) or {}
        types = list((latest.get("per_class") or {}).keys()) if results.token_task else []
        table.show_samples(results.predictions_of(self.split), types)
        self._show_predictions_bar()

    def _show_predictions_bar(self) -> None:
        if self.generation:
            self.query_one("#predictions-bar", Static).update(_generations_bar(self.query_one(GenerationsTable)))
            return
        table = self.query_one(PredictionsTable)
        bar = Text(no_wrap=True, overflow="ellipsis")
        bar.append("filter ", style="dim")
        for name in FILTERS:
            label = FILTER_NAMES[name]
            bar.append(f"[{label}]" if name == table.filter_name else f" {label} ", style="bold reverse" if name == table.filter_name else "")
            bar.append(" ")
        bar.append("· sort ", style="dim")
        bar.append(SORT_NAMES[table.confidence_order])
        errors = sum(1 for sample in table.samples if is_error(sample))
        bar.append(f" · {table.matching:,}/{len(table.samples):,} shown · {errors:,} ✗", style="dim")
        if table.matching > table.row_count:
            bar.append(f" · first {table.row_count:,} listed", style="dim")
        self.query_one("#predictions-bar", Static).update(bar)

    def _show_label_errors(self, results: RunResults) -> None:
        """The suspect rows, or (table hidden) why there are none."""
        table = self.query_one(LabelErrorsTable)
        empty = self.query_one("#label-errors-empty", Static)
        note = label_errors_note(results)
        table.display = note is None
        empty.display = note is not None
        self.query_one("#label-errors-bar", Static).display = note is None
        if note is not None:
            empty.update(note)
            table.show_rows([])
            if self.query_one(TabbedContent).active == "label-errors" and self.focused is table:
                self.query_one(Tabs).focus()
            return
        table.show_rows(results.label_errors or [])
        self._show_label_errors_bar()

    def _show_label_errors_bar(self) -> None:
        if self.results is None:
            return
        table = self.query_one(LabelErrorsTable)
        self.query_one("#label-errors-bar", Static).update(label_errors_bar(self.results, table))

    # -- actions ------------------------------------------------------------------------------
    def action_show_tab(self, tab: str) -> None:
        if tab in ("confusion", "label-errors") and self.generation:
            return  # hidden: a text-generation run has no confusion matrix and no label check
        self.query_one(TabbedContent).active = tab

    @on(TabbedContent.TabActivated)
    def _tab_shown(self, event: TabbedContent.TabActivated) -> None:
        """Focus moves into the shown pane (a focused widget left in a hidden pane pulls it back)."""
        pane = event.pane.id
        if pane != event.tabbed_content.active:
            return  # a stale activation (e.g. the initial one) arriving after a key switched tabs
        if pane == "playground":
            self._playground().activate()
        focus = FOCUS_IN_GENERATION_PANE if self.generation else FOCUS_IN_PANE
        target = self.query_one(focus[pane or "metrics"])
        # Now, not later: a focus deferred from a tab the user has already left would land in a
        # hidden pane.
        self.set_focus(target if target.display else self.query_one(Tabs))  # an empty state has nothing to focus
        self.refresh_bindings()

    def action_cycle_filter(self) -> None:
        if self.query_one(TabbedContent).active == "label-errors":
            self.query_one(LabelErrorsTable).next_filter()
            self._show_label_errors_bar()
            return
        if self.generation:
            name = self.query_one(GenerationsTable).filter_name
            self.action_set_filter(GENERATION_FILTERS[(GENERATION_FILTERS.index(name) + 1) % len(GENERATION_FILTERS)])
            return
        table = self.query_one(PredictionsTable)
        self.action_set_filter(FILTERS[(FILTERS.index(table.filter_name) + 1) % len(FILTERS)])

    def action_set_filter(self, name: str) -> None:
        self.action_show_tab("predictions")
        if self.generation:
            generations = self.query_one(GenerationsTable)
            if name in ("errors", "mismatches") and not generations.has_exact_match:
                self.notify("exact match does not apply to this run's answers: nothing to filter", severity="warning", timeout=3)
                return
            generations.filter_name = "mismatches" if name in ("errors", "mismatches") else "all"
        else:
            self.query_one(PredictionsTable).filter_name = name
        self._show_predictions_bar()

    def action_cycle_sort(self) -> None:
        if self.generation:
            return  # generations have no confidence to sort by
        self.action_show_tab("predictions")
        table = self.query_one(PredictionsTable)
        table.confidence_order = SORTS[(SORTS.index(table.confidence_order) + 1) % len(SORTS)]
        self._show_predictions_bar()

    def action_toggle_split(self) -> None:
        if self.results is None or len(self.results.splits) < 2:
            return
        splits = self.results.splits
        self.split = splits[(splits.index(self.split) + 1) % len(splits)]
        self.notify(f"showing the {self.split} evaluation", timeout=2)
        self.on_results_screen_loaded(self.Loaded(self.results))

    def action_export(self) -> None:
        self.export_model()

    @work(exclusive=True, group="export", exit_on_error=False)
    async def export_model(self) -> None:
        """Ask where (ExportDialog), then export in a thread; a core error is notified by the app."""
        saved = await asyncio.to_thread(self.run.trained_model_dir)
        if saved is None:
            self.notify("only a run that saved its model can be exported: wait for it to finish, or resume it",
                        title="nothing to export yet", severity="warning")
            return
        dialog = ExportDialog(self.run.id, default_export_dir(self.run.path), adapter=saved == self.run.adapter_dir)
        request = await self.app.push_screen_wait(dialog)
        if request is None:
            return
        self.notify(f"exporting {self.run.id}…", timeout=3)
        result = await asyncio.to_thread(export_run, self.run, request.out_dir, merge=request.merge, force=request.force)
        self.notify(str(result.out_dir), title=f"exported the {result.kind}", timeout=8)
        for note in result.notes:
            self.notify(note, severity="warning")

    def action_export_label_errors(self) -> None:
        self.export_label_errors()

    @work(exclusive=True, group="export", exit_on_error=False)
    async def export_label_errors(self) -> None:
        """Ask for a file (LabelErrorsExportDialog), then write the rows listed in a thread; a core
        error (the file exists, a folder was named) is notified by the app."""
        table = self.query_one(LabelErrorsTable)
        rows = list(table.rows_shown)
        if not rows:
            self.notify("no label errors listed to export", severity="warning", timeout=3)
            return
        what = f"the {len(rows):,} row{'s' if len(rows) != 1 else ''} listed"
        if table.given_filter != ALL_LABELS:
            what += f" (given {table.given_filter})"
        request = await self.app.push_screen_wait(LabelErrorsExportDialog(self.run.id, default_export_path(self.run.path), what))
        if request is None:
            return
        path = await asyncio.to_thread(export_label_errors, rows, request.path, force=request.force)
        self.notify(str(path), title=f"exported {len(rows):,} label error{'s' if len(rows) != 1 else ''}", timeout=8)

    def action_leave_input(self) -> None:
        if isinstance(self.focused, Input):
            self.query_one(Tabs).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_split":
            return self.results is not None and len(self.results.splits) > 1
        if action in ("cycle_filter", "cycle_sort", "export_label_errors"):
            active = self.query_one(TabbedContent).active
            if active == "label-errors":  # f filters by given label, x exports: with rows to act on
                return action != "cycle_sort" and bool(self.query_one(LabelErrorsTable).all_rows)
            if action == "export_label_errors" or (action == "cycle_sort" and self.generation):
                return False
            return active == "predictions"
        return True

    @on(DataTable.RowSelected, "#predictions-table")
    def _open_example(self, event: DataTable.RowSelected) -> None:
        sample = self.query_one(PredictionsTable).selected_sample()
        if sample is not None:
            self.app.push_screen(ExampleDetail(sample, self.query_one(PredictionsTable).styles_for_entities))

    @on(DataTable.RowSelected, "#label-errors-table")
    def _open_label_error(self, event: DataTable.RowSelected) -> None:
        row = self.query_one(LabelErrorsTable).selected()
        if row is not None:
            self.app.push_screen(ExampleDetail(as_example(row)))

    @on(DataTable.RowSelected, "#generations-table")
    def _open_generation(self, event: DataTable.RowSelected) -> None:
        sample = self.query_one(GenerationsTable).selected_sample()
        if sample is not None:
            self.app.push_screen(ExampleDetail(sample))


def _generations_bar(table: GenerationsTable) -> Text:
    """`filter [all]  mismatches  · 12/12 shown · 3 ✗` (or why there is nothing to filter)."""
    bar = Text(no_wrap=True, overflow="ellipsis")
    if not table.has_exact_match:
        bar.append(f"{len(table.samples)} generations · exact match does not apply to these answers · enter: whole text", style="dim")
        return bar
    bar.append("filter ", style="dim")
    for name in GENERATION_FILTERS:
        chosen = name == table.filter_name
        bar.append(f"[{name}]" if chosen else f" {name} ", style="bold reverse" if chosen else "")
        bar.append(" ")
    bar.append(f"· {table.row_count}/{len(table.samples)} shown · {table.mismatches} ✗ · enter: whole text", style="dim")
    return bar


def label_errors_note(results: RunResults) -> Text | None:
    """Why the Label errors tab lists no rows (`workbench.label_errors.why_none`), or that the
    file is unreadable; None when there are rows to list."""
    if results.label_errors_problem:
        return Text(f"✗ {results.label_errors_problem}", style="red")
    found, checked = results.label_check
    task = results.history.task or (results.config.task if results.config else None)
    reason = why_none(results.label_errors, state=results.state, task=task, found=found, checked=checked, collapsed=results.collapsed)
    if reason is None:
        return None
    kind, message = reason
    if kind == "found_none":
        return Text(f"✓ {message}", style="green")
    return Text(f"✗ {message}", style="red") if kind == "missing" else Text(message, style="dim")


def label_errors_bar(results: RunResults, table: LabelErrorsTable) -> Text:
    """`42 of 3,600 training rows look mislabelled · given [all] · 42 listed · most suspicious first`."""
    found, checked = results.label_check
    kept = len(table.all_rows)
    found = max(found or 0, kept)
    bar = Text(no_wrap=True, overflow="ellipsis")
    bar.append("⚑ ", style="bold yellow")
    bar.append(f"{found:,}", style="bold")
    bar.append(f" of {checked:,} training rows" if checked else " training rows")
    bar.append(" look mislabelled · given ", style="")
    bar.append(f"[{table.given_filter}]", style="bold reverse")
    bar.append(f" · {len(table.rows_shown):,} listed", style="dim")
    if found > kept:
        bar.append(f" (the file keeps the first {kept:,})", style="dim")
    bar.append(" · most suspicious first", style="dim")
    return bar


def _no_evaluation(results: RunResults) -> str:
    if results.state in ACTIVE_STATES:
        return "no evaluation yet: the first one comes at the end of an epoch (or eval_steps)"
    if results.config is not None and results.config.training.eval_strategy == "no":
        return "this run had evaluation turned off (training.eval_strategy = no)"
    if results.state in ("failed", "cancelled"):
        return f"the run {results.state} before its first evaluation"
    return "this run has no evaluation"
