"""`hold_at_step` (workbench.faults): held until released or cancelled, and never for ever."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from workbench import faults


@pytest.fixture
def held_at_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    gate = tmp_path / "release"
    monkeypatch.setenv(faults.ENV, faults.spec(hold_at_step=3))
    monkeypatch.setenv(faults.RELEASE_ENV, str(gate))
    return gate


def step_end_in_thread(step: int, cancelled=lambda: False) -> threading.Thread:
    thread = threading.Thread(target=faults.step_end, args=(step, 8, 0, cancelled), daemon=True)
    thread.start()
    return thread


def test_only_the_named_step_is_held_until_the_gate_opens(held_at_3: Path) -> None:
    faults.step_end(2, 8)  # returns at once
    held = step_end_in_thread(3)
    held.join(0.5)
    assert held.is_alive()
    held_at_3.touch()
    held.join(30)
    assert not held.is_alive()


def test_a_cancel_ends_the_hold(held_at_3: Path) -> None:
    cancel = threading.Event()
    held = step_end_in_thread(3, cancel.is_set)
    held.join(0.5)
    assert held.is_alive()
    cancel.set()
    held.join(30)
    assert not held.is_alive()


def test_a_hold_nobody_releases_ends_at_the_ceiling(held_at_3: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faults, "HOLD_CEILING_S", 0.3)
    started = time.monotonic()
    faults.step_end(3, 8)
    assert time.monotonic() - started >= 0.3 and not held_at_3.exists()
