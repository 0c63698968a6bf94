"""Setup: *what will I train?* Model, data, method and hyperparameters on one screen.

The form is a set of fields bound to config keys (`screens/widgets/config_fields.py`); the
config they make is validated by the core on every change, and Train is refused with the
reason while it is invalid. Two debounced workers describe what the form names: the model
(shape, trainable parameters per method, memory) and the data (first rows, columns, labels,
split sizes). Both reuse the code training runs, so what Setup shows is what training does.
"""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any, Callable, get_args

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Collapsible, Input, Label, OptionList, RadioSet, Select, Static
from textual.widgets.option_list import Option

from workbench.config import GROUP_BY_LENGTH_WARNING, Batching, RunConfig
from workbench.errors import ConfigError, WorkbenchError
from workbench.presets import describe_config, load_config, save_preset, user_presets_dir, validate_config
from workbench import humanize, packaged_models
from workbench.preview import DataPreview, ModelPreview, estimate_training_seconds, preview_data, preview_model
from workbench.suggestions import Suggestion, data_suggestions, model_suggestions

from .base import WorkbenchScreen
from .dialogs import ConfirmDialog
from .presets_dialog import PresetNamePrompt, preset_picker, suggestion_picker
from .widgets.config_fields import CONFIG_FIELDS, ConfigChoice, ConfigInput, ConfigSelect, config_value, with_value
from .widgets.header import WorkbenchHeader
from .widgets.footer import WorkbenchFooter
from .widgets.data_preview import LabelDistribution, PreviewTable, describe_sizes
from .widgets.model_info import ModelInfo
from .widgets.status_text import error_text
from .widgets.suggesters import SourceSuggester

#: First rows of the data shown in the preview table.
PREVIEW_ROWS = 20
#: Quiet time after a keystroke before a slow preview starts.
DEBOUNCE_S = 0.4

TASKS = [("classify", "text-classification"), ("tag tokens", "token-classification")]
METHODS = [("full", "full"), ("lora", "LoRA"), ("head", "head")]
EVAL_STRATEGIES = [("epoch", "epoch"), ("steps", "steps"), ("no", "no")]
BATCHINGS = [(value.replace("_", " "), value) for value in get_args(Batching)]  # every kind the config takes

#: The column drop-downs of each task: (config key, label).
COLUMN_FIELDS = {
    "text-classification": (("data.text_column", "text"), ("data.label_column", "label")),
    "token-classification": (("data.tokens_column", "words"), ("data.tags_column", "tags")),
}

#: Keys whose change calls for a new model inspection / data preview.
MODEL_KEYS = ("task", "model.name", "model.revision", "model.trust_remote_code", "method.r", "method.target_modules")
DATA_KEYS = ("task", "data", "training.seed")
#: The settings that only apply to LoRA: hidden for full and head.
LORA_KEYS = ("method.r", "method.alpha", "method.dropout", "method.target_modules")
#: A run estimated to train longer than this asks before it starts (seconds).
LONG_RUN_S = 30 * 60


def default_config() -> RunConfig:
    """What Setup shows when opened without a config: the offline quickstart preset."""
    try:
        return load_config("quickstart")
    except WorkbenchError:
        return RunConfig.model_validate({"model": {"name": "sentence-transformers/all-MiniLM-L6-v2"}, "data": {"train": ""}})


def _key(data: dict[str, Any], keys: tuple[str, ...]) -> str:
    """A stable fingerprint of the parts of a config dict that a preview depends on."""
    import json

    return json.dumps({key: _lookup(data, key) for key in keys}, sort_keys=True, default=str)


def _lookup(data: dict[str, Any], key: str) -> Any:
    value: Any = data
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


