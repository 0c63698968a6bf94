"""CoNLL-format token files: one token per line, tag in the last column, blank line between
sentences, `-DOCSTART-` lines skipped."""

from __future__ import annotations

from pathlib import Path

from .errors import DataError


def parse_conll(text: str, name: str = "file") -> tuple[list[list[str]], list[list[str]]]:
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    tokens: list[str] = []
    labels: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("-DOCSTART-"):
            if tokens:
                sentences.append(tokens)
                tags.append(labels)
                tokens, labels = [], []
            continue
        columns = stripped.split()
        if len(columns) < 2:
            raise DataError(
                f"{name} line {number} has one column ('{stripped[:40]}'), expected 'TOKEN ... TAG'",
                "fix that line: every non-blank line needs a token and a tag separated by whitespace",
            )
        tokens.append(columns[0])
        labels.append(columns[-1])
    if tokens:
        sentences.append(tokens)
        tags.append(labels)
    return sentences, tags


def read_conll(path: Path, encoding: str = "utf-8"):
    import datasets

    sentences, tags = parse_conll(Path(path).read_text(encoding), Path(path).name)
    if not sentences:
        raise DataError(f"{path} holds no sentences", "check that it is a CoNLL file: TOKEN ... TAG per line")
    return datasets.Dataset.from_dict({"tokens": sentences, "ner_tags": tags})
