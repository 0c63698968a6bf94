"""Streaming generation: a run's model answers a conversation piece by piece, for `tlwb predict`
and the TUI's chat playground alike."""

from __future__ import annotations

import threading
from typing import Any, Iterator

from .config import GenerationConfig

#: Seconds the streamer waits for the next token before giving up on a stuck generation.
TOKEN_TIMEOUT_S = 300.0


def stream_reply(loaded: Any, messages: list[dict[str, str]] | str, generation: GenerationConfig,
                 stop: threading.Event | None = None) -> Iterator[str]:
    """The model's next assistant turn after `messages`, piece by piece as it is generated.

    `model.generate` runs in its own thread feeding a `TextIteratorStreamer`; setting `stop`
    ends it at the next token. The prompt is the conversation through the run's chat template,
    or, given a string, that text to continue (a plain-text run).
    """
    from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

    from .chat import render

    class Stopped(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
            return stop is not None and stop.is_set()

    tokenizer, model = loaded.tokenizer, loaded.model
    plain = isinstance(messages, str)
    prompt = messages if plain else render(tokenizer, messages, add_generation_prompt=True)
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=plain).to(model.device)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=TOKEN_TIMEOUT_S)
    options: dict[str, Any] = dict(max_new_tokens=generation.max_new_tokens, streamer=streamer,
                                   stopping_criteria=StoppingCriteriaList([Stopped()]),
                                   pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id)
    if generation.temperature > 0:
        options.update(do_sample=True, temperature=generation.temperature, top_p=generation.top_p)
    else:
        options.update(do_sample=False)
    failure: list[BaseException] = []

    def generate() -> None:
        try:
            model.generate(**inputs, **options)
        except BaseException as err:  # said by the caller, after the streamer ends
            failure.append(err)
            streamer.end()

    thread = threading.Thread(target=generate, name="chat-generate", daemon=True)
    thread.start()
    yield from streamer
    thread.join()
    if failure:
        raise failure[0]
