"""Presets: TOML files that hold a `RunConfig`, plus dotted `--set` overrides.

A preset never executes code: it is parsed with `tomllib` and validated by pydantic. Relative
paths inside a preset are relative to the preset file, so `tlwb train presets/quickstart.toml`
works from any folder; paths given with `--set` are relative to the current folder. The resolved
config keeps absolute paths, so a run's `config.toml` re-runs from anywhere.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .config import RunConfig
from .data import looks_like_file
from .errors import ConfigError
from .fsutil import atomic_write_text

#: Keys whose values may name local files or directories.
PATH_KEYS = ("model.name", "data.train", "data.validation", "data.test", "training.deepspeed")



def _shipped_presets_dir() -> Path:
    """The shipped presets: the `tlwb_presets` package data (the repository's `presets/` folder,
    installed under that name), found through importlib.resources so a wheel install works from
    any directory."""
    from importlib.resources import files

    try:
        return Path(str(files("tlwb_presets")))
    except ModuleNotFoundError:  # run from a source tree that was never installed
        return Path(__file__).resolve().parent.parent / "presets"


SHIPPED_PRESETS_DIR = _shipped_presets_dir()


def user_presets_dir() -> Path:
    """Where `Save preset` writes: `$TLWB_PRESETS_DIR` or `~/.config/tlwb/presets`."""
    configured = os.environ.get("TLWB_PRESETS_DIR")
    if configured:
        return Path(configured).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    return base / "tlwb" / "presets"


@dataclass(frozen=True)
class PresetInfo:
    name: str
    path: Path
    description: str
    origin: str  # "shipped" or "user"


def list_presets() -> list[PresetInfo]:
    """Shipped presets first, then the user's; each with its one-line description."""
    found: list[PresetInfo] = []
    for origin, folder in (("shipped", SHIPPED_PRESETS_DIR), ("user", user_presets_dir())):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                description = str(tomllib.loads(path.read_text("utf-8")).get("description", ""))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                description = "(unreadable preset)"
            found.append(PresetInfo(path.stem, path, description.splitlines()[0] if description else "", origin))
    return found


def find_preset(name_or_path: str) -> Path:
    """A preset file from a path, or a name looked up among shipped and user presets."""
    candidate = Path(name_or_path).expanduser()
    if candidate.is_file():
        return candidate
    if candidate.suffix != ".toml" and candidate.with_suffix(".toml").is_file():
        return candidate.with_suffix(".toml")
    presets = list_presets()
    for info in presets:
        if info.name == name_or_path:
            return info.path
    if candidate.is_dir():
        raise ConfigError(f"{name_or_path} is a directory, not a preset file", "give the path of a .toml preset file, or a name from `tlwb presets`")
    names = [info.name for info in presets]
    close = difflib.get_close_matches(name_or_path, names, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"run `tlwb presets` to list them ({', '.join(names) or 'none found'})"
    raise ConfigError(f"no preset named '{name_or_path}'", hint)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"preset file {path} does not exist", "check the path or run `tlwb presets`") from None
    except UnicodeDecodeError:
        raise ConfigError(f"preset {path} is not UTF-8 text", "save it as UTF-8") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"preset {path} is not valid TOML: {err}", "fix the line named above") from None


def parse_override(item: str) -> tuple[str, Any]:
    """`training.epochs=2` -> ("training.epochs", 2); values are TOML literals, else strings."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override '{item}' is not KEY=VALUE", "write it like --set training.epochs=2")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def apply_overrides(data: dict[str, Any], overrides: list[str], base: Path | None = None) -> dict[str, Any]:
    """Set each dotted key in a copy of `data`; path values resolve against `base` (the cwd)."""
    merged = _deep_copy(data)
    for item in overrides:
        key, value = parse_override(item)
        _check_key(key)
        if key in PATH_KEYS and isinstance(value, str):
            value = _absolutize(value, base or Path.cwd())
        target = merged
        parts = key.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError(f"override '{item}' sets inside a value that is not a section", "check the key")
        target[parts[-1]] = value
    return merged


def load_config(preset: str | Path | None, overrides: list[str] | None = None, *, base: dict[str, Any] | None = None) -> RunConfig:
    """Read a preset (name or path), apply overrides, validate; errors are one line."""
    data: dict[str, Any] = dict(base or {})
    if preset is not None:
        path = find_preset(str(preset))
        data = resolve_paths(read_toml(path), path.parent)
        data.setdefault("name", path.stem)
    data = apply_overrides(data, overrides or [])
    return validate_config(data)


def validate_config(data: dict[str, Any]) -> RunConfig:
    _check_keys(data)
    try:
        return RunConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(*_describe_validation_error(err)) from None


def resolve_paths(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Make relative local paths in a preset absolute, relative to the preset's folder."""
    resolved = _deep_copy(data)
    for key in PATH_KEYS:
        section, _, field = key.partition(".")
        value = resolved.get(section, {}).get(field) if isinstance(resolved.get(section), dict) else None
        if isinstance(value, str):
            resolved[section][field] = _absolutize(value, folder)
    return resolved


