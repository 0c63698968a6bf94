"""Devices: which one a run trains on, at which precision, and how much memory it has."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .errors import WorkbenchError

#: Device nodes a GPU driver creates on Linux: NVIDIA (also inside containers), AMD ROCm (kfd),
#: and WSL 2's GPU paravirtualisation.
GPU_DEVICE_NODES = ("nvidia[0-9]*", "kfd", "dxg")
DEVICE_DIR = Path("/dev")


def surely_cpu_only() -> bool:
    """True on a Linux machine with no GPU device node at all: no CUDA, ROCm or MPS device can
    be available there, so `pick_device` answers "cpu" without importing torch (2 s)."""
    if not sys.platform.startswith("linux"):
        return False
    return not any(next(DEVICE_DIR.glob(pattern), None) for pattern in GPU_DEVICE_NODES)


def pick_device(requested: str) -> str:
    if requested in ("auto", "cpu") and surely_cpu_only():
        return "cpu"
    import torch

    if requested != "auto":
        available = {
            "cpu": True,
            "cuda": torch.cuda.is_available(),
            "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
        }
        if not available[requested]:
            raise WorkbenchError(f"training.device = {requested} but no {requested} device is available", "use training.device = \"auto\"", kind="config")
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_precision(requested: str, device: str) -> str:
    if requested != "auto":
        return requested
    if device == "cuda":
        import torch

        if torch.cuda.is_bf16_supported():
            return "bf16"
    return "fp32"


def describe_device(device: str) -> str:
    if device == "cuda":
        import torch

        return f"cuda:{torch.cuda.current_device()} ({torch.cuda.get_device_name()})"
    return device


def device_memory_bytes(device: str) -> int | None:
    """Memory the device can give training: a GPU's total memory, or the RAM available now."""
    try:
        if device.startswith("cuda"):
            import torch

            return int(torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory)
        import psutil

        return min(int(psutil.virtual_memory().available), *memory_limits())
    except Exception:  # an odd driver state must not break a run over an estimate
        return None


#: cgroup memory limits (v2, then v1); "max" or a huge number means none.
CGROUP_MEMORY_LIMITS = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))


def memory_limits() -> list[int]:
    """Caps on this process's memory below the machine's: the address-space limit (`ulimit -v`)
    and the container's cgroup limit, where set."""
    import resource

    limits = []
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft not in (resource.RLIM_INFINITY, -1):
        limits.append(int(soft))
    for path in CGROUP_MEMORY_LIMITS:
        try:
            value = path.read_text().strip()
        except OSError:
            continue
        if value.isdigit() and int(value) < 2**60:
            limits.append(int(value))
        break
    return limits


