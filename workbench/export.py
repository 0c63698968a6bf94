"""Exporting a finished run in the standard formats, for use without tlwb.

`export_run(run, out_dir, merge=..., force=...)` writes a folder that
`transformers.pipeline(task, model=out_dir)` loads: the trained model as saved, or for a LoRA run
the adapter merged into the base weights (`merge=True`). Without `merge`, a LoRA run exports its
peft adapter with `base_model_name_or_path` naming the base model's hub id (`model.name`), never
the local folder it was trained from. Either way a model card (README.md) goes with it.

The folder is built beside its destination and renamed into place: an interrupted export
leaves no half-written OUT_DIR. `push_to_hub` uploads such a folder with `huggingface_hub`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import RunError, WorkbenchError
from .runstore import RunDir

#: Files of a saved model/adapter that are tlwb bookkeeping, not part of the export.
PRIVATE_FILES = frozenset({".complete"})


class ExportError(WorkbenchError):
    """An export can't be written or uploaded."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message, hint, kind="export")


@dataclass
class ExportResult:
    out_dir: Path
    kind: str  # "model", "merged" or "adapter" (see modelcard.EXPORT_KINDS)
    task: str
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    url: str | None = None


def export_run(run: RunDir, out_dir: Path, *, merge: bool = False, force: bool = False, model_ref: str | None = None) -> ExportResult:
    """Write `run`'s trained model to `out_dir` (see the module docstring).

    `model_ref` is how the model card's example loads the model (a hub repo id when pushing);
    it defaults to `./FOLDER-NAME`, so no local path ends up in the card. Refuses a non-empty
    `out_dir` unless `force`.
    """
    from .modelcard import render
    from .runinfo import run_details

    saved = run.trained_model_dir()
    if saved is None:
        raise RunError(
            f"run {run.id} has no saved model to export (state: {run.status().get('state', 'unknown')})",
            "only finished runs can be exported; wait for it or `tlwb resume` it",
        )
    from .inference import check_saved_model

    check_saved_model(run, saved)  # a damaged or unsafe model is refused, not copied
    out_dir = _checked_destination(run, Path(out_dir).expanduser().absolute(), force)
    details = run_details(run)
    is_adapter = saved == run.adapter_dir
    kind = "merged" if is_adapter and merge else ("adapter" if is_adapter else "model")
    notes = [] if is_adapter or not merge else [f"--merge has no effect: run {run.id} saved a complete model, exported as is"]
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))
    try:
        if kind == "merged":
            _write_merged(run, staging)
        else:
            _copy_saved(saved, staging)
        if kind == "adapter":
            _point_adapter_at_hub(staging, details["config"]["model"])
        (staging / "README.md").write_text(render(details, kind, model_ref or f"./{out_dir.name}"), encoding="utf-8")
        _replace_dir(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files = sorted(p.name for p in out_dir.iterdir())
    return ExportResult(out_dir=out_dir, kind=kind, task=details["config"]["task"], files=files, notes=notes)


def _checked_destination(run: RunDir, out_dir: Path, force: bool) -> Path:
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"{out_dir} is a file", "give a folder path (it is created if missing)")
    if out_dir == run.path or run.path.is_relative_to(out_dir) or out_dir.is_relative_to(run.path):
        raise ExportError(f"{out_dir} overlaps the run directory {run.path}", "export to a folder outside the run")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise ExportError(f"{out_dir} is not empty", "choose an empty or new folder, or pass --force to replace it")
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ExportError(f"can't create {out_dir.parent}: {err.strerror}", "choose a writable place for the export") from None
    return out_dir


def _copy_saved(saved: Path, staging: Path) -> None:
    for path in saved.iterdir():
        if path.name in PRIVATE_FILES:
            continue
        copy = shutil.copytree if path.is_dir() else shutil.copy2
        copy(path, staging / path.name)


def _write_merged(run: RunDir, staging: Path) -> None:
    """The adapter folded into the base weights: a plain transformers model."""
    from transformers.utils import logging

    from .inference import load_run_model

    logging.disable_progress_bar()
    loaded = load_run_model(run)
    merged = loaded.model.merge_and_unload()
    merged.save_pretrained(str(staging))
    loaded.tokenizer.save_pretrained(str(staging))


