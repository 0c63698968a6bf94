"""Helpers for tests that drive real tiny training processes through the CLI.

The tiny preset trains the random 2-layer BERT of `tests/conftest.py` on 72 rows (the
`tiny_csv` fixture): 9 steps an epoch, 18 in all, a checkpoint every 4 steps. Failures are
injected into the real training process through `workbench.faults` (`TLWB_FAULTS`).
"""

from __future__ import annotations

import io
import json
import os
import re
import select
import signal
import subprocess
import sys
import termios
import time
import uuid
from pathlib import Path
from typing import IO, Any, Callable

import pytest

from tests.core.tiny_training import tiny_config
from workbench import faults
from workbench.presets import config_to_toml
from workbench.runstore import RunDir

TLWB = [sys.executable, "-m", "workbench.cli"]
ANSI_ESCAPE = re.compile(r"\x1b(\[[0-9;?<>=$]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
TINY_STEPS = 18


def write_tiny_preset(folder: Path, model_dir: Path, data: Path, **training: Any) -> Path:
    """The tiny run of `tiny_training.tiny_config` as a preset file, checkpointing every 4 steps;
    `training` entries override its settings."""
    path = folder / "tiny.toml"
    path.write_text(config_to_toml(tiny_config(model_dir, data, **{"save_steps": 4, **training})))
    return path


def hooks_env(**hooks: Any) -> dict[str, str]:
    """This environment plus injected faults (`workbench.faults`), e.g. hooks_env(kill_at_step=5)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env.pop(faults.ENV, None)
    if hooks:
        env[faults.ENV] = faults.spec(**hooks)
    return env


class Hold:
    """A run held at the end of step `at_step` (`faults` `hold_at_step`) until `release()` or a
    cancel: "mid-way" for exactly as long as the test needs, however slow the machine is."""

    def __init__(self, folder: Path, at_step: int, **hooks: Any) -> None:
        self.gate = folder / f"release-{uuid.uuid4().hex[:8]}-at-{at_step}"  # one per hold, though tests share a folder
        self.env = hooks_env(hold_at_step=at_step, **hooks)
        self.env[faults.RELEASE_ENV] = str(self.gate)

    def release(self) -> None:
        self.gate.touch()


def tlwb(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*TLWB, *args], capture_output=True, text=True, env=env or hooks_env(), timeout=timeout)


def run_main(argv: list[str], capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch,
             stdin: str | IO[str] = "") -> tuple[int, str, str]:
    """`tlwb ARGV` through the real entry point in this process (no second start-up of torch):
    (exit code, stdout, stderr), reading `stdin` (text, or an open file). For checks that don't
    need a process of their own."""
    from workbench.cli import main

    monkeypatch.setattr(sys, "argv", ["tlwb", *argv])
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin) if isinstance(stdin, str) else stdin)
    capsys.readouterr()  # only what this command writes
    code = 0
    try:
        main()
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def start_detached(preset: Path, runs_dir: Path, env: dict[str, str] | None = None, *extra: str) -> RunDir:
    """`tlwb train --detach --json`; returns the run it started."""
    done = tlwb("train", str(preset), "--runs-dir", str(runs_dir), "--detach", "--json", *extra, env=env)
    assert done.returncode == 0, done.stderr
    return RunDir(Path(json.loads(done.stdout.strip().splitlines()[-1])["path"]))


def wait_for(predicate: Callable[[], Any], timeout: float = 300, interval: float = 0.2, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def events_of(run: RunDir, kind: str) -> list[dict[str, Any]]:
    return [event for event in run.events() if event["type"] == kind]


def wait_for_event(run: RunDir, kind: str, timeout: float = 300, **fields: Any) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        return next((e for e in events_of(run, kind) if all(e.get(k) == v for k, v in fields.items())), None)

    return wait_for(found, timeout, what=f"a {kind} event {fields or ''} in {run.id} (log: {run.log_path})")


def wait_until_ended(run: RunDir, timeout: float = 300) -> dict[str, Any]:
    """The status once the run is no longer starting/running."""
    return wait_for(lambda: (s := run.status())["state"] not in {"starting", "running"} and s, timeout, what=f"{run.id} to end")


def step_losses(run: RunDir) -> dict[int, float]:
    """Loss per logged step; a resumed run's repeated steps keep their latest value."""
    return {event["step"]: event["loss"] for event in events_of(run, "step")}


class PtyCommand:
    """A command whose controlling terminal is a pseudo-terminal we hold, like a shell in a window.

    `hang_up()` closes our side: the kernel then sends SIGHUP to the command, as when a terminal
    window is closed or an SSH link drops. `kill()` ends whatever a failed test left behind.
    """

    #: Every terminal opened, so that a test that fails half-way leaves no process running.
    opened: list[PtyCommand] = []

    def __init__(self, command: list[str], env: dict[str, str], size: tuple[int, int] = (80, 24), *, nohup: bool = False) -> None:
        """`nohup`: the command starts with SIGHUP ignored, as under `nohup` or a shell that ignores it."""
        import fcntl
        import struct

        self.master, slave = os.openpty()
        columns, rows = size
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.output = b""

        def take_terminal() -> None:  # runs in the child after setsid(): the pty becomes its terminal
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            # A terminal's command starts with SIGHUP and SIGINT at their defaults; a suite started
            # under nohup or as a background job would hand them down ignored.
            signal.signal(signal.SIGHUP, signal.SIG_IGN if nohup else signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)

        self.process = subprocess.Popen(
            command, stdin=slave, stdout=slave, stderr=slave, env={**env, "TERM": "xterm-256color"},
            start_new_session=True, preexec_fn=take_terminal,
        )
        os.close(slave)
        PtyCommand.opened.append(self)

    def read_until(self, needle: str, timeout: float = 300) -> str:
        """Read the terminal until `needle` appears (the child blocks if nobody reads)."""
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} never appeared; the terminal showed: {self.text()[-2000:]}")
            ready, _, _ = select.select([self.master], [], [], 0.5)
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:  # the child closed the terminal
                    break
        return self.text()

    def text(self) -> str:
        """What the terminal showed, without its escape sequences."""
        return ANSI_ESCAPE.sub("", self.output.decode("utf-8", errors="replace"))

    def hang_up(self) -> int:
        """Close the terminal; returns the command's exit status (negative: killed by that signal)."""
        os.close(self.master)
        self.master = -1
        return self.process.wait(timeout=120)

    def kill(self) -> None:
        """End the command's whole session and close our side, if not done already."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=30)
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
