"""`summary.json`: a run's events folded once and kept, so listing runs costs O(runs), not O(events).

The training process writes it atomically at each evaluation and at the end (`write_summary`, from
`workbench.trainer.callback`); a reader rebuilds it when it is missing, unreadable, of another
version, or older than the run's `events.jsonl` or `config.toml` (their sizes and mtimes are
recorded in it). It holds only what the events and the config say — whether the run is alive is
still the run store's question (`RunDir.status`), asked afresh at every listing.

`summarize(run)` is what `tlwb runs` and the Runs screen show for a run (`RunSummary`).

Also here: `model_label`, the recognisable name of a model given as a hub id, a packaged model or
a local folder (config `_name_or_path`, the package, or the path's meaningful part).
"""

from __future__ import annotations

import json
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from .fsutil import atomic_write_text
from .humanize import GENERIC_MODEL_FOLDERS as GENERIC_FOLDERS
from .runstore import ACTIVE_STATES, RunDir, RunSummary

SUMMARY_FILE = "summary.json"
#: Bumped when the fields change: a summary of another version is rebuilt.
VERSION = 1


# -- model names --------------------------------------------------------------------------------
def model_label(name: str) -> str:
    """A recognisable name for a configured model: a hub id as it is; a packaged model's folder
    as the hub id the package carries; a local folder as its config's `_name_or_path` when that is
    a hub id, else its meaningful part (`parent/model`, `org/name` for a Hub cache snapshot)."""
    if not _looks_local(name):
        return name
    path = Path(name).expanduser()
    packaged = _packaged_alias(path)
    if packaged:
        return packaged
    origin = _name_or_path(path)
    if origin:
        return origin
    return path_label(path)


def _looks_local(name: str) -> bool:
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or Path(name).is_dir()


def _packaged_alias(path: Path) -> str | None:
    """The hub id of a model that a Python package ships, from its folder (no import)."""
    from .models import PACKAGED_MODELS

    parts = path.parts
    if "site-packages" not in parts:
        return None
    package = parts[parts.index("site-packages") + 1] if parts[-1] != "site-packages" else ""
    for alias, (module, _) in PACKAGED_MODELS.items():
        if package == module:
            return alias
    return package or None


def _name_or_path(path: Path) -> str | None:
    """`_name_or_path` of a folder's config.json when it names a hub id (not a path)."""
    try:
        value = json.loads((path / "config.json").read_text("utf-8")).get("_name_or_path")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(value, str) or not value.strip() or _looks_local(value):
        return None
    return value.strip()


def path_label(path: Path) -> str:
    """The meaningful part of a model folder's path: `runs/x/model` → `x/model`;
    `…/models--org--name/snapshots/abc` → `org/name`; `/data/my-bert` → `my-bert`."""
    parts = [part for part in Path(path).parts if part not in ("/", "")]
    for part in parts:
        if part.startswith("models--"):
            return part[len("models--"):].replace("--", "/")
    if not parts:
        return str(path)
    last = parts[-1]
    if (last.lower() in GENERIC_FOLDERS or last.startswith("checkpoint-")) and len(parts) > 1:
        return f"{parts[-2]}/{last}"
    return last


