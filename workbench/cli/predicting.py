"""`tlwb predict` over many lines: read a chunk, predict it, write it, go on.

A 100,000-line file piped in is never held whole (nor twice): stdin is read `CHUNK_ROWS` lines at
a time, each chunk is predicted in batches of similar length (the task's `predict` puts the
results back in input order) and written out before the next is read. Tables keep one header and
the same column widths across chunks, so the output reads as one table. A long input shows its
progress on stderr: one line rewritten on a terminal, a line every `LOG_EVERY_S` seconds in a
log, and the total at the end.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from rich.console import Console

from .. import humanize

#: Lines predicted at a time.
CHUNK_ROWS = 1024
#: Prompts answered at a time (`--json`): generating is slow, so answers come out sooner.
GENERATION_CHUNK_ROWS = 32
#: A log (stderr not a terminal) gets a progress line this often at most.
LOG_EVERY_S = 5.0


def stdin_lines(stream: IO[str]) -> Iterator[str]:
    """The non-blank lines of `stream`, without their line ends (\\n or \\r\\n), read lazily."""
    for line in stream:
        text = line.rstrip("\r\n")
        if text.strip():
            yield text


def chunks(lines: Iterable[str], size: int = CHUNK_ROWS) -> Iterator[list[str]]:
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class Progress:
    """Rows predicted so far, the rate, and (when stdin is a file) how far through it we are."""

    def __init__(self, stream: IO[str], source_fd: int | None = None, *, quiet_until: int = 0) -> None:
        """`quiet_until`: say nothing, not even the total, for an input of at most that many rows."""
        self.stream = stream
        self.quiet_until = quiet_until
        self.terminal = stream.isatty()
        self.started = time.monotonic()
        self.rows = 0
        self._last_log = self.started
        self._source_fd, self._source_size = source_fd, _regular_file_size(source_fd)

    def advance(self, rows: int) -> None:
        self.rows += rows
        now = time.monotonic()
        if self.rows <= self.quiet_until:
            return
        if self.terminal:
            self.stream.write(f"\r{self._line(now)}\x1b[K")
            self.stream.flush()
        elif now - self._last_log >= LOG_EVERY_S:
            self._last_log = now
            self.stream.write(self._line(now) + "\n")
            self.stream.flush()

    def done(self) -> None:
        if self.rows <= self.quiet_until:
            return
        seconds = time.monotonic() - self.started
        rate = self.rows / seconds if seconds > 0 else 0.0
        ending = "\r\x1b[K" if self.terminal else ""
        self.stream.write(f"{ending}predicted {self.rows:,} rows in {humanize.duration(seconds)} ({rate:,.0f} rows/s)\n")
        self.stream.flush()

    def _line(self, now: float) -> str:
        seconds = now - self.started
        line = f"predicted {self.rows:,} rows · {self.rows / seconds if seconds > 0 else 0:,.0f} rows/s"
        if self._source_size:
            try:
                position = os.lseek(self._source_fd, 0, os.SEEK_CUR)  # type: ignore[arg-type]
                line += f" · {min(100, 100 * position // self._source_size)}% of the input"
            except OSError:
                pass
        return line


def _regular_file_size(fd: int | None) -> int | None:
    """The size of the file behind `fd` when it is a plain file (`< file.txt`), else None."""
    if fd is None:
        return None
    try:
        info = os.fstat(fd)
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def predict_in_chunks(
    predict: Callable[[list[str]], list[dict[str, Any]]],
    lines: Iterable[str],
    write: Callable[[list[dict[str, Any]]], None],
    progress: Progress | None,
    chunk_rows: int = CHUNK_ROWS,
) -> int:
    """Predict `lines` a chunk at a time, writing each chunk's results before reading on;
    returns the number of rows."""
    rows = 0
    for chunk in chunks(lines, chunk_rows):
        write(predict(chunk))
        rows += len(chunk)
        if progress is not None:
            progress.advance(len(chunk))
    if progress is not None:
        progress.done()
    return rows


def show_progress(wanted: bool | None, from_stdin: bool) -> Progress | None:
    """Progress on stderr: always when asked (`--progress`); by default when lines come from
    stdin, stderr is a terminal and there are more than a chunk of them (a script's captured
    stderr and a one-line `echo … |` stay clean)."""
    if wanted is False or (wanted is None and not (from_stdin and sys.stderr.isatty())):
        return None
    source = sys.stdin.fileno() if from_stdin and _has_fileno(sys.stdin) else None
    return Progress(sys.stderr, source, quiet_until=0 if wanted else CHUNK_ROWS)


def _has_fileno(stream: IO[str]) -> bool:
    try:
        stream.fileno()
    except (OSError, ValueError, AttributeError):
        return False
    return True


class TableWriter:
    """Predictions as one table written a chunk at a time: the header once, fixed widths."""

    def __init__(self, console: Console, names: list[str]) -> None:
        self.console = console
        self.names = names
        self.first = True

    def __call__(self, results: list[dict[str, Any]]) -> None:
        from .report import prediction_table

        self.console.print(prediction_table(results, self.names, header=self.first))
        self.first = False
