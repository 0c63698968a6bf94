"""Cheap checks that a model folder can load, done before anything is written.

Pre-flight and the loaders of finished runs call these so that a folder with no weights, a
truncated `model.safetensors`, a pickle that carries code or a model that needs its own Python
code is one line naming the file and the fix, never a run directory that then fails or a
traceback. Only headers are read: the 8-byte length and JSON header of a safetensors file, the
opcodes of a pickle, the `auto_map` of a `config.json`.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from .errors import ModelError

#: Files that hold a model's or adapter's weights (one of them must be present).
WEIGHT_PATTERNS = (
    "*.safetensors", "*.safetensors.index.json", "pytorch_model*.bin", "pytorch_model.bin.index.json",
    "adapter_model.bin", "tf_model.h5", "flax_model.msgpack", "*.gguf",
)
#: A safetensors header longer than this is not a header (the format caps it at 100 MB).
MAX_HEADER_BYTES = 100_000_000
#: The fix for a short or garbled weights file.
COPY_AGAIN = "copy or download the model again (an interrupted copy or download leaves a short file)"


def weight_files(folder: Path) -> list[Path]:
    return sorted({path for pattern in WEIGHT_PATTERNS for path in folder.glob(pattern)})


def check_model_folder(folder: Path, what: str = "model") -> None:
    """A local model (or adapter) folder has weights, its safetensors files are whole, its shard
    index names files that exist, and its pickles hold only tensors."""
    folder = Path(folder)
    found = weight_files(folder)
    if not found:
        raise ModelError(
            f"{folder} has a config.json but no weights (no model.safetensors or pytorch_model.bin)",
            f"save the {what} with save_pretrained (it writes model.safetensors), or copy its weight files into that folder",
        )
    for path in found:
        if path.name.endswith(".index.json"):
            check_shard_index(path)
        elif path.suffix == ".safetensors":
            check_safetensors(path)
    check_pickled_weights(folder)


def check_safetensors(path: Path) -> None:
    """The header parses and the file is as long as the header's largest data offset says."""
    size = path.stat().st_size
    with path.open("rb") as stream:
        prefix = stream.read(8)
        if len(prefix) < 8:
            raise _truncated(path, size, 8)
        (length,) = struct.unpack("<Q", prefix)
        if length > MAX_HEADER_BYTES:
            raise ModelError(f"{path} is not a safetensors file (its header is unreadable)", COPY_AGAIN)
        if size < 8 + length:
            raise _truncated(path, size, 8 + length)
        try:
            header = json.loads(stream.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ModelError(f"{path} is not a safetensors file (its header is unreadable)", COPY_AGAIN) from None
    needed = 8 + length + _data_end(header)
    if size < needed:
        raise _truncated(path, size, needed)


def _data_end(header: Any) -> int:
    if not isinstance(header, dict):
        return 0
    ends = [entry["data_offsets"][1] for key, entry in header.items()
            if key != "__metadata__" and isinstance(entry, dict) and len(entry.get("data_offsets", ())) == 2]
    return max(ends, default=0)


def _truncated(path: Path, size: int, needed: int) -> ModelError:
    return ModelError(f"{path} is truncated: {size:,} bytes where its header needs {needed:,}", COPY_AGAIN)


def check_shard_index(index: Path) -> None:
    """Every shard a `*.index.json` names exists (and, for safetensors, is whole)."""
    try:
        shards = sorted(set(json.loads(index.read_text("utf-8")).get("weight_map", {}).values()))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        raise ModelError(f"{index.name} in {index.parent} is not a readable shard index", COPY_AGAIN) from None
    for shard in shards:
        path = index.parent / shard
        if not path.is_file():
            raise ModelError(f"{index.parent} lacks {shard}, a weights shard that {index.name} names", COPY_AGAIN)
        if path.suffix == ".safetensors":
            check_safetensors(path)


def check_pickled_weights(folder: Path) -> None:
    """Refuse pickled weights (`*.bin`) that name anything but tensors. Reads the pickle's opcodes,
    never its tensors or its code; with safetensors beside them the pickles are never read at all
    (transformers and peft load the safetensors)."""
    folder = Path(folder)
    pickles = sorted(folder.glob("*.bin"))
    if not folder.is_dir() or not pickles or any(folder.glob("*.safetensors")):
        return
    from torch.serialization import get_unsafe_globals_in_checkpoint

    for weights in pickles:
        try:
            unsafe = get_unsafe_globals_in_checkpoint(str(weights))
        except Exception:  # not a torch checkpoint at all: loading will say so
            continue
        if unsafe:
            raise ModelError(
                f"{weights.name} in {folder} holds code, not just tensors ({', '.join(unsafe[:3])}); tlwb won't load it",
                "use a copy saved as safetensors (save_pretrained writes model.safetensors); delete the .bin file if you don't trust it",
            )


def custom_code_classes(source: str, revision: str | None = None) -> list[str]:
    """The `auto_map` entries of a model's config.json (local folder, or the cached hub config):
    classes that only load by running the repository's own Python code."""
    config = _config_json(source, revision)
    auto_map = config.get("auto_map") if isinstance(config, dict) else None
    if not isinstance(auto_map, dict):
        return []
    return [str(value if isinstance(value, str) else value[0]) for value in auto_map.values() if value]


def check_custom_code(source: str, name: str, trust_remote_code: bool, revision: str | None = None) -> None:
    """Refuse a model that ships its own code unless `model.trust_remote_code` allows it."""
    if trust_remote_code:
        return
    classes = custom_code_classes(source, revision)
    if classes:
        raise ModelError(
            f"model {name} ships its own code ({', '.join(classes[:2])}), which tlwb does not run unless told to",
            "set model.trust_remote_code = true in the preset only if you trust that repository: "
            "its code will run on this machine with your permissions",
        )


def _config_json(source: str, revision: str | None) -> Any:
    local = Path(source).expanduser() / "config.json"
    path: Any = local if local.is_file() else None
    if path is None and "/" in source and not Path(source).expanduser().exists():
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(source, "config.json", revision=revision)
        except Exception:  # an id the hub client rejects: the loader will say what is wrong
            cached = None
        path = Path(cached) if isinstance(cached, str) else None
    if path is None:
        return {}
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
