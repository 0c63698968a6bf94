"""WorkbenchScreen: what every screen of the app shares.

Worker state changes don't bubble in Textual, so a failure in a screen's worker would vanish;
this base hands each one to the app, which shows a core error as its one-line message and hint.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.worker import Worker


class WorkbenchScreen(Screen):
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report = getattr(self.app, "report_worker_failure", None)
        if report is not None:
            report(event)
