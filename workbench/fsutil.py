"""Small filesystem helpers: atomic writes, so no reader ever sees half a file."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_text(path: Path, text: str, *, durable: bool = True, make_parents: bool = False) -> None:
    """Write `text` to `path` via a temp file in the same folder and an atomic rename;
    `durable=False` skips the fsync (a cache that a crash may lose and a reader rebuilds).

    A missing folder is an error (FileNotFoundError) unless `make_parents`: a file written into a
    run directory must never bring back a run that was deleted meanwhile (a Runs rescan that read
    the run just before its deletion would otherwise recreate it to store its summary)."""
    path = Path(path)
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: Any, *, make_parents: bool = False) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n", make_parents=make_parents)


#: Files a tokenizer's `save_pretrained` writes (the Trainer saves the tokenizer into every
#: checkpoint and into the final model).
TOKENIZER_FILE_PATTERNS = ("tokenizer*", "vocab*", "merges.txt", "special_tokens_map.json", "added_tokens.json",
                           "*.model", "chat_template*", "spiece*", "sentencepiece*")
#: What a Trainer checkpoint holds besides weights, optimizer moments and the tokenizer:
#: scheduler.pt, rng_state.pth, training_args.bin, config.json, trainer_state.json (whose log
#: history grows with the run), with room to spare.
CHECKPOINT_OVERHEAD_BYTES = 256 * 1024


def tokenizer_bytes(source: str | Path) -> int:
    """The size of the tokenizer files of a model folder or a cached hub model (0 if unknown)."""
    folder = Path(source).expanduser()
    if not folder.is_dir():
        try:
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(str(source), local_files_only=True))
        except Exception:  # not cached, or not a hub id: nothing to measure
            return 0
    seen: set[Path] = set()
    total = 0
    for pattern in TOKENIZER_FILE_PATTERNS:
        for path in folder.glob(pattern):
            if path.is_file() and path not in seen:
                seen.add(path)
                total += path.stat().st_size
    return total


def checkpoint_extra_bytes(source: str | Path) -> int:
    """Bytes each checkpoint (and the final model) writes besides weights and optimizer state."""
    return tokenizer_bytes(source) + CHECKPOINT_OVERHEAD_BYTES
