"""What pre-flight learns about a local model, remembered between runs.

Reading a model's config and tokenizer and building it on the meta device to count its
parameters takes milliseconds, but importing torch, transformers and peft to do it takes about
six seconds on a laptop CPU, every time `tlwb train` starts. The answers depend only on the model
folder's small files (its config and tokenizer), the task, the method and the library versions,
so they are kept in tlwb's cache under a key made of exactly those: the next pre-flight of the
same model and method answers without the imports. Hub ids, GGUF files and models that run their
own code are always read afresh (what they resolve to can change without a file here changing).

A cache entry is only ever written after every check passed, and a damaged one is ignored. The
training process reads the real model whatever the cache says.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import suppress
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from . import __version__, packaged_models
from .config import RunConfig
from .fsutil import atomic_write_text
from .models import ModelInfo, ModelShape, ParamCounts

#: Bump when what is stored, or how it is computed, changes.
SCHEMA = 1
#: Weight files are left out of the key: the counts come from the config, and pre-flight checks
#: the weights themselves (`model_checks.check_model_folder`) on every run.
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".gguf", ".onnx")
#: Files larger than this are not hashed for the key (a stray dataset in the folder); big
#: tokenizer files (tokenizer.json is a few MB) are well below it.
KEY_FILE_LIMIT = 64 * 1024**2
#: The libraries whose version changes what the model is built as.
KEY_LIBRARIES = ("transformers", "peft")


class ModelFacts(BaseModel):
    """Everything pre-flight needs of a model once it loaded: its description, parameter counts
    for the run's method, its token limit and its shape."""

    architecture: str
    model_type: str
    max_positions: int | None
    token_limit: int | None
    params_total: int
    params_trainable: int
    shape: ModelShape

    @classmethod
    def of(cls, model_config: Any, info: ModelInfo, token_limit: int | None) -> ModelFacts:
        return cls(
            architecture=info.architecture,
            model_type=info.model_type,
            max_positions=info.max_positions,
            token_limit=token_limit,
            params_total=info.params.total,
            params_trainable=info.params.trainable,
            shape=ModelShape.of(model_config),
        )

    def info(self, source: str) -> ModelInfo:
        return ModelInfo(
            source=source,
            architecture=self.architecture,
            model_type=self.model_type,
            layers=self.shape.layers,
            hidden_size=self.shape.hidden_size,
            max_positions=self.max_positions,
            params=ParamCounts(total=self.params_total, trainable=self.params_trainable),
            weights_note=packaged_models.weights_note(source),
        )


def cache_key(source: str, config: RunConfig) -> str | None:
    """The key of this model folder with this task and method, or None when it can't be
    remembered safely (a hub id, a GGUF file, remote code)."""
    folder = Path(source)
    model = config.model
    if model.gguf_file or model.trust_remote_code or not folder.is_dir():
        return None
    files = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.lower().endswith(WEIGHT_SUFFIXES) or path.stat().st_size > KEY_FILE_LIMIT:
            continue
        files[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    if "config.json" not in files:
        return None
    identity = {
        "schema": SCHEMA,
        "tlwb": __version__,
        "libraries": {name: _version(name) for name in KEY_LIBRARIES},
        "task": config.task,
        "method": config.method.model_dump(mode="json"),
        "files": files,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def recall(key: str | None) -> ModelFacts | None:
    """The facts stored under `key`, or None (never stored, or unreadable)."""
    if key is None:
        return None
    try:
        return ModelFacts.model_validate_json(_entry(key).read_text(encoding="utf-8"))
    except (OSError, ValueError, ValidationError):
        return None


def remember(key: str | None, facts: ModelFacts) -> None:
    """Store `facts` under `key`; a cache that can't be written is only a slower next start."""
    if key is None:
        return
    with suppress(OSError):
        atomic_write_text(_entry(key), facts.model_dump_json(), durable=False, make_parents=True)


def _entry(key: str) -> Path:
    return packaged_models.cache_dir() / "model-facts" / f"{key}.json"


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
