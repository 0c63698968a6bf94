"""Exports of text-generation runs load without tlwb and generate what `tlwb predict` generates.

A tiny Llama (its own chat template) is trained full and with LoRA; each export is loaded in a
fresh interpreter that never imports tlwb: full and merged-LoRA exports through
`transformers.pipeline("text-generation")`, the unmerged adapter through peft on the base it names.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.core.tiny_decoders import build_tiny_llama
from tests.core.tiny_runs import hooks_env, run_main, tlwb
from tests.core.tiny_training import train_to_end
from workbench.config import RunConfig
from workbench.export import export_run
from workbench.runstore import RunDir

PROMPTS = ["review: the movie was good and great . sentiment?", "what is the capital of france"]
MAX_NEW_TOKENS = 12

#: Run in a fresh interpreter: load an export the way a user without tlwb would, greedy-generate.
PIPELINE_SCRIPT = """
import json, sys
from transformers import pipeline
folder, prompts, budget = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
generator = pipeline("text-generation", model=folder, device="cpu")
out = []
for prompt in prompts:
    answer = generator([{"role": "user", "content": prompt}], max_new_tokens=budget, do_sample=False)
    out.append(answer[0]["generated_text"][-1]["content"].strip())
print(json.dumps({"generated": out, "chat_template": generator.tokenizer.chat_template,
                  "tlwb_imported": any(m.split(".")[0] == "workbench" for m in sys.modules)}))
"""

ADAPTER_SCRIPT = """
import json, sys
from peft import AutoPeftModelForCausalLM
from transformers import AutoTokenizer, pipeline
folder, prompts, budget = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
model = AutoPeftModelForCausalLM.from_pretrained(folder)
generator = pipeline("text-generation", model=model.merge_and_unload(), tokenizer=AutoTokenizer.from_pretrained(folder), device="cpu")
out = []
for prompt in prompts:
    answer = generator([{"role": "user", "content": prompt}], max_new_tokens=budget, do_sample=False)
    out.append(answer[0]["generated_text"][-1]["content"].strip())
print(json.dumps({"generated": out, "tlwb_imported": any(m.split(".")[0] == "workbench" for m in sys.modules)}))
"""


def chat_rows() -> list[dict[str, Any]]:
    rows = []
    for i in range(24):
        for review, label in (("the movie was good and great", "positive"), ("the film was bad and awful", "negative")):
            rows.append({"prompt": f"review: {review} {i % 3} . sentiment?", "completion": label})
    return rows


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunDir]:
    """A full and a LoRA generation run of the tiny Llama, trained to the end."""
    folder = tmp_path_factory.mktemp("export-gen")
    model = build_tiny_llama(folder / "llama")
    data = folder / "chat.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in chat_rows()))
    trained = {}
    for method in ("full", "lora"):
        config = RunConfig.model_validate({
            "task": "text-generation", "name": f"export-{method}", "model": {"name": str(model)}, "data": {"train": str(data)},
            "method": {"kind": method},
            "training": {"epochs": 1, "batch_size": 8, "max_length": 64, "learning_rate": 5e-3, "seed": 3, "num_samples": 2, "eval_strategy": "no"},
            "generation": {"max_new_tokens": MAX_NEW_TOKENS},
        })
        trained[method] = train_to_end(config, folder / "runs")
        assert trained[method].trained_model_dir() is not None, trained[method].log_path.read_text()[-3000:]
    return trained


#: `tlwb_predict`'s answers by run folder.
PREDICTED: dict[Path, list[str]] = {}


def tlwb_predict(run: RunDir, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What `tlwb predict RUN PROMPT… --json` generates (greedy, the run's generation settings),
    through tlwb's entry point in this process; asked once per run, then remembered."""
    if run.path not in PREDICTED:
        code, out, err = run_main(["predict", str(run.path), *PROMPTS, "--json"], capsys, monkeypatch)
        assert code == 0, err[-2000:]
        PREDICTED[run.path] = [json.loads(line)["generated"] for line in out.strip().splitlines()]
    return PREDICTED[run.path]


