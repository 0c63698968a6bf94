"""Named entities drawn inline: `Angela Merkel/PER visited Paris/LOC .`

Each entity type gets a colour *and* keeps its type written after it, so a sentence reads the
same without colour. Used by the predictions table, the example view and the playground.
"""

from __future__ import annotations

from typing import Any, Iterable

from rich.text import Text

PALETTE = ("cyan", "magenta", "yellow", "green", "blue", "red", "bright_cyan", "bright_magenta")


class EntityStyles:
    """A stable colour per entity type (by sorted name, so runs with one type set agree)."""

    def __init__(self, types: Iterable[str] = ()) -> None:
        self.types = sorted(set(types))

    def style(self, kind: str) -> str:
        if kind not in self.types:
            self.types = sorted({*self.types, kind})
        return f"bold underline {PALETTE[self.types.index(kind) % len(PALETTE)]}"


def tokens_text(tokens: list[str], entities: list[dict[str, Any]], styles: EntityStyles, marks: dict[tuple, str] | None = None) -> Text:
    """Words joined by spaces, entities (token spans, end exclusive) highlighted and typed.

    `marks` maps `(start, end, type)` to a symbol drawn before that entity (✗ for a wrong one).
    """
    starts = {entity["start"]: entity for entity in entities}
    text = Text()
    index = 0
    while index < len(tokens):
        if index:
            text.append(" ")
        entity = starts.get(index)
        if entity is None or entity["end"] <= index:
            text.append(tokens[index])
            index += 1
            continue
        mark = (marks or {}).get(_span(entity))
        if mark:
            text.append(mark, style="bold red")
        text.append(" ".join(tokens[index : entity["end"]]), style=styles.style(entity["type"]))
        text.append(f"/{entity['type']}", style="dim")
        index = entity["end"]
    return text


def chars_text(source: str, entities: list[dict[str, Any]], styles: EntityStyles) -> Text:
    """Free text with entities given by character offsets (what `predict()` returns) highlighted."""
    text = Text()
    position = 0
    for entity in sorted(entities, key=lambda e: e["start"]):
        if entity["start"] < position:
            continue
        text.append(source[position : entity["start"]])
        text.append(source[entity["start"] : entity["end"]], style=styles.style(entity["type"]))
        text.append(f"/{entity['type']}", style="dim")
        position = entity["end"]
    text.append(source[position:])
    return text


def entity_differences(gold: list[dict[str, Any]], pred: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(symbol, description) per entity: ✓ found, ✗ wrong type or boundary, missed, or spurious."""
    gold_spans = {_span(e): e for e in gold}
    pred_spans = {_span(e): e for e in pred}
    lines: list[tuple[str, str]] = []
    for span, entity in gold_spans.items():
        if span in pred_spans:
            lines.append(("✓", f"{entity['text']}  {entity['type']}"))
            continue
        overlapping = [p for p in pred if p["start"] < entity["end"] and entity["start"] < p["end"]]
        if overlapping:
            got = ", ".join(f"{p['text']} {p['type']}" for p in overlapping)
            lines.append(("✗", f"{entity['text']}  gold {entity['type']} → predicted {got}"))
        else:
            lines.append(("✗", f"{entity['text']}  {entity['type']} missed"))
    for span, entity in pred_spans.items():
        if span not in gold_spans and not any(g["start"] < entity["end"] and entity["start"] < g["end"] for g in gold):
            lines.append(("✗", f"{entity['text']}  {entity['type']} predicted, not in gold"))
    return lines


def wrong_entities(gold: list[dict[str, Any]], pred: list[dict[str, Any]]) -> dict[tuple, str]:
    """Marks for `tokens_text`: predicted entities that gold doesn't have exactly."""
    gold_spans = {_span(e) for e in gold}
    return {_span(e): "✗" for e in pred if _span(e) not in gold_spans}


def _span(entity: dict[str, Any]) -> tuple:
    return (entity["start"], entity["end"], entity["type"])
