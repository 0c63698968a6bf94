"""What to offer in Setup's model and data fields: recent runs, presets, packaged and cached models.

Everything here reads small files only (TOML configs, the HF cache index); it never loads a
model or a dataset, and a broken file is skipped rather than raised.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .models import packaged_model_available, packaged_names
from .presets import list_presets, resolve_paths
from .runstore import list_runs

#: How many of the newest runs are read for "recently used".
RECENT_RUNS = 30


@dataclass(frozen=True)
class Suggestion:
    """A value to offer, and where it comes from: `recent`, `preset`, `packaged` or `cache`."""

    value: str
    origin: str


def model_suggestions(runs_dir: Path | None = None) -> list[Suggestion]:
    """Models used by recent runs, named in presets, shipped in packages, or in the HF cache."""
    found = [Suggestion(name, "recent") for name in _from_configs(_recent_configs(runs_dir), "model", "name")]
    found += [Suggestion(name, "preset") for name in _from_configs(_preset_configs(), "model", "name")]
    found += [Suggestion(name, "packaged") for name in packaged_names() if packaged_model_available(name)]
    found += [Suggestion(name, "cache") for name in cached_models()]
    return _unique(found)


def data_suggestions(runs_dir: Path | None = None) -> list[Suggestion]:
    """Training data used by recent runs and named in presets."""
    found = [Suggestion(name, "recent") for name in _from_configs(_recent_configs(runs_dir), "data", "train")]
    found += [Suggestion(name, "preset") for name in _from_configs(_preset_configs(), "data", "train")]
    return _unique(found)


def cached_models() -> list[str]:
    """Model repositories in the local Hugging Face hub cache, most recently used first."""
    try:
        from huggingface_hub import constants, scan_cache_dir

        info = scan_cache_dir(constants.HF_HUB_CACHE)  # read now, not when huggingface_hub was imported
    except Exception:  # no cache folder yet, or an unreadable one: nothing to suggest
        return []
    repos = [repo for repo in info.repos if repo.repo_type == "model"]
    repos.sort(key=lambda repo: repo.last_accessed or 0, reverse=True)
    return [repo.repo_id for repo in repos]


def _recent_configs(runs_dir: Path | None) -> Iterable[dict[str, Any]]:
    if runs_dir is None:
        return []
    return (_read(run.config_path) for run in list_runs(runs_dir)[:RECENT_RUNS])


def _preset_configs() -> Iterable[dict[str, Any]]:
    for info in list_presets():
        data = _read(info.path)
        yield resolve_paths(data, info.path.parent) if data else data


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def _from_configs(configs: Iterable[dict[str, Any]], section: str, key: str) -> list[str]:
    values = []
    for data in configs:
        value = data.get(section, {}).get(key) if isinstance(data.get(section), dict) else None
        if isinstance(value, str) and value.strip():
            values.append(value.strip())
    return values


def _unique(suggestions: list[Suggestion]) -> list[Suggestion]:
    seen: set[str] = set()
    unique = []
    for suggestion in suggestions:
        if suggestion.value not in seen:
            seen.add(suggestion.value)
            unique.append(suggestion)
    return unique
