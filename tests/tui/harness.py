"""What the pilot tests of the app share: waiting on a condition, a fast watcher, a safe cancel,
the messages a screen sent.

Import the fixtures into a test module (`from tests.tui.harness import fast_watchers, cancels`).
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

import pytest
from textual.message import Message
from textual.pilot import Pilot
from textual.screen import ModalScreen

from workbench import runner
from workbench.runstore import RunDir

M = TypeVar("M", bound=Message)
#: Captures in a row (50 ms apart) that must match before a screen counts as settled: one pair can
#: fall between a message posted and a loaded machine getting round to it.
SETTLED_CAPTURES = 3


async def wait_for(pilot: Pilot, condition: Callable[[], object], timeout: float = 60.0, what: str = "") -> None:
    """Pause the test (not the app) until `condition()` is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what or condition}")
        await pilot.pause(0.05)


async def press_until(pilot: Pilot, key: str, condition: Callable[[], object], what: str, attempts: int = 3, each: float = 20.0) -> None:
    """Press `key` until `condition()` holds (at most `attempts` times, `each` seconds apart).

    For a key pressed as a screen opens: on a loaded machine one such key in a few hundred was
    lost (the tab never switched) and no trace of where it went could be caught. A person presses
    again; so does this, and the test stays about what the key shows, not about that race."""
    for attempt in range(attempts):
        await pilot.press(key)
        try:
            await wait_for(pilot, condition, timeout=each, what=what)
            return
        except AssertionError:
            if attempt == attempts - 1:
                raise


@pytest.fixture
def fast_watchers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Watchers poll every 20 ms and curves redraw at once, so tests don't sit through real pacing."""
    from screens.run_watcher import RunWatcher
    from screens.train import TrainScreen

    monkeypatch.setattr(RunWatcher, "poll_s", 0.02)
    monkeypatch.setattr(RunWatcher, "status_every_s", 0.1)
    monkeypatch.setattr(TrainScreen, "curves_every_s", 0.05)


@pytest.fixture
def cancels(monkeypatch: pytest.MonkeyPatch) -> list[RunDir]:
    """Records cancel requests instead of signalling: a fake run's pid is the test process itself."""
    asked: list[RunDir] = []

    def fake_cancel(run: RunDir) -> bool:
        asked.append(run)
        return True

    monkeypatch.setattr(runner, "cancel", fake_cancel)
    return asked


def sent(messages: list[Message], kind: type[M]) -> list[M]:
    """The messages of `kind` in a `message_hook` record (`run_test(message_hook=messages.append)`),
    each once: the hook sees a bubbling message at every node it reaches."""
    return list({id(message): message for message in messages if isinstance(message, kind)}.values())


async def wait_for_screen(pilot: Pilot, kind: type, timeout: float = 60.0):
    """The app's current screen once it is of type `kind` and mounted (its widgets composed); a modal
    dialog also once it has focused its answer, so a key pressed next starts from that answer."""

    def ready() -> bool:
        screen = pilot.app.screen
        if not (isinstance(screen, kind) and screen.is_mounted):
            return False
        return not isinstance(screen, ModalScreen) or screen.focused is not None

    await wait_for(pilot, ready, timeout, what=f"the {kind.__name__}")
    return pilot.app.screen


async def wait_for_first_screen(pilot: Pilot) -> None:
    """The app has shown its first screen (so a test's own navigation isn't overtaken by it)."""
    await wait_for(pilot, lambda: pilot.app.current_slot() is not None, what="the first screen")


async def settled(pilot: Pilot, timeout: float = 60.0) -> None:
    """The current screen has nothing left to do: none of its workers running (the app's own, such
    as a run watcher, may go on) and the screen the same across a pause (a layout that moves once
    more, e.g. when a scroll bar appears, has moved) over `SETTLED_CAPTURES` captures. Snapshot
    tests call it last, so that a busy machine can't catch the screen half-drawn."""
    deadline = time.monotonic() + timeout
    previous, unchanged = None, 0
    while True:
        await pilot.pause(0.05)
        screen = pilot.app.screen
        busy = [w for w in pilot.app.workers if w.is_running and screen in w.node.ancestors_with_self]
        drawn = pilot.app.export_screenshot()
        unchanged = unchanged + 1 if drawn == previous and not busy else 0
        if unchanged >= SETTLED_CAPTURES:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the screen did not settle in {timeout:.0f}s (still running: {busy})")
        previous = drawn
