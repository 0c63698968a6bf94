"""CoNLL-format token files: one token per line, tag in the last column, blank line between
sentences, `-DOCSTART-` lines skipped."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from .errors import DataError

#: An entity tag: `O`, or a one-letter IOB/BIOES prefix, a dash and a type (`B-PER`).
ENTITY_TAG = re.compile(r"^(O|[BIES]-\S+)$")


def parse_conll(text: str, name: str = "file") -> tuple[list[list[str]], list[list[str]]]:
    """(sentences, tags); every problem names the line and what a good line looks like.

    A line with fewer columns than the file's usual width has lost a column, most often the tag
    (taking the last column then would make a part-of-speech tag an entity tag).
    """
    lines = text.splitlines()
    width = _usual_width(lines)
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    tokens: list[str] = []
    labels: list[str] = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("-DOCSTART-"):
            if tokens:
                sentences.append(tokens)
                tags.append(labels)
                tokens, labels = [], []
            continue
        columns = stripped.split()
        _check_columns(columns, width, number, name, stripped)
        _check_tag(columns[-1], number, name)
        tokens.append(columns[0])
        labels.append(columns[-1])
    if tokens:
        sentences.append(tokens)
        tags.append(labels)
    return sentences, tags


def _usual_width(lines: list[str]) -> int:
    """The most common number of whitespace-separated columns of the token lines."""
    widths = Counter(len(line.split()) for line in lines if line.strip() and not line.strip().startswith("-DOCSTART-"))
    return widths.most_common(1)[0][0] if widths else 2


def _check_columns(columns: list[str], width: int, number: int, name: str, line: str) -> None:
    if len(columns) < 2:
        raise DataError(
            f"{name} line {number} has one column ('{line[:40]}'), expected 'TOKEN ... TAG'",
            "fix that line: every non-blank line needs a token and a tag separated by whitespace",
        )
    if len(columns) < width:
        raise DataError(
            f"line {number} of {name} has {len(columns)} columns where the others have {width} ('{line[:40]}'): "
            "a column, most likely the tag, is missing",
            f"fix line {number}: give it the same {width} columns as the rest, the tag last",
        )


def _check_tag(tag: str, number: int, name: str) -> None:
    if not ENTITY_TAG.match(tag):
        raise DataError(
            f"line {number} of {name} ends in {tag!r}, not an entity tag like O or B-PER (the tag is the last column)",
            "token classification needs IOB or BIOES entity tags last on each line; check that this is an NER file",
        )


def read_conll(path: Path, encoding: str = "utf-8"):
    import datasets

    sentences, tags = parse_conll(Path(path).read_text(encoding), Path(path).name)
    if not sentences:
        raise DataError(f"{path} holds no sentences", "check that it is a CoNLL file: TOKEN ... TAG per line")
    return datasets.Dataset.from_dict({"tokens": sentences, "ner_tags": tags})
