"""The Setup screen's model panel text: shape, size, what trains with the chosen method, memory."""

from __future__ import annotations

from rich.text import Text

from workbench import humanize
from workbench.preview import ModelPreview

from .status_text import StatusText

METHOD_NAMES = {"full": "full", "lora": "LoRA", "head": "head"}
#: A training time estimate above this many seconds is shown in warning colours (Setup asks too).
LONG_RUN_S = 30 * 60


def rough_time(seconds: float) -> str:
    """An estimate as rough as it is: `~40s`, `~12m`, `~3h 30m`."""
    text = humanize.duration(seconds)
    return "~" + (text.split()[0] if " " in text and not text.endswith("m") else text)


def describe_model(preview: ModelPreview, method: str, batch_size: int | None, max_length: int | None, r: int | None = None,
                   estimate: tuple[float, str] | None = None) -> Text:
    """The model panel's lines; `estimate` is (seconds, device) of a rough training time."""
    info = preview.info
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(info.describe(), style="bold")
    limit = f" · max len {info.max_positions}" if info.max_positions else ""
    text.append(f"\n{humanize.count(info.params.total)} params{limit}")
    if info.weights_note:
        text.append(f"\n{info.weights_note}", style="yellow")
    name = METHOD_NAMES.get(method, method) + (f" r={r}" if method == "lora" and r else "")
    params = preview.trainable.get(method)
    if params is None:
        text.append(f"\n✗ {name}: {preview.problems.get(method, 'not available')}", style="red")
        return text
    text.append(f"\ntrainable ({name}): ")
    text.append(f"{humanize.count(params.trainable)} · {params.fraction:.1%}", style="bold")
    if batch_size and max_length:
        memory = preview.memory_bytes(method, batch_size, max_length)
        text.append(f"\nest. memory {humanize.bytes_(memory)}")
        text.append(f" · batch {batch_size}×{max_length}", style="dim")
    if estimate is not None:
        seconds, device = estimate
        text.append(f"\nest. time {rough_time(seconds)} on {device}", style="bold yellow" if seconds > LONG_RUN_S else "")
        text.append(" (rough)", style="dim")
    if max_length and info.max_positions and max_length > info.max_positions:
        text.append(f"\n⚠ max length {max_length} > model limit {info.max_positions}", style="yellow")
    return text


class ModelInfo(StatusText):
    """Filled by Setup's model-inspection worker; recomputed locally when batch or method change."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.preview: ModelPreview | None = None

    def show_preview(self, preview: ModelPreview, method: str, batch_size: int | None, max_length: int | None, r: int | None = None,
                     estimate: tuple[float, str] | None = None) -> None:
        self.preview = preview
        self.show(describe_model(preview, method, batch_size, max_length, r, estimate))

    def refresh_estimate(self, method: str, batch_size: int | None, max_length: int | None, r: int | None = None) -> None:
        if self.preview is not None and not self.is_loading and not self.has_class("-error"):
            self.show(describe_model(self.preview, method, batch_size, max_length, r))