# -- out of memory ------------------------------------------------------------------------------
#: Where the kernel counts the OOM killer's kills for a cgroup: v2, then v1 (under the mounts).
CGROUP_ROOTS = (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/memory"))
OOM_KILL_FILES = ("memory.events", "memory.oom_control")


def oom_kill_counter(pid: int | None = None) -> dict[str, Any] | None:
    """{path, kills}: the OOM killer's kill count of the memory cgroup `pid` (default: this
    process) is in, or None where unreadable. The runner records it when it spawns a run; a run
    that vanished after its cgroup's count rose was most likely killed by it."""
    for path in _oom_kill_files(pid):
        kills = read_oom_kills(path)
        if kills is not None:
            return {"path": str(path), "kills": kills}
    return None


def _oom_kill_files(pid: int | None) -> list[Path]:
    """The cgroup's own counter files first (from /proc/PID/cgroup), then the mounts' roots."""
    own: list[Path] = []
    try:
        lines = Path(f"/proc/{pid or 'self'}/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        _, controllers, where = line.split(":", 2)
        relative = where.lstrip("/")
        if controllers == "":  # cgroup v2
            own.append(CGROUP_ROOTS[0] / relative / "memory.events")
        elif "memory" in controllers.split(","):
            own.append(CGROUP_ROOTS[1] / relative / "memory.oom_control")
    roots = [root / name for root in CGROUP_ROOTS for name in OOM_KILL_FILES]
    return [path for path in own if path.parent not in CGROUP_ROOTS] + roots


def read_oom_kills(path: Path | str) -> int | None:
    try:
        for line in Path(path).read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == "oom_kill":
                return int(value)
    except (OSError, ValueError):
        return None
    return None


def kernel_says_oom_killed(pid: int, since: float | None = None) -> bool:
    """Whether the kernel log records the OOM killer killing `pid` after `since` (the process's
    start, unix time: pids are reused). False where dmesg is not readable (an unprivileged
    container, dmesg_restrict)."""
    import re
    import subprocess

    try:
        log = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=5).stdout
        import psutil

        booted = psutil.boot_time()
    except (OSError, subprocess.SubprocessError):
        return False
    pattern = re.compile(rf"^\[\s*(\d+\.\d+)\].*(Killed process {pid}\b|oom-kill:.*\bpid={pid}\b)")
    for line in log.splitlines()[-5000:]:
        found = pattern.search(line)
        if found and (since is None or booted + float(found.group(1)) >= since - 2.0):
            return True
    return False


def oom_hint_for(training: Any, needed: int | None = None, available: int | None = None, seen: int | None = None) -> str:
    """What was asked, what it needed (or used), and a smaller set-up with the same effective
    batch: the hint of every out-of-memory failure."""
    from .humanize import bytes_

    batch, length, accumulation = training.batch_size, training.max_length, training.gradient_accumulation_steps
    smaller = max(1, batch // 4)
    factor = max(1, batch // smaller) * accumulation
    asked = f"batch {batch} × length {length} did not fit"
    if needed:
        asked += f" (estimated ~{bytes_(needed)}" + (f"; {bytes_(available)} available at the start)" if available else ")")
    elif seen:
        asked += f" (it was using {bytes_(seen)} when it was killed)"
    return (
        f"{asked}; try --set training.batch_size={smaller} --set training.gradient_accumulation_steps={factor} "
        f"(same effective batch), or training.auto_batch = true, a shorter training.max_length, or method.kind = lora"
    )


# -- fast defaults per device --------------------------------------------------------------------
#: Dataloader worker processes on CUDA: tokenised rows are collated off the training loop.
CUDA_DATALOADER_WORKERS = 2


def cuda_capability() -> tuple[int, int]:
    import torch

    return tuple(torch.cuda.get_device_capability())  # type: ignore[return-value]


def accelerator_arguments(device: str) -> dict[str, Any]:
    """`TrainingArguments` keywords that make training fast on `device` without changing what
    it computes beyond rounding: on CUDA, TF32 matmuls (Ampere or newer), the fused AdamW kernel,
    pinned host memory and dataloader workers. bf16 is chosen by `pick_precision`; attention is
    the model's SDPA kernel (transformers' default where the architecture has one). Elsewhere:
    the single-process loader the CPU path has always used."""
    if device != "cuda":
        fused = {"optim": "adamw_torch_fused"} if device == "cpu" else {}  # transformers' own default on torch ≥ 2.8
        return {**fused, "dataloader_num_workers": 0}
    ampere = cuda_capability() >= (8, 0)
    return {
        "tf32": ampere,
        "optim": "adamw_torch_fused",
        "dataloader_pin_memory": True,
        "dataloader_num_workers": CUDA_DATALOADER_WORKERS,
        "dataloader_persistent_workers": True,
    }


def runtime_record(device: str, precision: str, model: Any = None) -> dict[str, Any]:
    """What `accelerator_arguments` and model loading put in effect, for the `started` event's
    `runtime` field: precision, tf32, optimizer, attention kernel, pinned memory, workers."""
    arguments = accelerator_arguments(device)
    record: dict[str, Any] = {
        "bf16": precision == "bf16",
        "fp16": precision == "fp16",
        "tf32": bool(arguments.get("tf32", False)),
        "optimizer": arguments.get("optim", "transformers default"),
        "pin_memory": bool(arguments.get("dataloader_pin_memory", False)),
        "dataloader_workers": int(arguments.get("dataloader_num_workers", 0)),
    }
    attention = _attention_implementation(model)
    if attention:
        record["attention"] = attention
    return record


def _attention_implementation(model: Any) -> str | None:
    config = getattr(model, "config", None)
    value = getattr(config, "_attn_implementation", None) if config is not None else None
    return str(value) if value else None


def scale_arguments(training: Any) -> dict[str, Any]:
    """`TrainingArguments` keywords for memory and scale, from `training.*`: gradient
    checkpointing (non-reentrant, so LoRA's frozen inputs need no grad), FSDP and DeepSpeed,
    passed through as the Trainer takes them (the engines do the work)."""
    name = checkpointing_argument()
    arguments: dict[str, Any] = {name: training.gradient_checkpointing}
    if training.gradient_checkpointing:
        arguments[f"{name}_kwargs"] = {"use_reentrant": False}
    if training.fsdp:
        arguments["fsdp"] = training.fsdp
        if training.fsdp_config:
            arguments["fsdp_config"] = dict(training.fsdp_config)
    if training.deepspeed:
        arguments["deepspeed"] = str(Path(training.deepspeed).expanduser().resolve())
    return arguments


def checkpointing_argument() -> str:
    """`activation_checkpointing` (transformers ≥ 5.2x; `gradient_checkpointing` is its deprecated
    alias there and warns) or `gradient_checkpointing` on the versions before it."""
    import dataclasses

    from transformers import TrainingArguments

    names = {field.name for field in dataclasses.fields(TrainingArguments)}
    return "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"


def check_scale(training: Any) -> None:
    """Pre-flight for the scale options: a DeepSpeed config that exists, is JSON and can be run
    (the package installed); FSDP and DeepSpeed not both; FSDP only where accelerate shards
    (GPUs: on CPU it silently trains unsharded DDP, which a user asking for FSDP must know)."""
    import importlib.util
    import json

    if training.fsdp and training.deepspeed:
        raise WorkbenchError("training.fsdp and training.deepspeed are both set; a run uses one engine", "remove one of them", kind="config")
    if training.fsdp and pick_device(training.device) == "cpu":
        raise WorkbenchError(
            "training.fsdp needs GPUs: on CPU, accelerate trains several processes with plain DDP, unsharded",
            "remove training.fsdp to train with DDP on CPU (training.nproc), or run on CUDA GPUs", kind="config",
        )
    if not training.deepspeed:
        return
    path = Path(training.deepspeed).expanduser()
    if not path.is_file():
        raise WorkbenchError(f"training.deepspeed: the DeepSpeed config {path} does not exist", "point training.deepspeed at a DeepSpeed JSON config file", kind="config")
    try:
        json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise WorkbenchError(f"training.deepspeed: {path.name} is not a JSON file ({str(err).splitlines()[0][:80]})", "give a DeepSpeed JSON config (see deepspeed.ai/docs/config-json)", kind="config") from None
    if importlib.util.find_spec("deepspeed") is None:
        raise WorkbenchError("training.deepspeed needs the deepspeed package, which is not installed", "pip install deepspeed, or use training.fsdp instead", kind="config")
