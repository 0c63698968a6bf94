"""Token classification without training: CoNLL parsing, tag schemes, metrics, sub-word labels."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from workbench.config import RunConfig
from workbench.conll import parse_conll, read_conll
from workbench.errors import DataError
from workbench.ner import Span, detect_scheme, entity_report, entity_spans, lenient_spans, order_tags, split_words
from workbench.tasks import get_task
from workbench.tasks.token_classification import TaggedSentences, encode_split, read_tagged

TASK = get_task("token-classification")


# -- CoNLL files ------------------------------------------------------------------------------
def test_conll_skips_docstart_and_splits_on_any_run_of_blank_lines() -> None:
    text = "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n\n\nPeter\tB-PER\nBlackburn\tI-PER\n-DOCSTART- O\nBRUSSELS B-LOC"
    sentences, tags = parse_conll(text)
    assert sentences == [["EU", "rejects"], ["Peter", "Blackburn"], ["BRUSSELS"]]
    assert tags == [["B-ORG", "O"], ["B-PER", "I-PER"], ["B-LOC"]]


def test_conll_one_column_line_names_the_line() -> None:
    with pytest.raises(DataError, match="train.txt line 3 has one column"):
        parse_conll("EU B-ORG\n\nrejects\n", "train.txt")


def test_the_real_conll2003_files(shared_data: Path) -> None:
    """Sentence, token and entity counts as SOURCE.md states them (the official statistics)."""
    expected = {
        "train.txt": (14_041, 203_621, {"PER": 6_600, "ORG": 6_321, "LOC": 7_140, "MISC": 3_438}),
        "valid.txt": (3_250, 51_362, {"PER": 1_842, "ORG": 1_341, "LOC": 1_837, "MISC": 922}),
    }
    for name, (sentences, tokens, entities) in expected.items():
        dataset = read_conll(shared_data / "conll2003" / name)
        assert dataset.column_names == ["tokens", "ner_tags"]
        assert len(dataset) == sentences
        assert sum(map(len, dataset["tokens"])) == tokens
        assert "-DOCSTART-" not in {word for row in dataset["tokens"] for word in row}
        assert detect_scheme(dataset["ner_tags"]) == "IOB2"
        assert Counter(s.type for row in dataset["ner_tags"] for s in entity_spans(row, "IOB2")) == entities


# -- tag schemes ------------------------------------------------------------------------------
IOB2 = ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "O", "B-ORG", "I-ORG"]
IOB1 = ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "O", "I-ORG", "I-ORG"]
BIOES = ["B-PER", "E-PER", "S-PER", "O", "S-LOC", "O", "B-ORG", "E-ORG"]
SPANS = [Span(0, 2, "PER"), Span(2, 3, "PER"), Span(4, 5, "LOC"), Span(6, 8, "ORG")]


def test_the_three_schemes_are_detected_and_decode_to_the_same_spans() -> None:
    for scheme, tags in (("IOB2", IOB2), ("IOB1", IOB1), ("BIOES", BIOES)):
        assert detect_scheme([tags]) == scheme
        assert entity_spans(tags, scheme) == SPANS


def test_a_few_slips_in_iob2_data_do_not_make_it_iob1() -> None:
    rows = [IOB2] * 5 + [["O", "I-PER", "O"]]
    assert detect_scheme(rows) == "IOB2"


def test_strict_decoding_drops_ill_formed_entities_lenient_keeps_them() -> None:
    tags = ["O", "I-PER", "I-PER", "O", "B-LOC", "I-ORG"]
    assert entity_spans(tags, "IOB2") == [Span(4, 5, "LOC")]
    assert lenient_spans(tags) == [Span(1, 3, "PER"), Span(4, 5, "LOC"), Span(5, 6, "ORG")]
    assert entity_spans(["B-PER", "I-PER", "O", "S-LOC"], "BIOES") == [Span(3, 4, "LOC")]


@pytest.mark.parametrize("scheme", ["IOB2", "BIOES", "IOB1"])
def test_the_strict_decoder_finds_what_seqeval_strict_finds(scheme: str) -> None:
    """On random (mostly ill-formed) sequences, our fast decoder and seqeval's Tokens agree."""
    from seqeval.scheme import Tokens

    from workbench.ner import for_seqeval, seqeval_scheme

    rng = np.random.default_rng(1)
    tags = ["O"] + [f"{p}-{t}" for p in ("BIES" if scheme == "BIOES" else "BI") for t in ("PER", "LOC")]
    for _ in range(500):
        row = [tags[i] for i in rng.integers(len(tags), size=rng.integers(1, 12))]
        [prepared] = for_seqeval([row], scheme)
        expected = [Span(e.start, e.end, e.tag) for e in Tokens(prepared, seqeval_scheme(scheme)).entities]
        assert entity_spans(row, scheme) == expected, row


