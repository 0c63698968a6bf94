"""Tasks by name. Each module provides a `TASK` object following `base.Task`."""

from __future__ import annotations

from importlib import import_module

from ..errors import ConfigError
from .base import EvalResult, Prepared, Task

_MODULES = {
    "text-classification": "classification",
    "token-classification": "token_classification",
    "text-generation": "generation",
}


def get_task(name: str) -> Task:
    module_name = _MODULES.get(name)
    if module_name is None:
        raise ConfigError(f"unknown task '{name}'", f"use one of: {', '.join(_MODULES)}")
    try:
        module = import_module(f"{__name__}.{module_name}")
    except ModuleNotFoundError as err:
        if err.name and err.name.endswith(module_name):
            raise ConfigError(f"task '{name}' is not available in this version", "use task = \"text-classification\"") from None
        raise
    return module.TASK


__all__ = ["EvalResult", "Prepared", "Task", "get_task"]
