"""A snapshot that doesn't match says how, in the test's own output.

pytest-textual-snapshot reports a mismatch as `assert False` and an HTML report, which a CI run
doesn't keep. The `snap_compare` here wraps the plugin's: on a mismatch it prints the two screens
as text, their line-by-line difference, and where the focus was, so a rare mismatch on a loaded
machine can be read from the log alone.
"""

from __future__ import annotations

import difflib
import html
import pickle
import re
from collections.abc import Callable
from typing import Any

import pytest
from pytest_textual_snapshot import node_to_report_path

#: A character cell's width in the SVGs Textual exports.
CELL_WIDTH = 12.2
TEXT_ELEMENT = re.compile(r'<text class="([^"]*)" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>')


def svg_lines(svg: str) -> list[str]:
    """The text of a Textual SVG screenshot, one string per terminal row."""
    rows: dict[float, list[tuple[float, str]]] = {}
    for match in TEXT_ELEMENT.finditer(svg):
        rows.setdefault(float(match.group(3)), []).append((float(match.group(2)), html.unescape(match.group(4))))
    lines = []
    for y in sorted(rows):
        line = ""
        for x, text in sorted(rows[y]):
            line = line.ljust(round(x / CELL_WIDTH)) + text
        lines.append(line.rstrip())
    return lines


def svg_styles(svg: str) -> list[str]:
    """`row:column class` for every text run: a mismatch with the same text differs here."""
    return [f"{float(y):.0f}:{round(float(x) / CELL_WIDTH)} {re.sub(r'terminal-[0-9]+-', '', cls)} {html.unescape(text)!r}"
            for cls, x, y, text in TEXT_ELEMENT.findall(svg)]


def mismatch_report(expected: str, actual: str, focused: str) -> str:
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
    """The plugin's `snap_compare`, printing what differs when the screen doesn't match."""

    def compare(app: Any, *args: Any, run_before: Callable | None = None, **kwargs: Any) -> bool:
        focused: list[str] = ["(not recorded)"]

        async def recorded(pilot: Any) -> None:
            if run_before is not None:
                result = run_before(pilot)
                if hasattr(result, "__await__"):
                    await result
            focused[0] = repr(pilot.app.focused)

        matched = snap_compare(app, *args, run_before=recorded, **kwargs)
        if not matched:
            report = node_to_report_path(request.node)
            if report.exists():
                _, expected, actual, *_ = pickle.loads(report.read_bytes())
                print(mismatch_report(str(expected), actual, focused[0]))
        return matched

    return compare