def test_label_order_is_o_then_each_type_with_its_prefixes() -> None:
    assert order_tags(["I-PER", "S-LOC", "O", "B-PER", "E-PER", "B-LOC"]) == ["O", "B-LOC", "S-LOC", "B-PER", "I-PER", "E-PER"]
    assert order_tags(["B-X"]) == ["O", "B-X"]


def test_words_split_like_conll_with_character_offsets() -> None:
    text = "Angela Merkel's visit to the U.S. on 1996-08-22, O'Neill said."
    words = split_words(text)
    assert [w for w, _, _ in words] == ["Angela", "Merkel", "'s", "visit", "to", "the", "U.S.", "on", "1996-08-22", ",", "O'Neill", "said", "."]
    assert all(text[start:end] == word for word, start, end in words)


# -- metrics ----------------------------------------------------------------------------------
def test_entity_metrics_on_a_hand_checked_example() -> None:
    """Gold: PER(0-2), LOC(3), ORG(1-3 of s2), MISC(4 of s2): 4 entities.
    Pred: PER(0-2) right; LOC(3) typed ORG; ORG(1-3) cut short to ORG(1-2); MISC right; and a
    spurious PER. Correct: PER, MISC -> precision 2/5, recall 2/4, F1 = 2·0.4·0.5/0.9 = 4/9."""
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG", "O", "B-MISC"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-PER", "B-ORG", "O", "O", "B-MISC"]]
    report = entity_report(gold, pred, "IOB2")
    metrics = report["metrics"]
    assert metrics["precision"] == pytest.approx(2 / 5)
    assert metrics["recall"] == pytest.approx(2 / 4)
    assert metrics["f1"] == pytest.approx(4 / 9)
    assert metrics["token_accuracy"] == pytest.approx(6 / 9)
    assert metrics["n"] == 2
    assert report["per_class"]["PER"] == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "support": 1}
    assert report["per_class"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert report["per_class"]["ORG"]["precision"] == 0.0 and report["per_class"]["ORG"]["support"] == 1
    assert report["per_class"]["MISC"]["f1"] == 1.0
    assert report["labels"] == ["LOC", "MISC", "ORG", "PER", "O"]
    assert report["confusion_matrix"] == [
        # LOC MISC ORG PER O   (rows gold, columns predicted; O = no entity with that span)
        [0, 0, 1, 0, 0],  # LOC predicted as ORG
        [0, 1, 0, 0, 0],
        [0, 0, 0, 0, 1],  # ORG cut short: missed ...
        [0, 0, 0, 1, 0],
        [0, 0, 1, 1, 0],  # ... plus a spurious ORG, and the spurious PER
    ]


def test_the_confusion_diagonal_agrees_with_seqeval_per_type() -> None:
    rng = np.random.default_rng(0)
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    gold = [[tags[i] for i in rng.choice(5, 12, p=[0.6, 0.1, 0.1, 0.1, 0.1])] for _ in range(40)]
    pred = [[t if rng.random() < 0.8 else tags[rng.integers(5)] for t in row] for row in gold]
    report = entity_report(gold, pred, "IOB2")
    matrix, labels = np.array(report["confusion_matrix"]), report["labels"]
    for i, kind in enumerate(labels[:-1]):
        scores = report["per_class"][kind]
        assert matrix[i].sum() == scores["support"]
        assert matrix[i, i] / max(matrix[:, i].sum(), 1) == pytest.approx(scores["precision"])


def test_iob1_and_bioes_score_like_their_iob2_equivalent() -> None:
    pred_iob2 = ["B-PER", "I-PER", "O", "O", "B-LOC", "O", "B-ORG", "B-ORG"]
    pred_iob1 = ["I-PER", "I-PER", "O", "O", "I-LOC", "O", "I-ORG", "B-ORG"]
    pred_bioes = ["B-PER", "E-PER", "O", "O", "S-LOC", "O", "S-ORG", "S-ORG"]
    expected = entity_report([IOB2], [pred_iob2], "IOB2")["metrics"]
    assert entity_report([IOB1], [pred_iob1], "IOB1")["metrics"]["f1"] == pytest.approx(expected["f1"]) == pytest.approx(0.5)
    assert entity_report([BIOES], [pred_bioes], "BIOES")["metrics"]["f1"] == pytest.approx(expected["f1"])


# -- data and sub-word labels -----------------------------------------------------------------
@pytest.fixture(scope="module")
def minilm_tokenizer(minilm_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_dir)


def _sentences(rows: list[tuple[list[str], list[str]]]):
    import datasets

    return datasets.Dataset.from_dict({"tokens": [r[0] for r in rows], "tags": [r[1] for r in rows]})


def test_labels_go_on_the_first_sub_token_only(minilm_tokenizer) -> None:
    labels = ["O", "B-LOC", "B-MISC", "B-PER", "I-PER"]
    words = ["Angela", "Merkel", "opposed", "extradition", "to", "Germany"]
    tags = ["B-PER", "I-PER", "O", "O", "O", "B-LOC"]
    encoded, reference = encode_split(_sentences([(words, tags)]), minilm_tokenizer, labels, 64, "IOB2")
    row = encoded[0]
    pieces = minilm_tokenizer.convert_ids_to_tokens(row["input_ids"])
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]"
    split = [i for i, p in enumerate(pieces) if p.startswith("##")]
    assert split, f"expected a word split into sub-tokens: {pieces}"
    assert all(row["labels"][i] == -100 for i in split + [0, len(pieces) - 1])
    starts = reference.word_starts[0]
    assert [row["labels"][p] for p in starts] == [labels.index(t) for t in tags]
    assert sum(label != -100 for label in row["labels"]) == len(words)
    assert set(encoded.column_names) == {"input_ids", "token_type_ids", "attention_mask", "labels"}