def config_to_toml(config: RunConfig) -> str:
    import tomli_w

    return tomli_w.dumps(config.model_dump(mode="json", exclude_none=True))


def save_preset(config: RunConfig, name: str, *, folder: Path | None = None, overwrite: bool = False,
                description: str | None = None, base: Path | None = None) -> Path:
    """Write a preset atomically; refuses to replace an existing one unless asked.

    Local paths are saved absolute (relative ones resolve against `base`, the current folder, as
    typed), so the preset works from whatever folder it is loaded. `description` replaces the one
    the config carried (from the preset it was loaded from); None keeps it.
    """
    if not name or any(ch in name for ch in "/\\") or name.startswith("."):
        raise ConfigError(f"'{name}' is not a usable preset name", "use letters, digits, '-' and '_'")
    folder = folder or user_presets_dir()
    path = folder / f"{name}.toml"
    if path.exists() and not overwrite:
        raise ConfigError(f"preset '{name}' already exists at {path}", "choose another name or confirm overwrite")
    data = resolve_paths(config.model_dump(mode="json", exclude_none=True), base or Path.cwd())
    data["name"] = name
    if description is not None:
        data["description"] = " ".join(description.split())
    atomic_write_text(path, config_to_toml(validate_config(data)), make_parents=True)
    return path


def describe_config(config: RunConfig) -> str:
    """A one-line description of what a config trains: `all-MiniLM-L6-v2 · reviews.csv · LoRA r=8`."""
    model = config.model.name.rstrip("/").split("/")[-1] or config.model.name
    data = config.data.train.rstrip("/").split("/")[-1] or config.data.train
    method = {"lora": f"LoRA r={config.method.r}", "full": "full fine-tune", "head": "head only"}.get(config.method.kind, config.method.kind)
    return f"{model} · {data} · {method}"


def _absolutize(value: str, folder: Path) -> str:
    """A path that exists relative to `folder` becomes absolute; anything else (a hub id) stays."""
    if value.startswith(("hf://", "http://", "https://")):
        return value
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = folder / path
    if path.exists() or value.startswith((".", "/", "~")) or looks_like_file(value):
        return str(path.resolve())
    return value


def _deep_copy(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in data.items()}


def _sections() -> dict[str, type[BaseModel]]:
    return {
        name: field.annotation  # type: ignore[misc]
        for name, field in RunConfig.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
    }


#: Keys of earlier versions that still read (each section's validator turns them into today's).
LEGACY_KEYS = frozenset({"training.group_by_length"})


def _check_key(key: str) -> None:
    section, _, field = key.partition(".")
    sections = _sections()
    if not field:
        if section not in RunConfig.model_fields:
            _unknown(key, list(RunConfig.model_fields))
        return
    if section not in sections:
        _unknown(section, list(sections))
    if field not in sections[section].model_fields and key not in LEGACY_KEYS:
        _unknown(key, [f"{section}.{name}" for name in sections[section].model_fields])


def _check_keys(data: dict[str, Any]) -> None:
    sections = _sections()
    for key, value in data.items():
        if key in sections and isinstance(value, dict):
            for field in value:
                _check_key(f"{key}.{field}")
        else:
            _check_key(key)


def _unknown(key: str, choices: list[str]) -> None:
    close = difflib.get_close_matches(key, choices, n=1, cutoff=0.5)
    hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(choices)}"
    raise ConfigError(f"unknown setting '{key}'", hint)


def _describe_validation_error(err: ValidationError) -> tuple[str, str]:
    first = err.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "config"
    message = first["msg"]
    if first["type"] == "missing":
        return f"{where} is required", f"set it in the preset or with --set {where}=..."
    got = first.get("input")
    shown = "" if isinstance(got, dict) else f" (got {got!r})"
    more = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{where}: {message.lower()}{shown}{more}", f"fix {where} in the preset or with --set {where}=..."