def in_fresh_interpreter(script: str, folder: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", script, str(folder), json.dumps(PROMPTS), str(MAX_NEW_TOKENS)],
        capture_output=True, text=True, env=hooks_env(), timeout=300, cwd=folder.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def card_front_matter(folder: Path) -> str:
    return (folder / "README.md").read_text().split("---")[1]


@pytest.mark.parametrize(("method", "merge", "kind"), [("full", False, "model"), ("lora", True, "merged")])
def test_a_generation_export_loads_in_a_pipeline_and_generates_what_tlwb_predict_does(
    runs: dict[str, RunDir], tmp_path: Path, method: str, merge: bool, kind: str, capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = runs[method]
    result = export_run(run, tmp_path / "export", merge=merge)
    assert result.kind == kind and (result.out_dir / "model.safetensors").is_file()
    assert not (result.out_dir / "adapter_config.json").exists()
    assert "pipeline_tag: text-generation" in card_front_matter(result.out_dir)
    assert 'pipeline("text-generation"' in (result.out_dir / "README.md").read_text()
    loaded = in_fresh_interpreter(PIPELINE_SCRIPT, result.out_dir)
    assert loaded["tlwb_imported"] is False
    assert loaded["chat_template"] and "[INST]" in loaded["chat_template"]  # the run's own template travels
    predicted = tlwb_predict(run, capsys, monkeypatch)
    assert any(predicted), "greedy generation produced nothing to compare"
    assert loaded["generated"] == predicted


def test_a_generation_task_predict_matches_tlwb_predict(runs: dict[str, RunDir], capsys: pytest.CaptureFixture,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """`TASK.predict` on the loaded run (what eval and the playground use) is what the CLI prints."""
    from workbench.config import GenerationConfig
    from workbench.inference import load_run_model

    loaded = load_run_model(runs["full"])
    direct = loaded.task.predict(loaded.model, loaded.tokenizer, PROMPTS, loaded.config.training.max_length,
                                 generation=GenerationConfig(max_new_tokens=MAX_NEW_TOKENS))
    assert [d["generated"] for d in direct] == tlwb_predict(runs["full"], capsys, monkeypatch)


def test_an_unmerged_lora_export_is_a_peft_adapter_naming_its_base(runs: dict[str, RunDir], tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    run = runs["lora"]
    result = export_run(run, tmp_path / "adapter")
    assert result.kind == "adapter"
    assert not (result.out_dir / "model.safetensors").exists() and (result.out_dir / "adapter_model.safetensors").is_file()
    adapter = json.loads((result.out_dir / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == run.config().model.name
    assert adapter["task_type"] == "CAUSAL_LM"
    front = card_front_matter(result.out_dir)
    assert "library_name: peft" in front and "pipeline_tag: text-generation" in front
    assert "AutoPeftModelForCausalLM" in (result.out_dir / "README.md").read_text()
    loaded = in_fresh_interpreter(ADAPTER_SCRIPT, result.out_dir)
    assert loaded["tlwb_imported"] is False
    assert loaded["generated"] == tlwb_predict(run, capsys, monkeypatch)


def test_tlwb_predict_streams_the_greedy_answer_and_takes_generation_options(runs: dict[str, RunDir], capsys: pytest.CaptureFixture,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    run = runs["lora"]
    code, out, err = run_main(["predict", str(run.path), PROMPTS[0], "--json", "--max-new-tokens", "3"], capsys, monkeypatch)
    assert code == 0, err[-2000:]
    short = json.loads(out.strip().splitlines()[-1])["generated"]
    streamed = tlwb("predict", str(run.path), PROMPTS[0], "--max-new-tokens", "3", "--temperature", "0", env=hooks_env())
    assert streamed.returncode == 0 and streamed.stderr == "", streamed.stderr[-2000:]  # a process of its own: nothing on stderr
    lines = streamed.stdout.splitlines()
    assert lines[0] == f"› {PROMPTS[0]}"
    assert lines[1].strip() == short.strip()  # the same greedy answer, streamed
    code, _, err = run_main(["predict", str(run.path), PROMPTS[0], "--temperature", "9"], capsys, monkeypatch)
    assert code == 2 and "Traceback" not in err

