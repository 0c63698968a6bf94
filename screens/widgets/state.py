"""A run's state as words with colour (never colour alone), for the header, tables and logs."""

from __future__ import annotations

from rich.text import Text

STATE_STYLES = {
    "starting": "cyan",
    "running": "bold cyan",
    "finished": "bold green",
    "failed": "bold red",
    "cancelled": "yellow",
}


def state_text(state: str, detail: str = "") -> Text:
    """`running 63%`, `failed`: the word in its colour, with an optional plain detail."""
    text = Text(state, style=STATE_STYLES.get(state, "dim"))
    if detail:
        text.append(f" {detail}")
    return text
