"""Everything about one run as plain data: `tlwb show RUN --json`, the model card, the TUI.

Read only from the run directory (the one contract): status, config, events, labels, files.
"""

from __future__ import annotations

import json
from typing import Any

from .events import TERMINAL_TYPES
from .runstore import RunDir, tensorboard_dir

#: Fields of a `step` event kept in the loss curve.
CURVE_FIELDS = ("step", "epoch", "loss", "learning_rate", "grad_norm", "samples_per_s", "elapsed_s")


def run_details(run: RunDir) -> dict[str, Any]:
    """One JSON-ready dict: status, config, started facts, loss curve, every evaluation (with
    per-class scores and confusion matrices), the last samples, the final event and the files."""
    events = run.events()
    evals = [e for e in events if e["type"] == "eval"]
    samples = [e for e in events if e["type"] == "samples"]
    final = next((e for e in reversed(events) if e["type"] in TERMINAL_TYPES), None)
    saved = run.trained_model_dir()
    return {
        "id": run.id,
        "path": str(run.path),
        "status": run.status(),
        "config": _config(run),
        "started": next((e for e in reversed(events) if e["type"] == "started"), None),
        "labels": _labels(run),
        "history": [{k: e.get(k) for k in CURVE_FIELDS} for e in events if e["type"] == "step"],
        "evals": [{k: v for k, v in e.items() if k not in {"type", "time"}} for e in evals],
        "samples": samples[-1]["items"] if samples else [],
        "final": final,
        "metrics": final.get("metrics", {}) if final and final["type"] == "finished" else {},
        "model_dir": str(saved) if saved else None,
        "model_kind": None if saved is None else ("adapter" if saved == run.adapter_dir else "model"),
        "files": _files(run),
    }


def _config(run: RunDir) -> dict[str, Any] | None:
    try:
        return run.config().model_dump(mode="json")
    except Exception:  # a broken config.toml must not hide the rest of the run
        return None


def _labels(run: RunDir) -> list[str]:
    try:
        return json.loads((run.path / "labels.json").read_text("utf-8"))["names"]
    except (OSError, ValueError, KeyError):
        return []


def _files(run: RunDir) -> dict[str, Any]:
    def existing(path: Any) -> str | None:
        return str(path) if path.exists() else None

    return {
        "config": existing(run.config_path),
        "events": existing(run.events_path),
        "status": existing(run.status_path),
        "log": existing(run.log_path),
        "model": existing(run.model_dir),
        "adapter": existing(run.adapter_dir),
        "tensorboard": existing(tensorboard_dir(run.path)),
        "checkpoints": [str(path) for path in run.checkpoints()],
    }
