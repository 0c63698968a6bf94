"""Experiment tracking: `training.report_to` handed to the Trainer's own integrations.

TensorBoard writes into `RUN_DIR/tensorboard/` (transformers 5 reads the folder from the
`TENSORBOARD_LOGGING_DIR` environment variable; `TrainingArguments.logging_dir` is gone). Other
trackers that write local files (wandb, mlflow, dvclive …) use the working directory, which the
runner sets to the run directory; their run name is the run id.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError
from ..runstore import tensorboard_dir

#: The pip package for a tracker whose name differs from it.
PACKAGES = {"tensorboard": "tensorboard", "comet_ml": "comet-ml", "azure_ml": "azureml-core", "flyte": "flytekit"}
#: Trackers transformers can't probe for (it never lists them as available).
UNPROBED = frozenset({"flyte", "azure_ml"})


def trainer_report_to(names: list[str], run_path: Path) -> list[str] | str:
    """The Trainer's `report_to` for `training.report_to`; unknown or uninstalled trackers are
    refused with a one-line fix instead of a traceback from inside the Trainer."""
    if not names or names == ["none"]:
        return "none"
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK, get_available_reporting_integrations

    available = set(get_available_reporting_integrations())
    for name in names:
        if name == "all":
            continue
        if name not in INTEGRATION_TO_CALLBACK:
            raise ConfigError(
                f"training.report_to names an unknown tracker '{name}'",
                f"choose from {', '.join(sorted(INTEGRATION_TO_CALLBACK))}",
            )
        if name not in available and name not in UNPROBED:
            raise ConfigError(
                f"training.report_to names {name}, but its package is not installed",
                f"pip install {PACKAGES.get(name, name)}, or remove it from training.report_to",
            )
    if "tensorboard" in names or "all" in names:
        os.environ["TENSORBOARD_LOGGING_DIR"] = str(tensorboard_dir(run_path))
    return list(names)
