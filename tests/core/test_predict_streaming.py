"""`tlwb predict` over long input, without a model: lines are read a chunk at a time and each
chunk is written before the next is read; progress goes to stderr."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from workbench.cli import predicting
from workbench.cli.predicting import CHUNK_ROWS, Progress, predict_in_chunks, stdin_lines


def test_no_more_than_a_chunk_is_read_ahead_of_what_is_written() -> None:
    read = 0

    def lines():
        nonlocal read
        for i in range(CHUNK_ROWS * 3 + 5):
            read += 1
            yield f"line {i}"

    written: list[tuple[int, list[str]]] = []
    rows = predict_in_chunks(lambda chunk: [{"text": t} for t in chunk], lines(),
                             lambda results: written.append((read, [r["text"] for r in results])), None)
    assert rows == CHUNK_ROWS * 3 + 5
    assert [len(chunk) for _, chunk in written] == [CHUNK_ROWS, CHUNK_ROWS, CHUNK_ROWS, 5]
    assert all(read_then <= (n + 1) * CHUNK_ROWS for n, (read_then, _) in enumerate(written))
    assert [t for _, chunk in written for t in chunk] == [f"line {i}" for i in range(rows)]


def test_stdin_lines_drop_blank_lines_and_line_ends() -> None:
    assert list(stdin_lines(io.StringIO("a\r\n\n  \nb c\nlast"))) == ["a", "b c", "last"]


def test_progress_in_a_log_and_through_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(predicting, "LOG_EVERY_S", 0.0)
    source = tmp_path / "in.txt"
    source.write_text("x\n" * 100_000)
    log = io.StringIO()
    with source.open() as handle:
        progress = Progress(log, handle.fileno())
        handle.read(100_000)  # half-way through the file
        progress.advance(2048)
    progress.done()
    first, last = log.getvalue().splitlines()
    assert first.startswith("predicted 2,048 rows · ") and first.endswith("% of the input")
    assert 40 <= int(first.rsplit("·", 1)[1].split("%")[0]) <= 60
    assert last.startswith("predicted 2,048 rows in ")


def test_a_short_input_says_nothing_unless_asked() -> None:
    log = io.StringIO()
    progress = Progress(log, quiet_until=CHUNK_ROWS)
    progress.advance(3)
    progress.done()
    assert log.getvalue() == ""