def test_truncated_words_are_scored_as_missed(minilm_tokenizer) -> None:
    words = ["Paris"] * 20
    tags = ["B-LOC"] * 20
    labels = ["O", "B-LOC"]
    _, reference = encode_split(_sentences([(words, tags)]), minilm_tokenizer, labels, 8, "IOB2")
    starts = reference.word_starts[0]
    assert starts[:6] == [1, 2, 3, 4, 5, 6] and set(starts[6:]) == {-1}
    logits = np.zeros((1, 8, 2), dtype=np.float32)
    logits[0, :, 1] = 5.0
    result = TASK.evaluate(logits, None, reference, labels, 1)
    assert result.metrics["recall"] == pytest.approx(6 / 20) and result.metrics["precision"] == 1.0
    assert result.samples[0]["pred"] == ["B-LOC"] * 6 + ["O"] * 14


def test_evaluate_aligns_sub_token_logits_back_to_words() -> None:
    """Two sentences as the Trainer hands them over: padded logits, -100 off the first sub-tokens."""
    names = ["O", "B-PER", "I-PER", "B-LOC"]
    labels = np.array([[-100, 1, -100, 2, 0, 3, -100], [-100, 3, 0, -100, -100, -100, -100]])
    predicted = np.array([[0, 1, 2, 2, 0, 0, 0], [0, 3, 1, 0, 0, 0, 0]])  # sub-tokens 2 and 6 are ignored
    logits = np.full((2, 7, 4), -4.0, dtype=np.float32)
    np.put_along_axis(logits, predicted[..., None], 4.0, axis=-1)
    reference = TaggedSentences([["Angela", "Merkel", "in", "Paris"], ["Paris", "Merkel"]],
                                [["B-PER", "I-PER", "O", "B-LOC"], ["B-LOC", "O"]], [[1, 3, 4, 5], [1, 2]], "IOB2")
    result = TASK.evaluate(logits, labels, reference, names, num_samples=5)
    assert result.metrics["precision"] == pytest.approx(2 / 3) and result.metrics["recall"] == pytest.approx(2 / 3)
    first, second = result.samples
    assert first["pred"] == ["B-PER", "I-PER", "O", "O"] and not first["correct"]
    assert first["gold_entities"] == [{"start": 0, "end": 2, "type": "PER", "text": "Angela Merkel"},
                                      {"start": 3, "end": 4, "type": "LOC", "text": "Paris"}]
    assert [(e["text"], e["type"]) for e in second["pred_entities"]] == [("Paris", "LOC"), ("Merkel", "PER")]
    assert 0 < first["confidence"] <= 1 and set(first) == {"index", "tokens", "gold", "pred", "gold_entities", "pred_entities", "correct", "confidence"}
    without_raw = TASK.evaluate(logits, labels, None, names, num_samples=1)
    assert without_raw.metrics == result.metrics and len(without_raw.samples) == 1


def _config(**data) -> RunConfig:
    return RunConfig.model_validate({"task": "token-classification", "model": {"name": "x"}, "data": {"train": "x", **data}})


