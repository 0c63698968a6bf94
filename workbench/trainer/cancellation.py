"""Cancellation of the training process, caught from its first instant.

`tlwb cancel`, the TUI and Ctrl-C send SIGTERM/SIGINT. The handler is installed before the heavy
imports and the model load, so a cancel that arrives while the run is still starting ends it as
`cancelled` rather than killing it mid-way (which would read as a vanished, failed run). Once
training runs, the EventCallback polls `requested()` at every step end.
"""

from __future__ import annotations

import signal
from typing import Any

_requested = False


def _on_signal(signum: int, frame: Any) -> None:
    global _requested
    _requested = True


def install() -> None:
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)


def requested() -> bool:
    return _requested
