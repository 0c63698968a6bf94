"""Human formatting shared by the CLI and the TUI: `2m 14s`, `22.7M`, `1.4 GiB`, `5e-4`."""

from __future__ import annotations

import datetime as dt


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def count(value: int | None) -> str:
    """Parameter-style counts: 22.7M, 147.5K, 1.2B."""
    if value is None:
        return "—"
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return str(value)


def bytes_(value: int | float | None) -> str:
    if value is None:
        return "—"
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    size = float(value)
    for unit in units:
        if size < 1024 or unit == units[-1]:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def number(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def learning_rate(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "0"
    return f"{value:.1e}".replace("e-0", "e-")


def timestamp(value: float | None) -> str:
    if value is None:
        return "—"
    return dt.datetime.fromtimestamp(value).strftime("%m-%d %H:%M")


#: Folder names that say nothing about the model inside: `short_model` keeps their parent.
GENERIC_MODEL_FOLDERS = frozenset({"model", "models", "adapter", "final", "merged", "output", "outputs", "best", "export", "weights", "hf"})


def short_model(name: str) -> str:
    """`sentence-transformers/all-MiniLM-L6-v2` -> `all-MiniLM-L6-v2`; a path -> its folder name,
    with its parent when the folder's name says nothing (`…/sst2-run/model` -> `sst2-run/model`)."""
    parts = [part for part in name.rstrip("/").split("/") if part]
    if not parts:
        return name
    last = parts[-1]
    if len(parts) > 1 and (last.lower() in GENERIC_MODEL_FOLDERS or last.startswith("checkpoint-")):
        return f"{parts[-2]}/{last}"
    return last


def short_data(source: str) -> str:
    from .config import _stem

    return _stem(source)
