"""The playground of a text-generation run: a multi-turn chat with its model, tokens streamed.

The model loads in a thread worker (`workbench.inference.load_run_model`) the first time the tab
is shown. Each reply is generated in a thread worker: `stream_reply` runs `model.generate` in a
thread of its own with a `TextIteratorStreamer`, and the worker posts the reply as it grows
(`ReplyGrew`, collapsing: a burst of tokens is drawn once). Nothing of it runs on the UI loop.
ctrl+l clears the conversation (and stops a reply being generated).
"""

from __future__ import annotations

import threading
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Static

from workbench.config import GenerationConfig
from workbench.errors import WorkbenchError
from workbench.runstore import RunDir
from workbench.streaming import stream_reply

from .playground import _why_no_model
from .status_text import StatusText

def load_model_of_run(run: RunDir) -> Any:
    """The run's trained model and tokenizer (a `LoadedRun`), through the core's loader."""
    from workbench.inference import load_run_model

    return load_run_model(run)


def settings_text(generation: GenerationConfig) -> Text:
    """`temperature 0 (greedy) · max new tokens 64 · ctrl+l clears` — what shapes each reply."""
    text = Text(no_wrap=True, overflow="ellipsis", style="dim")
    if generation.temperature > 0:
        text.append(f"temperature {generation.temperature:g} · top-p {generation.top_p:g}")
    else:
        text.append("temperature 0 (greedy)")
    text.append(f" · max new tokens {generation.max_new_tokens} · enter sends · ctrl+l clears")
    return text


def transcript(turns: list[dict[str, str]], pending: str | None) -> Text:
    """The conversation, one block per turn; a reply still coming ends with ▍."""
    text = Text()
    for turn in turns + ([{"role": "assistant", "content": pending}] if pending is not None else []):
        if text:
            text.append("\n")
        user = turn["role"] == "user"
        text.append("you   " if user else "model ", style="bold" if user else "bold cyan")
        text.append(turn["content"])
    if pending is not None:
        text.append("▍", style="blink")
    return text


