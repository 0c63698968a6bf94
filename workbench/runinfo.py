"""Everything about one run as plain data: `tlwb show RUN --json`, the model card, the TUI.

Read only from the run directory (the one contract): status, config, events, labels, files.
"""

from __future__ import annotations

import json
import time
from typing import Any

from .diagnostics import diagnostics_of
from .events import to_json
from .runstore import RunDir, tensorboard_dir

#: Every validation prediction of the run's latest evaluation (the final one once it ended).
PREDICTIONS_FILE = "predictions.jsonl"

#: Fields of a `step` event kept in the loss curve.
CURVE_FIELDS = ("step", "epoch", "loss", "learning_rate", "grad_norm", "samples_per_s", "tokens_per_s", "elapsed_s")


def run_details(run: RunDir) -> dict[str, Any]:
    """One JSON-ready dict: status, config, started facts, loss curve, every evaluation (with
    per-class scores and confusion matrices), the last samples, the final event and the files.
    Everything about the events comes from the run's `RunHistory`."""
    history = run.history()
    status = run.status()
    saved = run.trained_model_dir()
    latest_samples = history.samples.get("validation") or next(iter(history.samples.values()), None)
    best = history.best or status.best
    return {
        "id": run.id,
        "path": str(run.path),
        "status": status.to_json(),
        "config": _config(run),
        "task": history.task,
        "main_metric": history.main_metric,
        "greater_is_better": history.greater_is_better,
        "best": best.model_dump() if best else None,
        "training_seconds": _rounded(history.training_seconds(time.time() if status.state in ("starting", "running") else None)),
        "segments": len(history.segments),
        "started": to_json(history.started) if history.started else None,
        "labels": _labels(run),
        "history": [{k: getattr(e, k) for k in CURVE_FIELDS} for e in history.steps],
        "evals": [_without_envelope(e) for e in history.evals],
        "samples": latest_samples.items if latest_samples else [],
        "final": to_json(history.ended) if history.ended else None,
        "metrics": history.finished.metrics if history.finished else {},
        "model_dir": str(saved) if saved else None,
        "model_label": _model_label(run),
        "diagnostics": diagnostics_of(history),
        "predictions": count_predictions(run),
        "model_kind": None if saved is None else ("adapter" if saved == run.adapter_dir else "model"),
        "files": _files(run),
    }


def write_predictions(run: RunDir, items: list[dict[str, Any]]) -> None:
    """Keep every validation prediction of an evaluation in `predictions.jsonl`, one row a line,
    written atomically (a reader sees the previous evaluation's file or this one, never half)."""
    from .fsutil import atomic_write_text

    atomic_write_text(run.path / PREDICTIONS_FILE, "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items))


def load_predictions(run: RunDir) -> list[dict[str, Any]]:
    """Every validation prediction of the run's latest evaluation (`predictions.jsonl`), shaped
    like a `samples` event's items; runs from before the file existed give their kept samples."""
    try:
        text = (run.path / PREDICTIONS_FILE).read_text("utf-8")
    except OSError:
        samples = run.history().samples.get("validation")
        return list(samples.items) if samples is not None else []
    rows = []
    for line in text.splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:  # written atomically, so only a hand-edited file has a bad line
            continue
    return rows


def count_predictions(run: RunDir) -> int | None:
    """How many rows `predictions.jsonl` holds (None without one)."""
    try:
        with (run.path / PREDICTIONS_FILE).open("rb") as handle:
            return sum(1 for line in handle if line.strip())
    except OSError:
        return None


def _model_label(run: RunDir) -> str | None:
    from .run_summary import model_label

    try:
        return model_label(run.config().model.name)
    except Exception:  # a broken config.toml: `config` is None too
        return None


def _without_envelope(event: Any) -> dict[str, Any]:
    data = to_json(event)
    for key in ("type", "time", "v"):
        data.pop(key, None)
    return data


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


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
