"""The one error type the core raises for problems a user can fix.

Every message is one line naming the problem; `hint` is one line naming the fix. The CLI prints
both and exits 2; the TUI shows them in a notification. Anything else is a bug and may traceback.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """A problem with the user's input or environment, with a one-line fix."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "", *, kind: str = "error") -> None:
        super().__init__(message)
        self.message = " ".join(message.split())
        self.hint = " ".join(hint.split())
        self.kind = kind

    def __str__(self) -> str:
        return self.message

    def one_line(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class ConfigError(WorkbenchError):
    """A preset, config or override is invalid."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message, hint, kind="config")


class DataError(WorkbenchError):
    """A dataset can't be found, read or understood."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message, hint, kind="data")


class ModelError(WorkbenchError):
    """A model can't be resolved or loaded."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message, hint, kind="model")


class RunError(WorkbenchError):
    """A run directory is missing, unfinished or in the wrong state."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message, hint, kind="run")