# -- the summary ----------------------------------------------------------------------------------
def _file_stamp(path: Path) -> list[int] | None:
    """[size, mtime_ns] of a file, or None when it does not exist."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


def _config_facts(run: RunDir) -> dict[str, Any]:
    try:
        config = run.config()
    except Exception:  # a broken config.toml must not hide the run from the list
        return {"config_error": "config.toml is unreadable"}
    return {
        "task": config.task,
        "name": config.name or "",
        "model": config.model.name,
        "model_label": model_label(config.model.name),
        "data": config.data.train,
        "method": config.method.kind,
    }


def facts_from_history(history: Any) -> dict[str, Any]:
    """The events' part of a summary: state, start, segments' times, best, last step, counts and
    diagnostics, as plain JSON."""
    from .diagnostics import diagnostics_of
    from .events import to_json

    segments = history.segments
    last = segments[-1] if segments else None
    best = history.best
    first = history.first_started
    try:
        diagnostics = diagnostics_of(history)
    except Exception:  # a diagnosis must never hide a run from the list
        diagnostics = []
    return {
        "state": history.state,
        "task_of_events": history.task,
        "started_at": first.time if first else None,
        "closed_s": sum(segment.seconds() for segment in segments[:-1]),
        "last_segment": None if last is None else {
            "started": last.started.time, "open": last.open, "seconds": last.seconds(),
        },
        "best": best.model_dump() if best else None,
        "last_step": to_json(history.last_step) if history.last_step is not None else None,
        "evals": len(history.evals),
        "last_event_at": history.last_event_time,
        "diagnostics": diagnostics,
    }


def build_summary(run: RunDir, history: Any | None = None) -> dict[str, Any]:
    """The summary of a run as its files are now (stamps taken before reading, so a line
    appended meanwhile makes it stale rather than wrong)."""
    stamps = {"events": _file_stamp(run.events_path), "config": _file_stamp(run.config_path)}
    history = history if history is not None else run.history()
    return {"v": VERSION, "written_at": time.time(), "stamps": stamps, **_config_facts(run), **facts_from_history(history)}


def write_summary(run: RunDir, history: Any | None = None, *, durable: bool = True) -> dict[str, Any]:
    """Build and write `summary.json` atomically; `durable=False` skips the fsync (a reader's
    cache, which a crash may lose: it is then rebuilt)."""
    summary = build_summary(run, history)
    _store(run, summary, durable=durable)
    return summary


def _store(run: RunDir, summary: dict[str, Any], *, durable: bool) -> None:
    atomic_write_text(Path(run.path) / SUMMARY_FILE, json.dumps(summary, separators=(",", ":")), durable=durable)


def read_summary(run: RunDir) -> dict[str, Any] | None:
    """The stored summary when it is current (same version, and events.jsonl and config.toml
    unchanged since it was built); None otherwise."""
    try:
        summary = json.loads((Path(run.path) / SUMMARY_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict) or summary.get("v") != VERSION:
        return None
    stamps = summary.get("stamps") or {}
    if stamps.get("events") != _file_stamp(run.events_path) or stamps.get("config") != _file_stamp(run.config_path):
        return None
    return summary


def load_summary(run: RunDir) -> dict[str, Any]:
    """The current summary: the stored one, else rebuilt from the events (and kept, when the run
    directory is writable, so the next listing reads it)."""
    summary = read_summary(run)
    if summary is not None:
        return summary
    summary = build_summary(run)
    with suppress(OSError):  # a read-only run directory, or a run deleted since it was read: still the answer
        _store(run, summary, durable=False)
    return summary


def summarize(run: RunDir) -> RunSummary:
    """What the runs table shows for one run, from `summary.json` (rebuilt from the events when
    stale) and the run's status: O(1) in the number of events for a run whose summary is current."""
    status = run.status()
    facts = load_summary(run)
    summary = RunSummary(id=run.id, path=run.path, state=status.state)
    if "config_error" in facts:
        summary.message = facts["config_error"]
    else:
        summary.task, summary.model, summary.data, summary.method = facts["task"], facts["model"], facts["data"], facts["method"]
        summary.name, summary.model_label = facts.get("name", ""), facts.get("model_label", "")
    summary.started_at = status.started_at or facts.get("started_at") or status.created_at
    live = summary.state in ACTIVE_STATES
    _set_durations(summary, facts, live)
    best = facts.get("best") or (status.best.model_dump() if status.best else None)
    if best:
        summary.best_metric, summary.best_value = best.get("name"), best.get("value")
    summary.message = status.message or summary.message
    summary.hint = status.hint or ""
    summary.diagnostics = list(facts.get("diagnostics") or [])
    if live and facts.get("last_step"):
        summary.extra["step"] = facts["last_step"]  # plain data: `tlwb runs --json` prints it
    return summary


def _set_durations(summary: Any, facts: dict[str, Any], live: bool) -> None:
    """`RunHistory.training_seconds` from the stored segment times (a live run's open segment
    counts up to now)."""
    last = facts.get("last_segment")
    if last is None:
        return
    summary.closed_s = facts.get("closed_s") or 0.0
    if live and last["open"]:
        summary.open_since = last["started"]
        summary.duration_s = summary.closed_s + max(0.0, time.time() - last["started"])
    else:
        summary.closed_s += last["seconds"]
        summary.duration_s = summary.closed_s