class ChatPlayground(Vertical):
    """`activate()` loads the model on first use; enter sends a message once it is loaded."""

    DEFAULT_CSS = """
    ChatPlayground { height: 1fr; padding: 0 1; }
    ChatPlayground #chat-settings { height: 1; }
    ChatPlayground #chat-log { height: 1fr; }
    ChatPlayground #chat-transcript { height: auto; }
    ChatPlayground #chat-input { margin: 0; }
    """
    BINDINGS = [Binding("ctrl+l", "clear_chat", "Clear chat", priority=True)]

    class ModelReady(Message):
        def __init__(self, loaded: Any) -> None:
            super().__init__()
            self.loaded = loaded

    class ModelFailed(Message):
        def __init__(self, error: WorkbenchError) -> None:
            super().__init__()
            self.error = error

    class ReplyGrew(Message):
        """The reply of conversation `turn` so far (collapses: only the latest is drawn)."""

        def __init__(self, turn: int, text: str) -> None:
            super().__init__()
            self.turn, self.text = turn, text

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ChatPlayground.ReplyGrew) and message.turn == self.turn

    class ReplyDone(Message):
        def __init__(self, turn: int, text: str, error: WorkbenchError | None) -> None:
            super().__init__()
            self.turn, self.text, self.error = turn, text, error

    def __init__(self, run: RunDir, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run = run
        self.loaded: Any = None
        self.turns: list[dict[str, str]] = []
        self.pending: str | None = None  # the reply being generated
        self._loading = False
        self._conversation = 0  # bumped by clear: pieces of an older conversation are dropped
        self._stop = threading.Event()

    def compose(self) -> ComposeResult:
        yield Static(id="chat-settings")
        with VerticalScroll(id="chat-log"):
            yield Static(id="chat-transcript")
            yield StatusText(id="chat-status")
        yield Input(placeholder="message the model; enter sends", id="chat-input")

    @property
    def generation(self) -> GenerationConfig:
        config = getattr(self.loaded, "config", None)
        return config.generation if config is not None else GenerationConfig()

    # -- the model ------------------------------------------------------------------------------
    def activate(self) -> None:
        """Load the model unless it is loaded, loading, or the run has none (then say so)."""
        status = self.query_one(StatusText)
        if self.loaded is not None or self._loading:
            return
        if self.run.trained_model_dir() is None:
            status.show(Text(_why_no_model(self.run.status().get("state", "unknown")), style="dim"))
            return
        self._loading = True
        status.show_loading("loading model…")
        self.load_model()

    @work(thread=True, exclusive=True, group="chat-load", exit_on_error=False)
    def load_model(self) -> None:
        try:
            self.post_message(self.ModelReady(load_model_of_run(self.run)))
        except WorkbenchError as err:
            self.post_message(self.ModelFailed(err))
        except Exception as err:  # a broken model folder must not take the app down
            self.post_message(self.ModelFailed(WorkbenchError(f"can't load this run's model: {type(err).__name__}: {err}", "check the run's model folder")))

    def on_chat_playground_model_ready(self, message: ModelReady) -> None:
        self._loading = False
        self.loaded = message.loaded
        self.query_one("#chat-settings", Static).update(settings_text(self.generation))
        self.query_one(StatusText).show(Text("model loaded: type a message below", style="dim"))

    def on_chat_playground_model_failed(self, message: ModelFailed) -> None:
        self._loading = False
        self.query_one(StatusText).show_error(message.error)

    # -- the conversation -------------------------------------------------------------------------
    @on(Input.Submitted, "#chat-input")
    def _send(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if self.loaded is None or not text:
            return
        if self.pending is not None:
            self.notify("the model is still answering: wait, or ctrl+l to clear", severity="warning", timeout=3)
            return
        event.input.value = ""
        self.turns.append({"role": "user", "content": text})
        self.pending = ""
        self.query_one(StatusText).show("")
        self._show()
        self._stop = threading.Event()
        self.reply(list(self.turns), self._conversation, self._stop)

    @work(thread=True, group="chat-reply", exit_on_error=False)
    def reply(self, messages: list[dict[str, str]], conversation: int, stop: threading.Event) -> None:
        text = ""
        try:
            for piece in stream_reply(self.loaded, messages, self.generation, stop):
                text += piece
                self.post_message(self.ReplyGrew(conversation, text))
        except Exception as err:
            error = WorkbenchError(f"generation failed: {type(err).__name__}: {err}", "try a shorter conversation (ctrl+l clears)")
            self.post_message(self.ReplyDone(conversation, text, error))
            return
        self.post_message(self.ReplyDone(conversation, text, None))

    def on_chat_playground_reply_grew(self, message: ReplyGrew) -> None:
        if message.turn == self._conversation and self.pending is not None:
            self.pending = message.text
            self._show()

    def on_chat_playground_reply_done(self, message: ReplyDone) -> None:
        if message.turn != self._conversation:
            return
        self.pending = None
        if message.text:
            self.turns.append({"role": "assistant", "content": message.text})
        elif self.turns and self.turns[-1]["role"] == "user" and message.error is not None:
            self.turns.pop()  # nothing came back: the question can be asked again
        self._show()
        if message.error is not None:
            self.query_one(StatusText).show_error(message.error)

    def action_clear_chat(self) -> None:
        self._stop.set()
        self._conversation += 1
        self.turns, self.pending = [], None
        self._show()
        self.query_one(StatusText).show(Text("conversation cleared", style="dim") if self.loaded is not None else "")

    def _show(self) -> None:
        self.query_one("#chat-transcript", Static).update(transcript(self.turns, self.pending))
        self.query_one("#chat-log", VerticalScroll).scroll_end(animate=False)