class SetupScreen(WorkbenchScreen):
    """Pick a model, data, method and hyperparameters; ctrl+t asks the app to train (`StartRun`).

    `runs_dir` (the app's) is where Setup looks for models and data of earlier runs to suggest.
    """

    TITLE = "Setup"
    CSS_PATH = "setup.tcss"
    BINDINGS = [
        Binding("ctrl+t", "train", "Train", priority=True),
        Binding("ctrl+o", "open_preset", "Open preset", priority=True),
        Binding("ctrl+s", "save_preset", "Save preset", priority=True),
        Binding("ctrl+l", "list_suggestions", "List", priority=True),
    ]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]

    class StartRun(Message):
        """Train `config`, valid and checked here: the app runs pre-flight, then launches it."""

        def __init__(self, config: RunConfig) -> None:
            super().__init__()
            self.config = config

    class ModelPreviewed(Message):
        """The model worker finished for the form state fingerprinted by `key`."""

        def __init__(self, key: str, preview: ModelPreview | None, error: WorkbenchError | None) -> None:
            super().__init__()
            self.key, self.preview, self.error = key, preview, error

    class DataPreviewed(Message):
        """The data worker finished for the form state fingerprinted by `key`."""

        def __init__(self, key: str, preview: DataPreview | None, error: WorkbenchError | None) -> None:
            super().__init__()
            self.key, self.preview, self.error = key, preview, error

    class GpusCounted(Message):
        def __init__(self, count: int) -> None:
            super().__init__()
            self.count = count

    class SuggestionsFound(Message):
        def __init__(self, models: list[Suggestion], data: list[Suggestion]) -> None:
            super().__init__()
            self.models, self.data = models, data

    def __init__(self, config: RunConfig | None = None, runs_dir: Path | None = None) -> None:
        super().__init__()
        self.runs_dir = runs_dir
        config = config or default_config()
        #: The last config loaded into the form: keys the form doesn't show come from here, and
        #: each field is validated against it with only that field changed.
        self.loaded: dict[str, Any] = config.model_dump(mode="json")
        self.initial = config
        self.model_preview: ModelPreview | None = None
        self.data_preview: DataPreview | None = None
        self.model_error: WorkbenchError | None = None
        self.data_error: WorkbenchError | None = None
        self._model_key = ""
        self._data_key = ""
        self._data_pending = False
        self.suggestions: dict[str, list[Suggestion]] = {"model.name": [], "data.train": []}
        #: The learning rate the form itself put in the field (a method's default); a value typed
        #: over it is the user's, and switching method leaves it alone.
        self._default_lr: str | None = None
        #: The LoRA targets the last inspected model gets by default (kept while it is re-inspected).
        self._model_targets: list[str] | None = None
        self.gpus = 0

    # -- layout ---------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        base = lambda: self.loaded  # noqa: E731 - validators read the current `loaded`
        yield WorkbenchHeader()
        with Horizontal(id="top"):
            with Vertical(id="model-panel", classes="panel") as panel:
                panel.border_title = "Model"
                yield ConfigInput("model.name", base, placeholder="hub id (org/name) or a model folder", suggester=SourceSuggester())
                yield ModelInfo(id="model-info")
                yield OptionList(id="model-suggestions")
            with Vertical(id="data-panel", classes="panel") as panel:
                panel.border_title = "Data"
                yield ConfigInput("data.train", base, placeholder="data file (csv, tsv, jsonl, conll…) or hub id", suggester=SourceSuggester())
                with Horizontal(classes="row", id="data-rows"):
                    yield from _field("rows", ConfigInput("data.max_train_samples", base, placeholder="all", classes="medium"))
                    yield Static(id="data-sizes")
                for task, pair in COLUMN_FIELDS.items():
                    with Horizontal(classes="row column-row", id=f"columns-{task}"):
                        for key, label in pair:
                            yield from _field(label, ConfigSelect(key, [], allow_blank=True, classes="column-select"))
                yield LabelDistribution(id="label-distribution")
        with Horizontal(id="middle"):
            with Vertical(id="method-panel", classes="panel") as panel:
                panel.border_title = "Method"
                yield ConfigChoice("method.kind", METHODS, self.initial.method.kind)
                with Horizontal(classes="row lora-row"):
                    yield from _field("r", ConfigInput("method.r", base, classes="short"))
                    yield from _field("alpha", ConfigInput("method.alpha", base, classes="short"))
                    yield from _field("dropout", ConfigInput("method.dropout", base, classes="short"))
                with Horizontal(classes="row lora-row"):
                    yield from _field("targets", ConfigInput("method.target_modules", base, placeholder="per architecture"))
                yield Static("no LoRA settings: the whole model trains", id="method-note")
            with Vertical(id="training-panel", classes="panel") as panel:
                panel.border_title = "Training"
                with Horizontal(classes="row"):
                    yield from _field("epochs", ConfigInput("training.epochs", base, classes="short"))
                    yield from _field("batch", ConfigInput("training.batch_size", base, classes="short"))
                    yield from _field("lr", ConfigInput("training.learning_rate", base, classes="medium"))
                with Horizontal(classes="row"):
                    yield from _field("max len", ConfigInput("training.max_length", base, classes="short"))
                    yield from _field("seed", ConfigInput("training.seed", base, classes="short"))
                    yield Label("gpus", classes="field-label nproc-field")  # shown by on_setup_screen_gpus_counted
                    yield ConfigInput("training.nproc", base, classes="nproc-field")
                with Horizontal(classes="row"):
                    yield from _field("eval", ConfigSelect("training.eval_strategy", EVAL_STRATEGIES, classes="eval-select"))
                    yield from _field("task", ConfigSelect("task", TASKS, classes="task-select"))
        with Collapsible(title="advanced: accumulation, warmup, decay, eval steps, samples, batching", id="advanced"):
            with Horizontal(classes="row"):
                yield from _field("accum", ConfigInput("training.gradient_accumulation_steps", base, classes="short"))
                yield from _field("warmup", ConfigInput("training.warmup_ratio", base, classes="short"))
                yield from _field("decay", ConfigInput("training.weight_decay", base, classes="short"))
                yield from _field("eval steps", ConfigInput("training.eval_steps", base, classes="short"))
                yield from _field("samples", ConfigInput("training.num_samples", base, classes="short"))
            with Horizontal(classes="row"):
                yield from _field("batching", ConfigSelect("training.batching", BATCHINGS, classes="batching-select"))
        yield PreviewTable(id="preview-table")
        yield Static(id="setup-status")
        yield WorkbenchFooter()

    def on_mount(self) -> None:
        self.fill_form(self.initial)
        warn_about(self, self.initial)
        self.query_one("#model-name", ConfigInput).focus()
        self.find_suggestions()
        self.count_gpus()

    # -- the form -------------------------------------------------------------------------------
    def fields(self) -> list[Any]:
        return list(self.query(", ".join(cls.__name__ for cls in CONFIG_FIELDS)).results())

    def fill_form(self, config: RunConfig) -> None:
        """Put `config` into every field; keys without a field are kept for the run as they are."""
        self.loaded = config.model_dump(mode="json")
        for field in self.fields():
            field.fill(config_value(config, field.key))
        lr = self.query_one("#training-learning_rate", ConfigInput)
        self._default_lr = lr.value if _is_default_rate(config) else None
        self.query_one("#method-target_modules", ConfigInput).placeholder = "per architecture"
        self.form_changed()

    def form_data(self) -> dict[str, Any]:
        data = copy.deepcopy(self.loaded)
        for field in self.fields():
            data = with_value(data, field.key, field.raw)
        return data

    def build_config(self) -> RunConfig:
        """The form as a validated `RunConfig`; raises `ConfigError` naming the first bad field."""
        return validate_config(self.form_data())

    @on(Input.Changed)
    @on(Select.Changed)
    @on(RadioSet.Changed)
    def _on_field_changed(self, event: Message) -> None:
        event.stop()
        control = getattr(event, "control", None) or getattr(event, "input", None)
        key = getattr(control, "key", None)
        if key == "data.train" and event.value != _lookup(self.loaded, "data.train"):  # type: ignore[attr-defined]
            self._reset_columns()
        if key == "method.kind":
            self._method_changed(self.query_one(ConfigChoice).raw or "lora")
        if key == "model.name":
            self._model_changed(event.value)  # type: ignore[attr-defined]
        if key is not None:
            self.form_changed()

    def form_changed(self) -> None:
        """Re-check the whole form, then start whichever preview the change affects."""
        data = self.form_data()
        try:
            config = validate_config(data)
        except ConfigError as err:
            self.show_status(err)
            return
        self.show_status(None)
        self._update_lora_fields(config)
        self._request_data_preview(config, data)
        self._request_model_preview(config, data)
        self._refresh_estimate(config)

    def _method_changed(self, method: str) -> None:
        """A learning rate the form put in (the old method's default) follows the new method's
        default; one the user typed stays, whatever its value."""
        from workbench.config import default_learning_rate

        lr_field = self.query_one("#training-learning_rate", ConfigInput)
        if self._default_lr is None or lr_field.value != self._default_lr:
            self._default_lr = None
            return
        rate = default_learning_rate(_lookup(self.form_data(), "task"), method)
        if rate is not None:
            lr_field.fill(rate)
            self._default_lr = lr_field.value

    def _model_changed(self, name: str) -> None:
        """What the form said about the old model goes at once: its info, its LoRA targets."""
        self._forget_model()
        if not name.strip():
            self.query_one(ModelInfo).show(Text("type a hub id or a model folder; ctrl+l lists models seen before", style="dim"))

    def _forget_model(self) -> None:
        old_targets, self._model_targets = self._model_targets, None
        self.model_preview, self.model_error, self._model_key = None, None, ""
        targets = self.query_one("#method-target_modules", ConfigInput)
        if old_targets and targets.value == ",".join(old_targets):
            targets.fill(None)  # the old model's defaults: the new model gets its own
        targets.placeholder = "per architecture"

    def _update_lora_fields(self, config: RunConfig) -> None:
        """LoRA's settings show (and count) only while LoRA is the method."""
        lora = config.method.kind == "lora"
        for key in LORA_KEYS:
            self.query_one(f"#{key.replace('.', '-')}", ConfigInput).disabled = not lora
        for row in self.query(".lora-row"):
            row.display = lora
        note = self.query_one("#method-note", Static)
        note.display = not lora
        note.update("no LoRA settings: the whole model trains" if config.method.kind == "full"
                    else "no LoRA settings: only the new head trains")

    def _reset_columns(self) -> None:
        for select in self.query(".column-select").results(ConfigSelect):
            select.set_choices([])

    def show_status(self, error: WorkbenchError | None) -> None:
        status = self.query_one("#setup-status", Static)
        status.set_class(error is not None, "-error")
        if error is not None:
            status.update(error_text(error))
            return
        status.update(self._preview_line())

    def _preview_line(self) -> str:
        preview = self.data_preview
        if preview is None or not preview.rows or not preview.text_column:
            return ""
        first = preview.rows[0]
        text = " ".join(first.get(preview.text_column, "").split())
        label = first.get(preview.label_column or "", "")
        return f'preview: "{text[:60]}{"…" if len(text) > 60 else ""}" → {label}'

    # -- model inspection -----------------------------------------------------------------------
    def _request_model_preview(self, config: RunConfig, data: dict[str, Any]) -> None:
        """Inspect the model once the data preview has said how many labels the head needs."""
        num_labels = self.data_preview.num_labels if self.data_preview else 2
        key = _key(data, MODEL_KEYS) + f"|{num_labels}"
        if key == self._model_key:
            return
        self.model_preview, self.model_error = None, None
        converting = packaged_models.first_use_note(config.model.name)  # the packaged SmolLM2's first use
        self.query_one(ModelInfo).show_loading(converting or f"inspecting {config.model.name}…")
        if self._data_pending:
            return  # the data preview's arrival calls this again, with the label count
        self._model_key = key
        self.inspect_model(config, key, num_labels)

    @work(exclusive=True, group="model-preview", exit_on_error=False)
    async def inspect_model(self, config: RunConfig, key: str, num_labels: int) -> None:
        self.post_message(self.ModelPreviewed(key, *await _quietly_in_thread("model.name", preview_model, config, num_labels)))

    def on_setup_screen_model_previewed(self, message: ModelPreviewed) -> None:
        if message.key != self._model_key:
            return
        panel = self.query_one(ModelInfo)
        self.model_preview, self.model_error = message.preview, message.error
        if message.error is not None:
            panel.show_error(message.error)
            return
        assert message.preview is not None
        targets = self.query_one("#method-target_modules", ConfigInput)
        self._model_targets = message.preview.lora_targets
        if message.preview.lora_targets:
            targets.placeholder = ",".join(message.preview.lora_targets)
        self._refresh_estimate()

    def _refresh_estimate(self, config: RunConfig | None = None) -> None:
        if self.model_preview is None:
            return
        if config is None:
            try:
                config = self.build_config()
            except ConfigError:
                return
        self.query_one(ModelInfo).show_preview(
            self.model_preview, config.method.kind, config.training.batch_size, config.training.max_length, config.method.r,
            estimate=self.estimate(config),
        )

    def estimate(self, config: RunConfig) -> tuple[float, str] | None:
        """(seconds, device) of a rough training time, once both previews are in."""
        if self.model_preview is None or self.data_preview is None:
            return None
        train_rows = self.data_preview.sizes.get("train", 0)
        seconds = estimate_training_seconds(train_rows, config, self.model_preview.info.params.total, self.gpus)
        on_gpu = config.training.device == "cuda" or (self.gpus > 0 and config.training.device == "auto")
        return seconds, "gpu" if on_gpu else "cpu"

    # -- data preview ---------------------------------------------------------------------------
    def _request_data_preview(self, config: RunConfig, data: dict[str, Any]) -> None:
        key = _key(data, DATA_KEYS)
        if key == self._data_key:
            return
        self._data_key = key
        self.data_preview, self.data_error = None, None
        self._data_pending = bool(config.data.train.strip())
        if not self._data_pending:
            self.query_one(LabelDistribution).show("")
            self.query_one("#data-sizes", Static).update("choose a data file or a hub dataset id")
            return
        self.query_one("#data-sizes", Static).update("")  # the old sizes are not this data's
        self.query_one(LabelDistribution).show_loading(f"reading {_display_path(config.data.train)}…")
        self.load_data_preview(config, key)

    @work(exclusive=True, group="data-preview", exit_on_error=False)
    async def load_data_preview(self, config: RunConfig, key: str) -> None:
        self.post_message(self.DataPreviewed(key, *await _quietly_in_thread("data.train", preview_data, config, PREVIEW_ROWS)))

    def on_setup_screen_data_previewed(self, message: DataPreviewed) -> None:
        if message.key != self._data_key:
            return
        self._data_pending = False
        self.data_preview, self.data_error = message.preview, message.error
        distribution = self.query_one(LabelDistribution)
        sizes = self.query_one("#data-sizes", Static)
        table = self.query_one(PreviewTable)
        if message.error is not None:
            distribution.show_error(message.error)
            sizes.update("")
            table.clear(columns=True)
            self.form_changed()  # the model preview was waiting for this one
            return
        preview = message.preview
        assert preview is not None
        sizes.update(describe_sizes(preview, sizes.content_region.width or None))
        distribution.show_preview(preview)
        table.show_preview(preview)
        self._show_columns(preview)
        self.show_status(None)
        # The detected columns are now in the form: count them in the key so that choosing
        # them doesn't trigger another preview, and re-inspect the model if the label count changed.
        self._data_key = _key(self.form_data(), DATA_KEYS)
        self.form_changed()

    def _show_columns(self, preview: DataPreview) -> None:
        """Offer the file's columns in the current task's drop-downs; the other task's are off."""
        task = "token-classification" if preview.tags else "text-classification"
        for each, pair in COLUMN_FIELDS.items():
            self.query_one(f"#columns-{each}").display = each == task
            for (key, _), detected in zip(pair, (preview.text_column, preview.label_column)):
                select = self.query_one(f"#{key.replace('.', '-')}", ConfigSelect)
                select.disabled = each != task
                if each == task:
                    chosen = select.raw
                    select.set_choices(preview.columns)
                    select.fill(chosen if chosen in preview.columns else detected)

    # -- GPUs -------------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="gpus", exit_on_error=False)
    def count_gpus(self) -> None:
        """The `training.nproc` field only matters with more than one GPU (counting imports torch)."""
        from workbench import preview

        self.post_message(self.GpusCounted(preview.visible_gpus()))

    def on_setup_screen_gpus_counted(self, message: GpusCounted) -> None:
        self.gpus = message.count
        self._refresh_estimate()
        for widget in self.query(".nproc-field"):
            widget.display = message.count > 1
        if message.count > 1:
            self.query_one("#training-nproc", ConfigInput).placeholder = f"1-{message.count}"

    # -- suggestions ----------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="suggestions", exit_on_error=False)
    def find_suggestions(self) -> None:
        self.post_message(self.SuggestionsFound(model_suggestions(self.runs_dir), data_suggestions(self.runs_dir)))

    def on_setup_screen_suggestions_found(self, message: SuggestionsFound) -> None:
        self.suggestions = {"model.name": message.models, "data.train": message.data}
        model_field = self.query_one("#model-name", ConfigInput)
        data_field = self.query_one("#data-train", ConfigInput)
        model_field.suggester = SourceSuggester([s.value for s in message.models])
        data_field.suggester = SourceSuggester([s.value for s in message.data])
        options = self.query_one("#model-suggestions", OptionList)
        options.clear_options()
        options.add_options(Option(f"{s.value}  [dim]{s.origin}[/]", id=s.value) for s in message.models)
        options.border_title = "suggestions"

    @on(OptionList.OptionSelected, "#model-suggestions")
    def _use_suggestion(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.query_one("#model-name", ConfigInput).value = event.option.id

    # -- actions --------------------------------------------------------------------------------
    def action_train(self) -> None:
        config = self.checked_config("can't train yet", "ctrl+t")
        if config is None:
            return
        for problem in (self.model_error, self.data_error):
            if problem is not None:
                self.notify(problem.one_line(), title="can't train yet", severity="error")
                return
        warn_about(self, config)
        estimate = self.estimate(config)
        if estimate is not None and estimate[0] > LONG_RUN_S:
            self._confirm_long_run(config, *estimate)
            return
        self.post_message(self.StartRun(config))

    def _confirm_long_run(self, config: RunConfig, seconds: float, device: str) -> None:
        rows = self.data_preview.sizes.get("train", 0) if self.data_preview else 0
        question = ConfirmDialog(
            "A long run",
            f"This run may train for about {humanize.duration(seconds)} on {device}: {rows:,} rows × "
            f"{config.training.epochs:g} epochs. That's a rough estimate from the data size, the model and the device.\n"
            "A row limit (rows, in the Data panel) makes a quick first run.",
            confirm="Train anyway",
            keep="Back to Setup",
        )
        self.app.push_screen(question, lambda go: self.post_message(self.StartRun(config)) if go else None)

    def checked_config(self, title: str, retry_key: str) -> RunConfig | None:
        """The valid config, or None after marking the bad fields and saying why."""
        try:
            return self.build_config()
        except ConfigError as err:
            invalid = [field for field in self.query(ConfigInput).results() if not _valid(field)]
            if invalid:
                invalid[0].focus()  # the core's hint speaks of presets and --set; here, the field is the fix
                marked = "the marked field" if len(invalid) == 1 else f"the {len(invalid)} marked fields"
                err = ConfigError(err.message, f"fix {marked}, then press {retry_key} again")
            self.show_status(err)
            self.notify(err.one_line(), title=title, severity="error")
            return None

    def action_list_suggestions(self) -> None:
        """Models (or, from the data field, data) seen before, to pick instead of typing."""
        key = "data.train" if self.focused is self.query_one("#data-train") else "model.name"
        target = self.query_one(f"#{key.replace('.', '-')}", ConfigInput)

        def use(value: str | None) -> None:
            if value:
                target.value = value
                target.focus()

        title = "Data seen before" if key == "data.train" else "Models: presets, recent runs, packaged, HF cache"
        self.app.push_screen(suggestion_picker(title, self.suggestions[key]), use)

    def action_open_preset(self) -> None:
        def chosen(path: Path | None) -> None:
            if path is None:
                return
            try:
                config = load_config(path)
            except WorkbenchError as err:
                self.notify(err.one_line(), title="can't load preset", severity="error")
                return
            self.fill_form(config)
            self.notify(f"loaded preset {config.name or path.stem}", timeout=3)
            warn_about(self, config)

        self.app.push_screen(preset_picker(), chosen)

    def action_save_preset(self) -> None:
        config = self.checked_config("can't save preset", "ctrl+s")
        if config is None:
            return

        def save(answer: tuple[str, str] | None, overwrite: bool = False) -> None:
            if not answer:
                return
            name, description = answer
            try:
                path = save_preset(config, name, overwrite=overwrite, description=description)
            except ConfigError as err:
                existing = user_presets_dir() / f"{name}.toml"
                if not overwrite and existing.exists():
                    question = ConfirmDialog("Preset exists", f"A preset named '{name}' is already at {_display_path(existing)}.\nReplace it with this setup?", confirm="Replace")
                    self.app.push_screen(question, lambda replace: save(answer, True) if replace else None)
                    return
                self.notify(err.one_line(), title="can't save preset", severity="error")
                return
            self.notify(f"saved preset {name} → {_display_path(str(path))}", timeout=4)

        self.app.push_screen(PresetNamePrompt(config.name or "", describe_config(config)), save)


def warn_about(screen: WorkbenchScreen, config: RunConfig) -> None:
    """The same warnings the CLI prints before a run, as notifications."""
    if config.model.trust_remote_code:
        screen.notify(f"trust_remote_code is on: code from {config.model.name} will run on this machine", severity="warning", timeout=8)
    if config.training.batching == "group_by_length":
        screen.notify(GROUP_BY_LENGTH_WARNING, severity="warning", timeout=8, markup=False)


def _is_default_rate(config: RunConfig) -> bool:
    """Whether the config's learning rate is its method's default (for its task)."""
    from workbench.config import default_learning_rate

    return config.training.learning_rate == default_learning_rate(config.task, config.method.kind)


def _valid(field: ConfigInput) -> bool:
    """Re-validate a field (which marks it) and say whether it passed."""
    result = field.validate(field.value)
    return result is None or result.is_valid


def _field(label: str, widget: Any) -> ComposeResult:
    yield Label(label, classes="field-label")
    yield widget


async def _quietly_in_thread(key: str, function: Callable[..., Any], *args: Any) -> tuple[Any, WorkbenchError | None]:
    """After a quiet spell (typing debounce), `function(*args)` in a thread: (result, None) or
    (None, error). An unexpected library error becomes a one-line error naming `key`."""
    await asyncio.sleep(DEBOUNCE_S)
    try:
        return await asyncio.to_thread(function, *args), None
    except WorkbenchError as err:
        return None, err
    except Exception as err:  # a library's own exception: show it, never crash the form
        return None, _unexpected(err, key)


def _unexpected(err: Exception, key: str) -> WorkbenchError:
    first = (str(err).splitlines() or [""])[0][:160]
    return WorkbenchError(f"{type(err).__name__}: {first}", f"check {key}; if it looks right, this is a bug worth reporting")


def _display_path(value: str | Path) -> str:
    """A path as short as it stays unambiguous: relative to the current folder, or with ~."""
    path = Path(value)
    if not path.is_absolute():
        return str(value)
    for base, prefix in ((Path.cwd(), ""), (Path.home(), "~/")):
        try:
            return prefix + str(path.relative_to(base))
        except ValueError:
            continue
    return str(value)
