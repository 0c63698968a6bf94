"""`tlwb predict` / `tlwb eval` of a LoRA run (issue 12 item 15): quiet by default (no load
report, warnings or progress bars on stderr), the adapter folded into the base without peft, and
the same predictions as peft's own loading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import shared_runs
from tests.core.tiny_runs import hooks_env, tlwb
from workbench.inference import load_run_model
from workbench.runstore import RunDir

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    run = shared_runs.finished_tiny_run(tmp_path_factory, tmp_path_factory.mktemp("lora-predict"), method="lora")
    assert run.trained_model_dir() == run.adapter_dir
    return run


def test_predict_is_quiet_and_matches_peft(lora_run: RunDir) -> None:
    texts = ["this movie was good and great", "this film was bad and awful"]
    done = tlwb("predict", str(lora_run.path), *texts, "--json", env=hooks_env())
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no LOAD REPORT, FutureWarning or progress bar
    got = [json.loads(line) for line in done.stdout.splitlines()]

    with_peft = load_run_model(lora_run).predict(texts)
    assert [r["label"] for r in got] == [r["label"] for r in with_peft]
    assert [r["confidence"] for r in got] == pytest.approx([r["confidence"] for r in with_peft], abs=1e-3)
    merged = load_run_model(lora_run, merge_adapter=True)
    assert not hasattr(merged.model, "peft_config")  # folded in, not wrapped


def test_eval_is_quiet(lora_run: RunDir, tmp_path: Path) -> None:
    from tests.conftest import write_tiny_csv

    data = write_tiny_csv(tmp_path / "heldout.csv")
    done = tlwb("eval", str(lora_run.path), "--data", str(data), "--json", env=hooks_env())
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert 0.0 <= json.loads(done.stdout)["accuracy"] <= 1.0
