"""Snapshots that don't depend on timing, and a mismatch that says how in the test's own output.

The `snap_compare` here wraps pytest-textual-snapshot's:
- before the capture, every text cursor on the screen stops blinking (shown, steady): a blinking
  cursor is captured on or off depending on when the capture falls, which failed a busy run;
- on a mismatch, which the plugin reports as `assert False` and an HTML report that a CI run
  doesn't keep, it prints the two screens as text, their line-by-line difference (or, with the
  same text, the difference in styles) and where the focus was, so a rare mismatch on a loaded
  machine can be read from the log alone.
"""

from __future__ import annotations

import difflib
import html
import inspect
import pickle
import re
from collections.abc import Callable
from typing import Any

import pytest
from pytest_textual_snapshot import node_to_report_path

from tests.tui.harness import settled

#: A character cell's width in the SVGs Textual exports.
CELL_WIDTH = 12.2
TEXT_RUN = re.compile(r'<text class="terminal-(?:\d+-)?(r\d+)" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>')
STYLE_CLASS = re.compile(r"\.terminal-(?:\d+-)?(r\d+)\s*\{\s*([^}]*)\}")
BACKGROUND = re.compile(r'<rect fill="([^"]+)" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)"')


def svg_lines(svg: str) -> list[str]:
    """The text of a Textual SVG screenshot, one string per terminal row."""
    rows: dict[float, list[tuple[float, str]]] = {}
    for _, x, y, text in TEXT_RUN.findall(svg):
        rows.setdefault(float(y), []).append((float(x), html.unescape(text)))
    lines = []
    for y in sorted(rows):
        line = ""
        for x, text in sorted(rows[y]):
            line = line.ljust(round(x / CELL_WIDTH)) + text
        lines.append(line.rstrip())
    return lines


def svg_styles(svg: str) -> list[str]:
    """`row:column style text` for every text run and `row:column width colour` for every background
    (styles resolved from the SVG's own classes, whose numbering differs between captures): a
    mismatch with the same text differs here, e.g. a cursor drawn in one and not the other."""
    styles = dict(STYLE_CLASS.findall(svg))
    runs = [f"{float(y):.0f}:{round(float(x) / CELL_WIDTH)} {styles.get(cls, cls).strip()} {html.unescape(text)!r}"
            for cls, x, y, text in TEXT_RUN.findall(svg)]
    backgrounds = [f"{float(y):.0f}:{round(float(x) / CELL_WIDTH)} w{round(float(width) / CELL_WIDTH)} {fill}"
                   for fill, x, y, width in BACKGROUND.findall(svg)]
    return runs + backgrounds


def mismatch_report(expected: str, actual: str, focused: str) -> str:
    """What a mismatched snapshot showed, and how it differs from the stored one."""
    expected_lines, actual_lines = svg_lines(expected), svg_lines(actual)
    parts = [f"focused when captured: {focused}", "the screen captured:", *actual_lines]
    text_diff = list(difflib.unified_diff(expected_lines, actual_lines, "expected", "actual", lineterm="", n=0))
    if text_diff:
        parts += ["text difference:", *text_diff]
    else:
        style_diff = difflib.unified_diff(svg_styles(expected), svg_styles(actual), "expected", "actual", lineterm="", n=0)
        parts += ["same text; the styles differ:", *list(style_diff)[:40]]
    return "\n".join(parts)


@pytest.fixture
def snap_compare(snap_compare: Callable[..., bool], request: pytest.FixtureRequest) -> Callable[..., bool]:
    """The plugin's `snap_compare`, capturing with steady cursors and printing what differs when
    the screen doesn't match."""

    def compare(app: Any, *args: Any, run_before: Callable | None = None, **kwargs: Any) -> bool:
        focused: list[str] = ["(not recorded)"]

        async def recorded(pilot: Any) -> None:
            if run_before is not None:
                result = run_before(pilot)
                if inspect.isawaitable(result):
                    await result
            for editor in pilot.app.screen.query("Input, TextArea"):
                editor.cursor_blink = False
            await settled(pilot)
            focused[0] = repr(pilot.app.focused)

        matched = snap_compare(app, *args, run_before=recorded, **kwargs)
        if not matched:
            report = node_to_report_path(request.node)
            if report.exists():
                _, expected, actual, *_ = pickle.loads(report.read_bytes())
                print(mismatch_report(str(expected), actual, focused[0]))
        return matched

    return compare
