"""A cancel that arrives while the training process is still starting ends it as `cancelled`."""

from __future__ import annotations

import time
from pathlib import Path

from workbench.presets import load_config
from workbench.runner import cancel, launch, wait


def test_cancel_during_start_up_is_a_clean_cancel(tiny_model_dir: Path, tiny_csv: Path, runs_dir: Path) -> None:
    config = load_config(None, [f"model.name={tiny_model_dir}", f"data.train={tiny_csv}", "method.kind=full",
                                "training.epochs=1", "training.max_length=32"], base={"name": "early"})
    run, process = launch(config, runs_dir)
    deadline = time.monotonic() + 30
    while run.read_status().get("state") != "running" and time.monotonic() < deadline:
        time.sleep(0.05)  # the process has installed its handler once it says `running`
    assert cancel(run)
    last = wait(run, process=process, timeout_s=120)
    assert last["type"] == "cancelled", last
    assert run.status()["state"] == "cancelled"
    assert not [e for e in run.events() if e["type"] == "step"]
