"""Named-entity tags: the IOB1, IOB2 and BIOES schemes, entity spans, entity-level metrics.

Tags are `O` or `PREFIX-TYPE` (`B-PER`, `I-LOC`, `E-ORG`, `S-MISC`). The schemes differ in how
an entity starts:
- IOB2 (BIO): every entity starts with `B-`; CoNLL-2003 as distributed on the hub.
- IOB1: entities start with `I-`; `B-` only separates two adjacent entities of one type
  (the original CoNLL-2003 files).
- BIOES (IOBES): `S-` marks a one-word entity, `E-` the last word of a longer one.

Metrics are seqeval's, in strict mode: an entity counts only when its type and both boundaries
match, decoded by the rules of the scheme (IOB1 is converted to IOB2 first, which is exact).
Spans here are word indices with the end exclusive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from .errors import DataError

SCHEMES = ("IOB1", "IOB2", "BIOES")
PREFIXES = {"IOB1": "BI", "IOB2": "BI", "BIOES": "BIES"}
#: Order of prefixes within one entity type in a label list.
PREFIX_ORDER = "BIES"
#: The confusion-matrix row/column for "no entity with this span" (missed or spurious).
NO_ENTITY = "O"

#: Words as CoNLL splits them: abbreviations (U.S.), words with inner hyphens, dots or
#: apostrophes (1996-08-22, O'Neill), a possessive 's on its own, any other symbol alone.
WORD_PATTERN = re.compile(r"(?:[A-Za-z]\.){2,}|\w+(?:[-.]\w+|['’](?![sS]\b)\w+)*|['’][sS]\b|[^\w\s]")


@dataclass(frozen=True)
class Span:
    start: int
    end: int  # exclusive
    type: str


def split_words(text: str) -> list[tuple[str, int, int]]:
    """(word, char start, char end) for each word of free text, punctuation split off."""
    return [(m.group(), m.start(), m.end()) for m in WORD_PATTERN.finditer(text)]


def split_tag(tag: str) -> tuple[str, str]:
    """("B", "PER") for "B-PER", ("O", "") for "O"; ValueError for anything else."""
    if tag == "O":
        return "O", ""
    prefix, dash, kind = tag.partition("-")
    if not dash or len(prefix) != 1 or not kind or prefix not in PREFIX_ORDER:
        raise ValueError(tag)
    return prefix, kind


def detect_scheme(sequences: Iterable[Sequence[str]]) -> str:
    """BIOES when E-/S- tags occur; IOB1 when entities mostly start with I-; else IOB2.

    Counting starts (rather than trusting one I- after O) keeps a few annotation slips in IOB2
    data from flipping it to IOB1.
    """
    i_starts = b_starts = 0
    for tags in sequences:
        previous = "O"
        for tag in tags:
            prefix, kind = _split_or_outside(tag)
            if prefix in "ES":
                return "BIOES"
            if prefix == "B":
                b_starts += 1
            elif prefix == "I" and _split_or_outside(previous)[1] != kind:
                i_starts += 1
            previous = tag
    return "IOB1" if i_starts > b_starts else "IOB2"


def _split_or_outside(tag: str) -> tuple[str, str]:
    try:
        return split_tag(tag)
    except ValueError:
        return "O", ""


def check_tags(tags: Iterable[str], scheme: str, source: str) -> None:
    """DataError for a tag that is not `O` or `PREFIX-TYPE` with a prefix of `scheme`."""
    allowed = PREFIXES[scheme]
    for tag in set(tags):
        try:
            prefix, _ = split_tag(tag)
        except ValueError:
            raise DataError(
                f"tag {tag!r} in {source} is not 'O' or PREFIX-TYPE (like B-PER)",
                "use IOB1, IOB2 or BIOES tags, or check data.tags_column",
            ) from None
        if prefix != "O" and prefix not in allowed:
            raise DataError(
                f"tag {tag!r} in {source} does not belong to the {scheme} scheme",
                f"set data.tag_scheme (one of {', '.join(SCHEMES)}) or give every split the same scheme",
            )


def order_tags(tags: Iterable[str]) -> list[str]:
    """`O` first, then each entity type (alphabetically) with its prefixes in B, I, E, S order."""
    pairs = {split_tag(tag) for tag in tags if tag != "O"}
    ordered = sorted(pairs, key=lambda pair: (pair[1], PREFIX_ORDER.index(pair[0])))
    return ["O"] + [f"{prefix}-{kind}" for prefix, kind in ordered]


def entity_types(tags: Iterable[str]) -> list[str]:
    return sorted({split_tag(tag)[1] for tag in tags if tag != "O"})


def iob1_to_iob2(tags: Sequence[str]) -> list[str]:
    """Rewrite IOB1 so that every entity starts with B- (the first I- of each entity)."""
    converted = []
    previous_kind = ""
    for tag in tags:
        prefix, kind = _split_or_outside(tag)
        if prefix == "I" and kind != previous_kind:
            tag = f"B-{kind}"
        converted.append(tag)
        previous_kind = kind
    return converted


def seqeval_scheme(scheme: str):
    """The seqeval scheme class that strict mode uses for `scheme` (IOB1 is scored as IOB2)."""
    from seqeval.scheme import IOB2, IOBES

    return IOBES if scheme == "BIOES" else IOB2


def for_seqeval(sequences: Iterable[Sequence[str]], scheme: str) -> list[list[str]]:
    return [iob1_to_iob2(tags) if scheme == "IOB1" else list(tags) for tags in sequences]


def entity_spans(tags: Sequence[str], scheme: str) -> list[Span]:
    """The entities a strict decoder finds in `tags`; ill-formed pieces are not entities.

    The same spans as seqeval's strict mode (`seqeval.scheme.Tokens`, which a test checks on
    random sequences), about fifty times faster: IOB2 entities are `B-X I-X*`; BIOES ones
    `S-X` or `B-X I-X* E-X`; IOB1 is read as its IOB2 conversion.
    """
    if scheme == "IOB1":
        tags = iob1_to_iob2(tags)
    bioes = scheme == "BIOES"
    spans = []
    i, n = 0, len(tags)
    while i < n:
        prefix, kind = _split_or_outside(tags[i])
        if bioes and prefix == "S":
            spans.append(Span(i, i + 1, kind))
        elif prefix == "B":
            inside = f"I-{kind}"
            j = i + 1
            while j < n and tags[j] == inside:
                j += 1
            if not bioes:
                spans.append(Span(i, j, kind))
            elif j < n and tags[j] == f"E-{kind}":
                j += 1
                spans.append(Span(i, j, kind))
            i = j
            continue
        i += 1
    return spans


def lenient_spans(tags: Sequence[str]) -> list[Span]:
    """Entities read the conlleval way: an `I-X` after `O` still starts an entity.

    Used for free-text predictions, where a reader wants the model's best guess rather than a
    strict verdict; works for IOB1, IOB2 and BIOES alike.
    """
    from seqeval.metrics.sequence_labeling import get_entities

    return [Span(start, end + 1, kind) for kind, start, end in get_entities(list(tags))]


def entity_report(gold: list[list[str]], pred: list[list[str]], scheme: str) -> dict:
    """Entity-level scores (seqeval, strict), token accuracy and a span-aligned confusion.

    `confusion_matrix` rows are gold, columns predicted, over `labels` = the entity types then
    `O`. A gold entity lands in the column of the predicted entity with exactly its span, or in
    `O` (missed); a predicted entity with no gold entity of the same span lands in row `O`
    (spurious). So the diagonal is the true positives, row sums are the gold counts (support)
    and column sums the predicted counts, and the `O`/`O` cell is always 0.
    """
    from seqeval.metrics import classification_report

    gold_seq = for_seqeval(gold, scheme)
    pred_seq = for_seqeval(pred, scheme)
    report = classification_report(
        gold_seq, pred_seq, mode="strict", scheme=seqeval_scheme(scheme), output_dict=True, zero_division=0
    )
    types = sorted(set(entity_types(t for tags in gold for t in tags)) | set(entity_types(t for tags in pred for t in tags)))
    per_class = {
        kind: {
            "precision": float(report.get(kind, {}).get("precision", 0.0)),
            "recall": float(report.get(kind, {}).get("recall", 0.0)),
            "f1": float(report.get(kind, {}).get("f1-score", 0.0)),
            "support": int(report.get(kind, {}).get("support", 0)),
        }
        for kind in types
    }
    overall = report.get("micro avg", {})
    words = sum(len(tags) for tags in gold)
    right = sum(g == p for gold_tags, pred_tags in zip(gold, pred) for g, p in zip(gold_tags, pred_tags))
    labels = types + [NO_ENTITY]
    return {
        "metrics": {
            "f1": float(overall.get("f1-score", 0.0)),
            "precision": float(overall.get("precision", 0.0)),
            "recall": float(overall.get("recall", 0.0)),
            "token_accuracy": right / words if words else 0.0,
            "n": len(gold),
        },
        "per_class": per_class,
        "confusion_matrix": span_confusion(gold, pred, scheme, labels),
        "labels": labels,
    }


def span_confusion(gold: list[list[str]], pred: list[list[str]], scheme: str, labels: list[str]) -> list[list[int]]:
    index = {label: i for i, label in enumerate(labels)}
    outside = index[NO_ENTITY]
    matrix = [[0] * len(labels) for _ in labels]
    for gold_tags, pred_tags in zip(gold, pred):
        predicted = {(s.start, s.end): s.type for s in entity_spans(pred_tags, scheme)}
        for span in entity_spans(gold_tags, scheme):
            guess = predicted.pop((span.start, span.end), None)
            matrix[index[span.type]][index[guess] if guess else outside] += 1
        for kind in predicted.values():
            matrix[outside][index[kind]] += 1
    return matrix
