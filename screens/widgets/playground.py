"""Type a sentence, see what the run's model says: label and probabilities, or entities.

The model loads in a thread worker the first time the playground is shown ("loading model…");
predictions run in a thread too, debounced while typing, so the UI never waits on torch.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from workbench.errors import WorkbenchError
from workbench.runstore import RunDir

from .bars import BarChart
from .entities import EntityStyles, chars_text
from .status_text import StatusText

#: Quiet time after a keystroke before predicting.
DEBOUNCE_S = 0.3


def describe_prediction(result: dict[str, Any], styles: EntityStyles | None = None) -> RenderableType:
    """A `predict()` result: entities highlighted in the text, or the label with its probabilities."""
    if "entities" in result:
        entities = result["entities"]
        lines: list[RenderableType] = [chars_text(result.get("text", ""), entities, styles or EntityStyles()), Text("")]
        if not entities:
            lines.append(Text("no entities found", style="dim"))
        for entity in entities:
            line = Text(f"{entity['type']:<6} ", style="bold")
            line.append(entity["text"])
            line.append(f"  {float(entity.get('confidence') or 0.0):.2f}", style="dim")
            lines.append(line)
        return Group(*lines)
    heading = Text("→ ", style="dim")
    heading.append(str(result.get("label", "")), style="bold")
    heading.append(f"  {float(result.get('confidence') or 0.0):.2f}", style="dim")
    probs = dict(sorted((result.get("probs") or {}).items(), key=lambda item: -item[1]))
    return Group(heading, Text(""), BarChart(probs, highlight=str(result.get("label"))))


class Playground(Vertical):
    """`activate()` loads the model on first use; typing predicts once it is loaded."""

    DEFAULT_CSS = """
    Playground { height: 1fr; padding: 0 1; }
    Playground #playground-input { margin: 1 0; }
    Playground #playground-result { height: auto; }
    """

    class ModelReady(Message):
        def __init__(self, loaded: Any) -> None:
            super().__init__()
            self.loaded = loaded

    class ModelFailed(Message):
        def __init__(self, error: WorkbenchError) -> None:
            super().__init__()
            self.error = error

    class Predicted(Message):
        def __init__(self, text: str, result: dict[str, Any]) -> None:
            super().__init__()
            self.text, self.result = text, result

    def __init__(self, run: RunDir, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run = run
        self.loaded: Any = None
        self.entity_styles = EntityStyles()
        self._loading = False
        self._predict_lock = threading.Lock()  # fast tokenizers refuse concurrent use

    def compose(self) -> ComposeResult:
        yield Input(placeholder="type a sentence; the prediction follows as you type", id="playground-input")
        yield StatusText(id="playground-result")

    def activate(self) -> None:
        """Load the model unless it is loaded, loading, or the run has none (then say so)."""
        result = self.query_one(StatusText)
        if self.loaded is not None or self._loading:
            return
        if self.run.trained_model_dir() is None:
            result.show(Text(_why_no_model(self.run.status().get("state", "unknown")), style="dim"))
            return
        self._loading = True
        result.show_loading("loading model…")
        self.load_model()

    @work(thread=True, exclusive=True, group="playground-load", exit_on_error=False)
    def load_model(self) -> None:
        from workbench.inference import load_run_model

        try:
            self.post_message(self.ModelReady(load_run_model(self.run)))
        except WorkbenchError as err:
            self.post_message(self.ModelFailed(err))
        except Exception as err:  # a broken model folder must not take the app down
            self.post_message(self.ModelFailed(WorkbenchError(f"can't load this run's model: {type(err).__name__}: {err}", "check the run's model folder")))

    def on_playground_model_ready(self, message: ModelReady) -> None:
        self._loading = False
        self.loaded = message.loaded
        self.entity_styles = EntityStyles(_entity_types(message.loaded))
        text = self.query_one("#playground-input", Input).value
        if text.strip():
            self.predict(text, 0.0)
        else:
            self.query_one(StatusText).show(Text("model loaded: type a sentence above", style="dim"))

    def on_playground_model_failed(self, message: ModelFailed) -> None:
        self._loading = False
        self.query_one(StatusText).show_error(message.error)

    @on(Input.Changed, "#playground-input")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        if self.loaded is not None and event.value.strip():
            self.predict(event.value, DEBOUNCE_S)

    @on(Input.Submitted, "#playground-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.loaded is not None and event.value.strip():
            self.predict(event.value, 0.0)

    @work(exclusive=True, group="playground-predict", exit_on_error=False)
    async def predict(self, text: str, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            [result] = await asyncio.to_thread(self._predict_one, text)
        except Exception as err:
            self.post_message(self.ModelFailed(WorkbenchError(f"prediction failed: {type(err).__name__}: {err}", "try a shorter text")))
            return
        self.post_message(self.Predicted(text, result))

    def _predict_one(self, text: str) -> list[dict[str, Any]]:
        with self._predict_lock:
            return self.loaded.predict([text])

    def on_playground_predicted(self, message: Predicted) -> None:
        if message.text == self.query_one("#playground-input", Input).value:
            self.query_one(StatusText).show(describe_prediction(message.result, self.entity_styles))


def _why_no_model(state: str) -> str:
    if state in ("starting", "running"):
        return "The run is still training: the playground opens once it finishes and saves its model."
    if state == "finished":
        return "This run finished but its model folder is missing or incomplete, so there is nothing to try."
    return f"This run ended {state} before saving a model, so there is nothing to try (`tlwb resume` can finish it)."


def _entity_types(loaded: Any) -> list[str]:
    labels = getattr(getattr(loaded, "model", None), "config", None)
    names = list(getattr(labels, "id2label", {}).values()) if labels is not None else []
    return sorted({name.split("-", 1)[1] for name in names if "-" in name})