def test_classlabel_tags_become_names_and_columns_are_found() -> None:
    import datasets

    features = datasets.Features({
        "id": datasets.Value("string"),
        "words": datasets.Sequence(datasets.Value("string")),
        "pos_tags": datasets.Sequence(datasets.Value("int32")),
        "labels": datasets.Sequence(datasets.ClassLabel(names=["O", "B-PER", "I-PER"])),
    })
    dataset = datasets.Dataset.from_dict({"id": ["0"], "words": [["Angela", "Merkel", "spoke"]], "pos_tags": [[1, 1, 2]], "labels": [[1, 2, 0]]}, features=features)
    words, tags, names, columns = read_tagged(dataset, _config().data, "hub")
    assert (words, tags, names, columns) == ([["Angela", "Merkel", "spoke"]], [["B-PER", "I-PER", "O"]], ["O", "B-PER", "I-PER"], ("words", "labels"))


def test_bad_tag_data_is_a_one_line_data_error() -> None:
    import datasets

    uneven = datasets.Dataset.from_dict({"tokens": [["a", "b"]], "ner_tags": [["O"]]})
    with pytest.raises(DataError, match="row 1 of f.json has 2 words but 1 tags"):
        read_tagged(uneven, _config().data, "f.json")
    unnamed = datasets.Dataset.from_dict({"tokens": [["a"]], "ner_tags": [[3]]})
    with pytest.raises(DataError, match="integers with no names") as err:
        read_tagged(unnamed, _config().data, "f.json")
    assert "data.label_names" in err.value.hint
    with pytest.raises(DataError, match="column 'ner' .data.tags_column. is not in the data"):
        read_tagged(uneven, _config(tags_column="ner").data, "f.json")


def test_prepare_reads_the_label_set_and_counts_from_the_training_file(tmp_path: Path, minilm_tokenizer) -> None:
    (tmp_path / "train.txt").write_text("".join(f"Angela I-PER\nMerkel I-PER\nin O\nParis I-LOC\n{i}\tO\n\n" for i in range(6)))
    (tmp_path / "valid.txt").write_text("Paris I-LOC\nand O\nBerlin I-LOC\n\nMerkel I-PER\n")
    config = _config(train=str(tmp_path / "train.txt"), validation=str(tmp_path / "valid.txt"))
    prepared = TASK.prepare(config, minilm_tokenizer)
    assert prepared.label_names == ["O", "I-LOC", "I-PER"]
    assert prepared.label_counts == {"O": 12, "I-LOC": 6, "I-PER": 12}
    assert prepared.columns == {"tokens": "tokens", "tags": "ner_tags", "tag_scheme": "IOB1"}
    assert len(prepared.train) == 6 and len(prepared.validation) == 2
    assert prepared.raw_validation.tags == [["I-LOC", "O", "I-LOC"], ["I-PER"]]
    batch = TASK.collator(minilm_tokenizer)([prepared.train[0], prepared.validation[1]])
    assert batch["input_ids"].shape == batch["labels"].shape and (batch["labels"][1, 3:] == -100).all()


def test_a_tag_outside_the_scheme_is_refused(tmp_path: Path, minilm_tokenizer) -> None:
    (tmp_path / "train.txt").write_text("Angela B-PER\nMerkel I-PER\n\nParis B-LOC\n\nx O\n\ny O\n")
    (tmp_path / "valid.txt").write_text("Paris S-LOC\n")
    config = _config(train=str(tmp_path / "train.txt"), validation=str(tmp_path / "valid.txt"))
    with pytest.raises(DataError, match="tag 'S-LOC' in .*valid.txt does not belong to the IOB2 scheme"):
        TASK.prepare(config, minilm_tokenizer)


def test_jsonl_with_words_and_integer_tags_named_by_label_names(tmp_path: Path, minilm_tokenizer) -> None:
    import json

    rows = [{"id": i, "words": ["Angela", "Merkel", "in", "Paris"], "labels": [1, 2, 0, 3]} for i in range(8)]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    config = _config(train=str(tmp_path / "train.jsonl"), label_names=["O", "B-PER", "I-PER", "B-LOC"], validation_split=0.25)
    prepared = TASK.prepare(config, minilm_tokenizer)
    assert prepared.label_names == ["O", "B-PER", "I-PER", "B-LOC"]
    assert prepared.columns["tokens"] == "words" and prepared.columns["tags"] == "labels"
    assert (len(prepared.train), len(prepared.validation)) == (6, 2) and prepared.validation_from_train
    assert prepared.raw_validation.tags[0] == ["B-PER", "I-PER", "O", "B-LOC"]
