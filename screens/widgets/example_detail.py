"""One prediction in full: the whole text, gold and predicted, and why (probabilities or entities);
for a text-generation run, the whole prompt, reference and generated text."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from .bars import BarChart
from .entities import EntityStyles, entity_differences, tokens_text, wrong_entities
from .generations_table import is_generation_sample
from .predictions_table import is_error, is_token_sample


def describe_example(sample: dict[str, Any], styles: EntityStyles | None = None) -> RenderableType:
    """The renderable the detail view shows for one sample (any task)."""
    if is_generation_sample(sample):
        return _describe_generation(sample)
    verdict = Text("✗ wrong", style="bold red") if is_error(sample) else Text("✓ right", style="bold green")
    verdict.append(f"   confidence {float(sample.get('confidence') or 0.0):.2f}", style="")
    if is_token_sample(sample):
        return _describe_tokens(sample, verdict, styles or EntityStyles())
    heading = Text()
    heading.append("gold ", style="dim")
    heading.append(str(sample.get("gold", "")), style="bold")
    heading.append("   predicted ", style="dim")
    heading.append(str(sample.get("pred", "")), style="bold")
    probs = dict(sorted((sample.get("probs") or {}).items(), key=lambda item: -item[1]))
    parts: list[RenderableType] = [verdict, heading, Text(""), Text(str(sample.get("text", ""))), Text("")]
    if probs:
        parts += [Text("class probabilities", style="dim"), BarChart(probs, highlight=str(sample.get("pred")))]
    return Group(*parts)


def _describe_generation(sample: dict[str, Any]) -> RenderableType:
    match = sample.get("match")
    verdict = (Text("exact match does not apply to these references", style="dim") if match is None
               else Text("✓ exact match", style="bold green") if match else Text("✗ no exact match", style="bold red"))
    prompt = sample.get("prompt")
    parts: list[RenderableType] = [verdict, Text(""), Text("prompt", style="dim")]
    if isinstance(prompt, list):  # earlier chat turns
        for turn in prompt:
            line = Text(f"{turn.get('role', '?')}: ", style="bold")
            line.append(str(turn.get("content", "")))
            parts.append(line)
    else:
        parts.append(Text(str(prompt or "")))
    parts += [Text(""), Text("reference", style="dim"), Text(str(sample.get("reference") or "")),
              Text(""), Text("generated", style="dim"), Text(str(sample.get("generated") or ""), style="" if match is not False else "red")]
    return Group(*parts)


def _describe_tokens(sample: dict[str, Any], verdict: Text, styles: EntityStyles) -> RenderableType:
    tokens = sample.get("tokens", [])
    gold, pred = sample.get("gold_entities", []), sample.get("pred_entities", [])
    differences = Text()
    for symbol, line in entity_differences(gold, pred):
        differences.append(f"{symbol} ", style="bold green" if symbol == "✓" else "bold red")
        differences.append(line + "\n")
    if not gold and not pred:
        differences.append("no entities in gold or prediction", style="dim")
    return Group(
        verdict,
        Text(""),
        Text("gold", style="dim"),
        tokens_text(tokens, gold, styles),
        Text(""),
        Text("predicted (✗ = not in gold)", style="dim"),
        tokens_text(tokens, pred, styles, wrong_entities(gold, pred)),
        Text(""),
        Text("entities", style="dim"),
        differences,
    )


class ExampleDetail(ModalScreen[None]):
    """Escape or enter closes; the text scrolls if it is longer than the screen."""

    DEFAULT_CSS = """
    ExampleDetail { align: center middle; }
    ExampleDetail > VerticalScroll {
        width: 90%; max-width: 110; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    ExampleDetail #example-help { color: $text-muted; }
    """
    BINDINGS = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, sample: dict[str, Any], styles: EntityStyles | None = None) -> None:
        super().__init__()
        self.sample = sample
        self.entity_styles = styles

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = f"Example #{self.sample.get('index', '?')}"
            box.border_subtitle = "esc: close"
            yield Static(describe_example(self.sample, self.entity_styles), id="example-body")

    def action_close(self) -> None:
        self.dismiss(None)
