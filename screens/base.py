"""WorkbenchScreen: what every screen of the app shares.

Worker state changes don't bubble in Textual, so a failure in a screen's worker would vanish;
this base turns each one into a `WorkerFailed` message that bubbles to the app, which shows a
core error as its one-line message and hint.
"""

from __future__ import annotations

from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerState


class WorkbenchScreen(Screen):
    class WorkerFailed(Message):
        """One of the screen's workers raised; `worker.error` says what (the app notifies it)."""

        def __init__(self, worker: Worker) -> None:
            super().__init__()
            self.worker = worker

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.post_message(self.WorkerFailed(event.worker))
