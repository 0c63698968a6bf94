"""Devices: which one a run trains on, at which precision, and how much memory it has."""

from __future__ import annotations

from .errors import WorkbenchError


def pick_device(requested: str) -> str:
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
    import torch

    if requested != "auto":
        return requested
    if device == "cuda" and torch.cuda.is_bf16_supported():
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

        return int(psutil.virtual_memory().available)
    except Exception:  # an odd driver state must not break a run over an estimate
        return None
