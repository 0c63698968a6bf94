"""Inline completion for Setup's fields: file paths from the disk, then known values.

The suggestion appears greyed after the cursor; → (or End) accepts it, as in a shell.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from textual.suggester import Suggester

#: Entries listed per folder at most (a huge folder must not stall a keystroke).
MAX_ENTRIES = 2000


def complete_path(value: str) -> str | None:
    """The first file or folder that extends `value` (folders end with `/`); hidden ones only if asked."""
    if not value or not value.startswith(("/", ".", "~")) and os.sep not in value:
        return None
    expanded = os.path.expanduser(value)
    folder, prefix = os.path.split(expanded)
    try:
        with os.scandir(folder or ".") as entries:
            names = []
            for index, entry in enumerate(entries):
                if index >= MAX_ENTRIES:
                    break
                if entry.name.startswith(prefix) and (prefix.startswith(".") or not entry.name.startswith(".")):
                    names.append(entry.name + ("/" if entry.is_dir() else ""))
    except OSError:
        return None
    if not names:
        return None
    best = sorted(names, key=lambda name: (name.endswith("/"), name))[0]
    completed = os.path.join(folder, best) if folder else best
    if value.startswith("~"):
        home = str(Path.home())
        completed = "~" + completed[len(home):] if completed.startswith(home) else completed
    return completed if completed != value else None


class SourceSuggester(Suggester):
    """Completes local paths from the filesystem, otherwise from `known` values (hub ids, recent)."""

    def __init__(self, known: Iterable[str] = (), *, paths: bool = True) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.known = list(known)
        self.paths = paths

    async def get_suggestion(self, value: str) -> str | None:
        if self.paths:
            completed = complete_path(value)
            if completed:
                return completed
        folded = value.casefold()
        for candidate in self.known:
            if candidate.casefold().startswith(folded) and candidate != value:
                return candidate
        return None
