"""Tiny random decoders (GPT-2 and Llama, 32 dim) saved like hub models, for the generation tests.

Both share a byte-level BPE tokenizer trained here on a few sentences. The GPT-2 one is a base
model without a chat template (so tlwb falls back to ChatML); the Llama one has its own
template, with the end-of-turn token `</s>` as EOS.
"""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "the movie was good and great", "the film was bad and awful", "what is the capital of france",
    "paris is the capital of france", "answer with one word", "positive", "negative", "hello there",
    "user assistant system", "review: a lovely film . sentiment?", "one two three four five six seven",
] * 20

#: A small Llama-style template with its own markers (it is *not* ChatML).
LLAMA_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'system' %}{{ '<<SYS>>' + message['content'] + '<</SYS>>' }}"
    "{% else %}{{ ' ' + message['content'] + eos_token }}{% endif %}{% endfor %}"
)


def tiny_tokenizer(bos: str | None, eos: str, template: str | None):
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    specials = [eos] + ([bos] if bos else []) + ["[INST]", "[/INST]"]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS, vocab_size=400, min_frequency=1, special_tokens=specials)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token=eos, bos_token=bos, pad_token=eos)
    if template:
        tokenizer.chat_template = template
    return tokenizer


def seeded_init(seed: int = 2) -> None:
    """The same random weights every session. Unseeded, the tiny Llama's LoRA run sometimes learns
    to answer every prompt with EOS at once (seeds 0, 1 and 3 do), and the export test's greedy
    generations then have nothing to compare; seed 2 answers with text."""
    import torch

    torch.manual_seed(seed)


def build_tiny_gpt2(folder: Path) -> Path:
    from transformers import GPT2Config, GPT2LMHeadModel

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = tiny_tokenizer(None, "<|endoftext|>", None)
    tokenizer.save_pretrained(folder)
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=256,
                        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id)
    seeded_init()
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


def build_tiny_llama(folder: Path) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = tiny_tokenizer("<s>", "</s>", LLAMA_TEMPLATE)
    tokenizer.save_pretrained(folder)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    seeded_init()
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder
