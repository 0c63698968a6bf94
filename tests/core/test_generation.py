"""Text generation data: formats, the one conversational form, templates, answer masks, lengths,
packing — on tiny random GPT-2 (no chat template) and Llama (its own template) decoders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.core.tiny_decoders import LLAMA_TEMPLATE, build_tiny_gpt2, build_tiny_llama
from workbench import chat
from workbench.config import DataConfig, ModelConfig, RunConfig
from workbench.errors import ConfigError, DataError
from workbench.models import load_tokenizer, resolve_model_source

QUESTION, ANSWER = "what is the capital of france", "paris"


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


def tokenizer_of(folder: Path):
    model = ModelConfig(name=str(folder))
    return load_tokenizer(resolve_model_source(model), model)


def dataset(rows: list[dict]):
    import datasets

    return datasets.Dataset.from_list(rows)


def layout_of(rows: list[dict], **data: object) -> chat.ChatLayout:
    return chat.detect_layout(dataset(rows), DataConfig(train="x", **data))


FORMAT_ROWS = {
    "prompt_completion": {"prompt": QUESTION, "completion": ANSWER},
    "alpaca": {"instruction": QUESTION, "input": "", "output": ANSWER},
    "sharegpt": {"conversations": [{"from": "human", "value": QUESTION}, {"from": "gpt", "value": ANSWER}]},
    "messages": {"messages": [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": ANSWER}]},
}


@pytest.mark.parametrize("fmt", FORMAT_ROWS)
def test_each_format_is_detected_and_becomes_the_same_conversation(fmt: str) -> None:
    row = FORMAT_ROWS[fmt]
    layout = layout_of([row])
    assert layout.format == fmt
    assert chat.to_conversation(row, layout) == [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": ANSWER}]


def test_plain_text_alpaca_input_and_system_columns() -> None:
    assert layout_of([{"text": "a whole document"}]).format == "text"
    row = {"instruction": "translate", "input": "bonjour", "output": "hello", "system": "be brief"}
    layout = layout_of([row])
    assert layout.columns == {"instruction": "instruction", "output": "output", "input": "input", "system": "system"}
    assert chat.to_conversation(row, layout) == [
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "translate\n\nbonjour"}, {"role": "assistant", "content": "hello"}
    ]


def test_columns_can_be_mapped_and_the_format_forced() -> None:
    row = {"q": QUESTION, "a": ANSWER, "text": "ignored"}
    layout = layout_of([row], prompt_column="q", completion_column="a")
    assert layout == chat.ChatLayout("prompt_completion", {"prompt": "q", "completion": "a"})
    assert layout_of([row], chat_format="text").format == "text"


def test_a_file_matching_no_format_names_its_columns_and_the_formats() -> None:
    with pytest.raises(DataError) as caught:
        layout_of([{"foo": "x", "bar": "y"}])
    line = caught.value.one_line()
    assert "foo, bar" in line and "alpaca" in line and "sharegpt" in line and "messages" in line and "\n" not in line
    with pytest.raises(DataError, match="data.prompt_column"):
        layout_of([{"foo": "x"}], prompt_column="nope")


def test_template_comes_from_the_tokenizer_chatml_or_the_override(gpt2_dir: Path, llama_dir: Path, tmp_path: Path) -> None:
    base = tokenizer_of(gpt2_dir)
    assert chat.ensure_chat_template(base, DataConfig(train="x")) == "chatml"
    assert base.chat_template == chat.CHATML_TEMPLATE
    own = tokenizer_of(llama_dir)
    assert chat.ensure_chat_template(own, DataConfig(train="x")) == "tokenizer"
    assert own.chat_template == LLAMA_TEMPLATE
    template_file = tmp_path / "t.jinja"
    template_file.write_text("{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}")
    assert chat.ensure_chat_template(own, DataConfig(train="x", chat_template=str(template_file))) == "override"
    assert chat.render(own, [{"role": "user", "content": "hi"}]) == "<user>hi"
    inline = "{% for m in messages %}[{{ m['content'] }}]{% endfor %}"
    assert chat.ensure_chat_template(own, DataConfig(train="x", chat_template=inline)) == "override"
    own.save_pretrained(tmp_path / "saved")
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(tmp_path / "saved").chat_template == inline  # saved with the tokenizer
    with pytest.raises(ConfigError, match="neither a file nor a Jinja"):
        chat.ensure_chat_template(own, DataConfig(train="x", chat_template="no-such-file.jinja"))
    with pytest.raises(ConfigError, match="does not render"):
        chat.ensure_chat_template(own, DataConfig(train="x", chat_template="{% for m in messages %}"))


def trained_text(tokenizer, encoded: chat.Encoded) -> str:
    return tokenizer.decode([t for t, keep in zip(encoded.input_ids, encoded.trained) if keep])


def test_only_the_answer_and_its_end_of_turn_carry_labels(llama_dir: Path) -> None:
    tokenizer = tokenizer_of(llama_dir)
    chat.ensure_chat_template(tokenizer, DataConfig(train="x"))
    conversation = chat.to_conversation(FORMAT_ROWS["messages"], layout_of([FORMAT_ROWS["messages"]]))
    encoded = chat.encode(tokenizer, conversation, max_length=128)
    answer_ids = tokenizer(" " + ANSWER + "</s>", add_special_tokens=False)["input_ids"]
    n = len(encoded.input_ids)
    assert encoded.input_ids[-len(answer_ids):] == answer_ids
    # exactly the last len(answer) positions are trained: the answer and the EOS that ends it
    assert [i for i, label in enumerate(encoded.labels) if label != -100] == list(range(n - len(answer_ids), n))
    assert tokenizer.decode(encoded.input_ids[: n - len(answer_ids)]) == f"<s>[INST] {QUESTION} [/INST]"
    everything = chat.encode(tokenizer, conversation, max_length=128, train_on_prompt=True)
    assert everything.labels == everything.input_ids


def test_every_conversational_format_masks_identically(llama_dir: Path) -> None:
    tokenizer = tokenizer_of(llama_dir)
    chat.ensure_chat_template(tokenizer, DataConfig(train="x"))
    encodings = {fmt: chat.encode(tokenizer, chat.to_conversation(row, layout_of([row])), max_length=128) for fmt, row in FORMAT_ROWS.items()}
    first = encodings["messages"]
    for encoded in encodings.values():
        assert (encoded.input_ids, encoded.labels) == (first.input_ids, first.labels)


def test_multi_turn_trains_every_assistant_turn_and_no_user_turn(gpt2_dir: Path) -> None:
    tokenizer = tokenizer_of(gpt2_dir)
    assert chat.ensure_chat_template(tokenizer, DataConfig(train="x")) == "chatml"
    conversation = [
        {"role": "system", "content": "answer with one word"}, {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": ANSWER}, {"role": "user", "content": "hello there"}, {"role": "assistant", "content": "positive"},
    ]
    encoded = chat.encode(tokenizer, conversation, max_length=256)
    assert trained_text(tokenizer, encoded) == f"{ANSWER}<|im_end|>\npositive<|im_end|>\n"
    pieces = chat.render_example(tokenizer, conversation, max_length=256)
    assert [text for text, trained in pieces if trained] == [f"{ANSWER}<|im_end|>\n", "positive<|im_end|>\n"]
    assert "".join(text for text, _ in pieces) == chat.render(tokenizer, conversation)
    assert pieces[0] == ("<|im_start|>system\nanswer with one word<|im_end|>\n<|im_start|>user\n"
                         f"{QUESTION}<|im_end|>\n<|im_start|>assistant\n", False)


def test_plain_text_trains_on_every_token_and_ends_with_eos(gpt2_dir: Path) -> None:
    tokenizer = tokenizer_of(gpt2_dir)
    encoded = chat.encode(tokenizer, "the movie was good", max_length=64)
    assert encoded.input_ids[-1] == tokenizer.eos_token_id
    assert encoded.labels == encoded.input_ids
    assert chat.render_example(tokenizer, "the movie was good", max_length=64) == [("the movie was good<|endoftext|>", True)]


def test_truncation_counts_rows_whose_answer_is_cut_away(gpt2_dir: Path) -> None:
    tokenizer = tokenizer_of(gpt2_dir)
    chat.ensure_chat_template(tokenizer, DataConfig(train="x"))
    short = [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "positive"}]
    long_prompt = [{"role": "user", "content": "one two three four five six seven " * 6}, {"role": "assistant", "content": "positive"}]
    long_answer = [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "one two three four five six seven " * 6}]
    rows = [short] * 17 + [long_prompt] * 2 + [long_answer]
    limit = len(chat.encode(tokenizer, short, max_length=1000).input_ids) + 4
    stats = chat.length_stats(tokenizer, rows, max_length=limit)
    assert (stats.rows, stats.truncated_rows, stats.answer_cut_rows) == (20, 3, 2)  # a cut answer still trains its start
    assert stats.max > limit >= stats.p50 and stats.p99 == stats.max
    level, message = chat.truncation_problem(stats)
    assert level == "error" and "2 of 20" in message and f"training.max_length {limit}" in message
    assert chat.truncation_problem(chat.length_stats(tokenizer, [short] * 39 + [long_prompt], max_length=limit))[0] == "warning"
    assert chat.truncation_problem(chat.length_stats(tokenizer, rows, max_length=256)) is None


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def generation_config(model_dir: Path, data: Path, **training: object) -> RunConfig:
    return RunConfig.model_validate({
        "task": "text-generation", "model": {"name": str(model_dir)}, "data": {"train": str(data)},
        "training": {"max_length": 64, **training},
    })


def test_preflight_refuses_answers_cut_away_naming_max_length(gpt2_dir: Path, tmp_path: Path) -> None:
    from workbench.preflight import preflight

    rows = [{"prompt": "hello", "completion": "positive"}] * 30 + [{"prompt": "one two three four five six " * 10, "completion": "negative"}] * 4
    data = write_jsonl(tmp_path / "chat.jsonl", rows)
    report = preflight(generation_config(gpt2_dir, data, max_length=48), tmp_path / "runs")
    assert [e.kind for e in report.errors] == ["config"]
    assert "training.max_length 48" in report.errors[0].message and "lose their whole answer" in report.errors[0].message
    assert report.facts["data_format"] == "prompt_completion" and report.facts["chat_template"] == "chatml"
    fine = preflight(generation_config(gpt2_dir, data, max_length=200), tmp_path / "runs")
    assert fine.ok and fine.facts["answer_cut_rows"] == 0 and fine.facts["token_lengths"]["max"] > 48


def test_preflight_refuses_qlora_without_cuda(gpt2_dir: Path, tmp_path: Path) -> None:
    from workbench.preflight import preflight

    data = write_jsonl(tmp_path / "chat.jsonl", [{"prompt": "hello", "completion": "positive"}] * 10)
    config = generation_config(gpt2_dir, data, device="cpu")
    config.method.quantize = "4bit"
    report = preflight(config, tmp_path / "runs")
    assert any("needs a CUDA GPU" in e.message and "method.quantize" in e.hint for e in report.errors)


def test_generation_config_defaults_and_rules() -> None:
    base = {"task": "text-generation", "model": {"name": "m"}, "data": {"train": "x"}}
    config = RunConfig.model_validate(base)
    assert (config.training.max_length, config.training.learning_rate, config.method.kind) == (512, 2e-4, "lora")
    assert (config.generation.max_new_tokens, config.generation.temperature) == (64, 0.0)
    assert not config.training.train_on_prompt and not config.training.packing
    with pytest.raises(ConfigError, match="head"):
        RunConfig.model_validate(base | {"method": {"kind": "head"}})
    with pytest.raises(ConfigError, match="QLoRA"):
        RunConfig.model_validate(base | {"method": {"kind": "full", "quantize": "4bit"}})
    with pytest.raises(ConfigError, match="text-generation only"):
        RunConfig.model_validate({"model": {"name": "m"}, "data": {"train": "x"}, "training": {"packing": True}})


@pytest.mark.parametrize("builder", [build_tiny_gpt2, build_tiny_llama])
def test_packing_gives_the_same_loss_as_padding(builder, tmp_path: Path) -> None:
    """Padding-free batches (one flattened row, position ids restarting) give the padded batch's loss:
    no row attends to another."""
    import torch
    from transformers import AutoModelForCausalLM

    from workbench.tasks.generation import TASK

    folder = builder(tmp_path / "m")
    tokenizer = tokenizer_of(folder)
    chat.ensure_chat_template(tokenizer, DataConfig(train="x"))
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    rows = [[{"role": "user", "content": q}, {"role": "assistant", "content": a}]
            for q, a in ((QUESTION, ANSWER), ("hello there", "positive"), ("review: a lovely film . sentiment? " * 2, "positive"))]
    features = [{"input_ids": e.input_ids, "labels": e.labels} for e in (chat.encode(tokenizer, r, max_length=128) for r in rows)]
    with torch.no_grad():
        # use_cache=False as SFTTrainer passes it: with a cache, transformers ignores packed position ids
        padded = model(**TASK.collator(tokenizer)(features), use_cache=False).loss
        flat_batch = TASK.collator(tokenizer, padding_free=True)(features)
        assert flat_batch["input_ids"].shape[0] == 1 and "attention_mask" not in flat_batch
        packed = model(**flat_batch, use_cache=False).loss
    assert torch.allclose(padded, packed, atol=1e-5), (float(padded), float(packed))


def test_exact_match_normalises_case_space_and_final_punctuation() -> None:
    assert chat.normalise_answer("  Positive. ") == chat.normalise_answer("positive")
    assert chat.short_references(["positive", "negative", "42"])
    assert not chat.short_references(["a long answer that goes on for a while"])


def test_predict_generates_through_the_template_and_score_evaluates_a_file(llama_dir: Path, gpt2_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    from workbench.config import GenerationConfig
    from workbench.tasks.generation import TASK, cut_at_stop, end_of_turn_strings

    tokenizer = tokenizer_of(llama_dir)
    model = AutoModelForCausalLM.from_pretrained(llama_dir)
    out = TASK.predict(model, tokenizer, ["hello there", "what is the capital of france"], 64, generation=GenerationConfig(max_new_tokens=3))
    assert [o["prompt"] for o in out] == ["hello there", "what is the capital of france"]
    assert all(isinstance(o["generated"], str) for o in out)
    again = TASK.predict(model, tokenizer, ["hello there"], 64, generation=GenerationConfig(max_new_tokens=3))
    assert again[0] == out[0]  # greedy: the same text, batched or alone
    data = write_jsonl(tmp_path / "eval.jsonl", [{"prompt": "hello there", "completion": "positive"}, {"prompt": QUESTION, "completion": ANSWER}])
    config = generation_config(llama_dir, data).model_copy(update={"generation": GenerationConfig(max_new_tokens=4)})
    result = TASK.score(model, tokenizer, config, str(data), [], 8)
    assert result.metrics["n"] == 2 and result.metrics["loss"] > 0
    assert result.metrics["perplexity"] == pytest.approx(2.718281828 ** result.metrics["loss"], rel=1e-3)
    assert 0 <= result.metrics["exact_match"] <= 1 and len(result.samples) == 2
    assert {"prompt", "reference", "generated", "match"} <= result.samples[0].keys()
    chatml = tokenizer_of(gpt2_dir)
    chat.ensure_chat_template(chatml, DataConfig(train="x"))
    assert end_of_turn_strings(chatml) == ["<|im_end|>"] and end_of_turn_strings(tokenizer) == []
    assert cut_at_stop("positive<|im_end|>\n<|im_start|>user", ["<|im_end|>"]) == "positive"


def test_a_txt_file_is_plain_text_one_row_per_line(tmp_path: Path) -> None:
    from workbench.tasks.generation import TASK

    data = tmp_path / "corpus.txt"
    data.write_text("".join(f"line number {i} of the corpus\n\n" for i in range(20)))
    config = RunConfig.model_validate({"task": "text-generation", "model": {"name": "m"}, "data": {"train": str(data), "validation_split": 0.2}})
    splits, layout, rows = TASK.examples(config)
    assert layout.format == "text" and len(rows["train"]) == 16 and len(rows["validation"]) == 4
    assert all(isinstance(r, str) and r.startswith("line number") for r in rows["train"])
