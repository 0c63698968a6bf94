"""Chat data for text generation: formats, one conversational form, the chat template, masking.

Five layouts are recognised from a dataset's columns (override with `data.chat_format`):
plain text (`text`, or a `.txt` file: language modelling on every token), prompt/completion,
alpaca (`instruction`, optional `input`, `output`), sharegpt (`conversations` of `from`/`value`)
and OpenAI-style `messages` (`role`/`content`, multi-turn). Every conversational layout becomes
one list of `{"role", "content"}` turns, rendered through the tokenizer's chat template (ChatML
for a base model without one; `data.chat_template` overrides it).

Why we tokenise here and hand TRL's `SFTTrainer` pre-tokenised `input_ids`/`labels`: TRL masks
multi-turn conversations with `assistant_only_loss`, which needs `{% generation %}` markers in
the template; most templates lack them and TRL can only swap in replacements for a few model
families it knows. Rendering each assistant turn's prefix and finding its characters in the
rendered conversation works with any template, trains the end-of-turn token (so the model learns
to stop), and gives Setup's example view and the truncation count the very same token positions
that training uses. `SFTTrainer` still does the Trainer work: truncation, packing, padding-free
batches, loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from .config import DataConfig
from .errors import ConfigError, DataError

FORMATS = ("text", "prompt_completion", "alpaca", "sharegpt", "messages")
#: Above this share of rows whose answer is cut away entirely by max_length, pre-flight refuses.
TRUNCATED_ANSWER_LIMIT = 0.05

#: ChatML, for base models whose tokenizer has no chat template of its own.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

PROMPT_NAMES = ("prompt", "question", "query", "input", "source")
COMPLETION_NAMES = ("completion", "response", "answer", "output", "target")
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "bot": "assistant",
                  "model": "assistant", "chatgpt": "assistant", "system": "system"}
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class ChatLayout:
    """A detected data format and the columns it reads (`text`, `prompt`, `messages`, …)."""

    format: str
    columns: dict[str, str]

    def describe(self) -> str:
        used = ", ".join(f"{role}: {name}" for role, name in self.columns.items())
        return f"{self.format} ({used})"


def detect_layout(dataset: Any, data: DataConfig) -> ChatLayout:
    """The format of `dataset` (a `datasets.Dataset`), from `data.chat_format` or its columns."""
    columns = list(dataset.column_names)
    lower = {c.lower(): c for c in columns}
    first = dataset[0] if len(dataset) else {}

    def named(configured: str | None, key: str, names: Sequence[str]) -> str | None:
        if configured is not None:
            if configured not in columns:
                raise DataError(
                    f"column '{configured}' (data.{key}) is not in the data; columns are: {', '.join(columns)}",
                    f"set data.{key} to one of those",
                )
            return configured
        return next((lower[n] for n in names if n in lower), None)

    system = named(data.system_column, "system_column", ("system", "system_prompt"))
    extra = {"system": system} if system else {}
    wanted = data.chat_format
    turns = named(data.messages_column, "messages_column", ("messages", "conversations", "conversation", "chat", "turns"))
    if turns and wanted in ("auto", "messages", "sharegpt"):
        kind = _turn_style(first.get(turns)) if first else None
        if kind is None and wanted == "auto":
            turns = None
        else:
            return ChatLayout(wanted if wanted != "auto" else kind, {"messages": turns} | extra)
    instruction = named(data.instruction_column, "instruction_column", ("instruction",))
    output = named(data.output_column, "output_column", ("output", "response"))
    if wanted in ("auto", "alpaca") and instruction and output:
        used = {"instruction": instruction, "output": output}
        source = named(data.input_column, "input_column", ("input", "context"))
        return ChatLayout("alpaca", used | ({"input": source} if source else {}) | extra)
    prompt = named(data.prompt_column, "prompt_column", PROMPT_NAMES)
    completion = named(data.completion_column, "completion_column", COMPLETION_NAMES)
    if wanted in ("auto", "prompt_completion") and prompt and completion and prompt != completion:
        return ChatLayout("prompt_completion", {"prompt": prompt, "completion": completion} | extra)
    text = named(data.text_column, "text_column", ("text", "content", "document", "body"))
    if text is None and len(columns) == 1:
        text = columns[0]
    if wanted in ("auto", "text") and text:
        return ChatLayout("text", {"text": text})
    asked = "" if wanted == "auto" else f" as data.chat_format = {wanted!r}"
    raise DataError(
        f"can't read the data{asked}: its columns are {', '.join(columns) or '(none)'}; accepted: text (text), "
        "prompt_completion (prompt, completion), alpaca (instruction, input, output), "
        "sharegpt (conversations: from/value), messages (messages: role/content)",
        "rename the columns, or map them with data.prompt_column / data.completion_column / data.messages_column "
        "/ data.text_column and set data.chat_format",
    )


def _turn_style(value: Any) -> str | None:
    """`messages` for role/content turns, `sharegpt` for from/value ones, None for anything else."""
    if isinstance(value, str):
        value = _json_list(value)
    if not isinstance(value, list) or not value or not isinstance(value[0], dict):
        return None
    keys = set(value[0])
    if {"role", "content"} <= keys:
        return "messages"
    if {"from", "value"} <= keys:
        return "sharegpt"
    return None


def _json_list(text: str) -> Any:
    import json

    try:
        return json.loads(text)
    except ValueError:
        return None


def to_conversation(row: dict[str, Any], layout: ChatLayout, row_number: int = 0) -> list[dict[str, str]] | str:
    """One row as a list of `{role, content}` turns, or a plain string for the `text` format."""
    cols = layout.columns
    if layout.format == "text":
        return _text(row.get(cols["text"]))
    turns: list[dict[str, str]] = []
    if cols.get("system") and _text(row.get(cols["system"])).strip():
        turns.append({"role": "system", "content": _text(row[cols["system"]])})
    if layout.format == "prompt_completion":
        turns += [{"role": "user", "content": _text(row.get(cols["prompt"]))},
                  {"role": "assistant", "content": _text(row.get(cols["completion"]))}]
    elif layout.format == "alpaca":
        prompt = _text(row.get(cols["instruction"]))
        extra = _text(row.get(cols["input"])) if cols.get("input") else ""
        if extra.strip():
            prompt = f"{prompt}\n\n{extra}"
        turns += [{"role": "user", "content": prompt}, {"role": "assistant", "content": _text(row.get(cols["output"]))}]
    else:
        raw = row.get(cols["messages"])
        if isinstance(raw, str):
            raw = _json_list(raw)
        if not isinstance(raw, list):
            raise DataError(f"row {row_number + 1}: column '{cols['messages']}' is not a list of turns", "give each row a list of messages")
        for turn in raw:
            turns.append(_turn(turn, layout.format, row_number))
    if not any(t["role"] == "assistant" for t in turns):
        raise DataError(f"row {row_number + 1} has no assistant turn to learn from", "give every conversation at least one answer")
    return turns


def _turn(turn: Any, style: str, row_number: int) -> dict[str, str]:
    if not isinstance(turn, dict):
        raise DataError(f"row {row_number + 1}: a turn is {type(turn).__name__}, not an object", "give turns as objects")
    if style == "sharegpt":
        speaker = str(turn.get("from", "")).lower()
        role = SHAREGPT_ROLES.get(speaker)
        content = turn.get("value")
        if role is None:
            raise DataError(
                f"row {row_number + 1}: sharegpt speaker '{speaker}' is not one of {', '.join(sorted(SHAREGPT_ROLES))}",
                "use human/gpt/system speakers, or convert the data to messages",
            )
    else:
        role, content = str(turn.get("role", "")).lower(), turn.get("content")
        if role not in ROLES:
            raise DataError(f"row {row_number + 1}: role '{role}' is not one of {', '.join(ROLES)}", "use system/user/assistant roles")
    return {"role": role, "content": _text(content)}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# -- the chat template --------------------------------------------------------------------------

def ensure_chat_template(tokenizer: Any, data: DataConfig) -> str:
    """Give `tokenizer` the run's chat template and say where it came from.

    `override` (data.chat_template: a file, or inline Jinja), `tokenizer` (its own) or `chatml`
    (a base model without one). The template is set on `tokenizer.chat_template`, so saving the
    tokenizer saves it. Templates are Jinja rendered by transformers' sandbox: data, not code.
    """
    if data.chat_template:
        tokenizer.chat_template = _template_text(data.chat_template)
        _check_template(tokenizer)
        return "override"
    if getattr(tokenizer, "chat_template", None):
        return "tokenizer"
    tokenizer.chat_template = CHATML_TEMPLATE
    return "chatml"


def _template_text(value: str) -> str:
    if "{{" in value or "{%" in value:
        return value
    path = Path(value).expanduser()
    if path.is_file():
        return path.read_text("utf-8")
    raise ConfigError(
        f"data.chat_template is neither a file nor a Jinja template: {value[:60]!r}",
        "give a path to a .jinja file, or the template itself (it contains {% … %} / {{ … }})",
    )


def _check_template(tokenizer: Any) -> None:
    sample = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    try:
        text = render(tokenizer, sample)
    except Exception as err:  # jinja2 raises TemplateSyntaxError, UndefinedError, TemplateError…
        raise ConfigError(f"data.chat_template does not render: {type(err).__name__}: {str(err)[:120]}", "fix the template") from None
    if "hello" not in text:
        raise ConfigError("data.chat_template drops the assistant's answer when rendering", "render message['content'] for every message")


def render(tokenizer: Any, messages: list[dict[str, str]], add_generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def prompt_text(tokenizer: Any, prompt: str | list[dict[str, str]]) -> str:
    """What a model is given to answer `prompt` (a user message or earlier turns)."""
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    return render(tokenizer, messages, add_generation_prompt=True)


# -- tokenising with the answer mask -----------------------------------------------------------

@dataclass
class Encoded:
    """One tokenised row: ids, which of them carry loss, and what truncation did to it."""

    input_ids: list[int]
    trained: list[bool]
    full_length: int
    answer_cut: bool  # max_length removed every trained token
    offsets: list[tuple[int, int]] = field(default_factory=list)
    text: str = ""

    @property
    def labels(self) -> list[int]:
        return [token if keep else -100 for token, keep in zip(self.input_ids, self.trained)]


def answer_spans(tokenizer: Any, messages: list[dict[str, str]]) -> tuple[str, list[tuple[int, int]]]:
    """(the rendered conversation, character spans of every assistant turn incl. its end-of-turn)."""
    full = render(tokenizer, messages)
    spans: list[tuple[int, int]] = []
    searched = 0
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = render(tokenizer, messages[:i], add_generation_prompt=True) if i else ""
        upto = render(tokenizer, messages[: i + 1])
        if full.startswith(upto) and upto.startswith(before) and len(upto) > len(before):
            spans.append((len(before), len(upto)))
        else:  # a template that renders earlier turns differently later: find the answer's text itself
            start = full.find(message["content"], searched)
            if start < 0:
                continue
            spans.append((start, start + len(message["content"])))
        searched = spans[-1][1]
    return full, spans


def encode(tokenizer: Any, example: list[dict[str, str]] | str, *, max_length: int, train_on_prompt: bool = False) -> Encoded:
    """Tokenise one row; labels on the assistant turns only unless `train_on_prompt`."""
    if isinstance(example, str):
        text = example
        enc = tokenizer(text, add_special_tokens=True, return_offsets_mapping=True)
        ids, offsets = list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]
        if tokenizer.eos_token_id is not None and (not ids or ids[-1] != tokenizer.eos_token_id):
            ids.append(tokenizer.eos_token_id)
            offsets.append((len(text), len(text)))
        trained = [True] * len(ids)
    else:
        text, spans = answer_spans(tokenizer, example)
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids, offsets = list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]
        trained = [train_on_prompt or any(start < end_ and end > start_ for start_, end_ in spans) for start, end in offsets]
    full_length = len(ids)
    cut = any(trained) and not any(trained[:max_length])
    return Encoded(ids[:max_length], trained[:max_length], full_length, cut, offsets[:max_length], text)


def render_example(tokenizer: Any, example: list[dict[str, str]] | str, *, max_length: int, train_on_prompt: bool = False) -> list[tuple[str, bool]]:
    """One tokenised row as text pieces, each with whether it is trained (label != -100).

    Consecutive tokens of the same kind are merged; text beyond `max_length` is left out.
    """
    encoded = encode(tokenizer, example, max_length=max_length, train_on_prompt=train_on_prompt)
    pieces: list[tuple[str, bool]] = []
    for token_id, (start, end), keep in zip(encoded.input_ids, encoded.offsets, encoded.trained):
        piece = encoded.text[start:end] if end > start else tokenizer.decode([token_id])
        if pieces and pieces[-1][1] == keep:
            pieces[-1] = (pieces[-1][0] + piece, keep)
        else:
            pieces.append((piece, keep))
    return pieces


@dataclass
class LengthStats:
    """Tokens per row against `max_length`, before training."""

    rows: int
    p50: int
    p90: int
    p99: int
    max: int
    max_length: int
    truncated_rows: int  # rows longer than max_length
    answer_cut_rows: int  # rows whose every trained token lies beyond max_length

    @property
    def answer_cut_share(self) -> float:
        return self.answer_cut_rows / self.rows if self.rows else 0.0

    def token_lengths(self) -> dict[str, int]:
        return {"p50": self.p50, "p90": self.p90, "p99": self.p99, "max": self.max}

    def describe(self) -> str:
        return (f"tokens per row p50 {self.p50}, p90 {self.p90}, p99 {self.p99}, max {self.max} "
                f"(max_length {self.max_length}: {self.truncated_rows} of {self.rows} rows truncated, "
                f"{self.answer_cut_rows} lose their whole answer)")


def length_stats(tokenizer: Any, examples: Iterable[list[dict[str, str]] | str], *, max_length: int, train_on_prompt: bool = False) -> LengthStats:
    encoded = [encode(tokenizer, e, max_length=max_length, train_on_prompt=train_on_prompt) for e in examples]
    return stats_of(encoded, max_length)


def stats_of(encoded: Sequence[Encoded], max_length: int) -> LengthStats:
    lengths = sorted(e.full_length for e in encoded) or [0]

    def percentile(q: float) -> int:
        return lengths[min(len(lengths) - 1, int(round(q * (len(lengths) - 1))))]

    return LengthStats(
        rows=len(encoded), p50=percentile(0.5), p90=percentile(0.9), p99=percentile(0.99), max=lengths[-1],
        max_length=max_length, truncated_rows=sum(e.full_length > max_length for e in encoded),
        answer_cut_rows=sum(e.answer_cut for e in encoded),
    )


def truncation_problem(stats: LengthStats, split: str = "training") -> tuple[str, str] | None:
    """(level, message) when answers are cut away: an `error` above TRUNCATED_ANSWER_LIMIT, else a `warning`."""
    if not stats.answer_cut_rows:
        return None
    share = stats.answer_cut_share
    message = (f"{stats.answer_cut_rows} of {stats.rows} {split} rows ({share:.0%}) lose their whole answer to "
               f"training.max_length {stats.max_length} (tokens per row p99 {stats.p99}, max {stats.max})")
    return ("error" if share > TRUNCATED_ANSWER_LIMIT else "warning"), message


# -- prompts and references for evaluation -----------------------------------------------------

def split_for_generation(example: list[dict[str, str]] | str, tokenizer: Any | None = None) -> tuple[list[dict[str, str]] | str, str]:
    """(what the model is given, the reference it should produce).

    A conversation ends on its last assistant turn; a plain text is cut in half by words.
    """
    if isinstance(example, str):
        words = example.split()
        half = max(1, len(words) // 2)
        return " ".join(words[:half]), " ".join(words[half:])
    last = max(i for i, turn in enumerate(example) if turn["role"] == "assistant")
    return example[:last], example[last]["content"]


def normalise_answer(text: str) -> str:
    """For exact match: case, surrounding whitespace and final punctuation ignored."""
    return text.strip().lower().rstrip(".!?;:,").strip()


def short_references(references: Sequence[str]) -> bool:
    """Exact match is meaningful when answers are a label word or a number, not prose."""
    return bool(references) and all(0 < len(r.split()) <= 4 and len(r) <= 40 for r in references)