def _point_adapter_at_hub(staging: Path, model: dict[str, Any]) -> None:
    """peft saved the folder it loaded the base from (for the packaged MiniLM, a site-packages
    path); an export names the base as the config did: the hub id (or the user's own folder)."""
    path = staging / "adapter_config.json"
    adapter = json.loads(path.read_text("utf-8"))
    adapter["base_model_name_or_path"] = model["name"]
    if model.get("revision"):
        adapter["revision"] = model["revision"]
    path.write_text(json.dumps(adapter, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _replace_dir(staging: Path, out_dir: Path) -> None:
    """Rename the finished folder into place; an existing (empty or --force) one goes only after."""
    if not out_dir.exists():
        os.replace(staging, out_dir)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=out_dir.parent))
    os.replace(out_dir, aside / out_dir.name)
    try:
        os.replace(staging, out_dir)
    except BaseException:
        os.replace(aside / out_dir.name, out_dir)
        raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)


# -- the Hub --------------------------------------------------------------------------------------
def push_to_hub(
    folder: Path, repo_id: str, *, private: bool = False, api: Any = None, message: str | None = None, kept: str | None = None
) -> str:
    """Create `repo_id` (if needed) and upload `folder` to it; returns the repo URL. `api` is an
    `HfApi` (tests pass a fake); `kept` says in errors where the export is left."""
    from huggingface_hub import HfApi

    api = api if api is not None else HfApi()
    try:
        url = api.create_repo(repo_id=repo_id, repo_type="model", private=private, exist_ok=True)
        api.upload_folder(
            folder_path=str(folder), repo_id=repo_id, repo_type="model", commit_message=message or "Upload model trained with tlwb"
        )
    except Exception as err:
        failure = hub_failure(err, repo_id, kept or f"the export is kept in {folder}")
        if failure is None:
            raise
        raise failure from None
    return str(url)


def hub_failure(err: Exception, repo_id: str, kept: str) -> ExportError | None:
    """A one-line error for what goes wrong talking to the Hub; None for anything else (a bug)."""
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, LocalTokenNotFoundError, OfflineModeIsEnabled

    first = (str(err).splitlines() or [type(err).__name__])[0][:160]
    if isinstance(err, OfflineModeIsEnabled):
        return ExportError("can't push to the Hugging Face Hub: HF_HUB_OFFLINE is set", f"unset HF_HUB_OFFLINE and push again; {kept}")
    if isinstance(err, HFValidationError):
        return ExportError(f"'{repo_id}' is not a valid Hub repository id", "use the form user-or-org/name")
    if isinstance(err, LocalTokenNotFoundError):
        return ExportError("not logged in to the Hugging Face Hub", f"run `hf auth login` or set HF_TOKEN; {kept}")
    if isinstance(err, HfHubHTTPError):
        status = getattr(getattr(err, "response", None), "status_code", None)
        if status in (401, 403):
            return ExportError(f"the Hub refused to write to {repo_id} ({status})", f"log in with a write token (`hf auth login` or HF_TOKEN); {kept}")
        return ExportError(f"the Hub answered with an error for {repo_id}: {first}", kept)
    if isinstance(err, OSError) or type(err).__module__.split(".")[0].startswith("httpx"):
        return ExportError(f"can't reach the Hugging Face Hub: {first}", f"check the network and push again; {kept}")
    return None


def export_and_push(
    run: RunDir, repo_id: str, *, out_dir: Path | None = None, merge: bool = False, force: bool = False, private: bool = False, api: Any = None
) -> ExportResult:
    """Export (to `out_dir`, or a temporary folder) with a card that loads from `repo_id`, then upload."""
    if out_dir is not None:
        result = export_run(run, out_dir, merge=merge, force=force, model_ref=repo_id)
        result.url = push_to_hub(result.out_dir, repo_id, private=private, api=api, message=f"Upload tlwb run {run.id}")
        return result
    with tempfile.TemporaryDirectory(prefix="tlwb-export-") as scratch:
        result = export_run(run, Path(scratch) / "export", merge=merge, model_ref=repo_id)
        result.url = push_to_hub(
            result.out_dir, repo_id, private=private, api=api, message=f"Upload tlwb run {run.id}",
            kept="nothing was kept: give OUT_DIR to keep the export",
        )
    return result
