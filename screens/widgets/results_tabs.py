"""Results' tabs: switched by keys and clicks only, never by where the focus lands."""

from __future__ import annotations

from textual.widgets import TabbedContent, TabPane


class ResultsTabs(TabbedContent):
    """A TabbedContent that ignores "a widget in a pane was focused: show that pane".

    Results moves the focus into a pane only after that pane's tab is shown. Textual's rule would
    let a focus still on its way from an earlier tab (e.g. the first one's, as the screen opens)
    undo a key pressed in between: `5` showed Label errors and Metrics came straight back. The
    keyboard can't focus a widget in a hidden pane, so nothing else relies on the rule here.
    """

    def _on_tab_pane_focused(self, event: TabPane.Focused) -> None:
        event.stop()
