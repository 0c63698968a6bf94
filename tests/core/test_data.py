"""Loaders on the real files in ../shared/data, plus column detection and label handling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.config import DataConfig, RunConfig
from workbench.data import load_local
from workbench.errors import DataError
from workbench.tasks.classification import TASK as CLASSIFICATION
from workbench.tasks.classification import detect_columns


def config_for(train: str, **data: object) -> RunConfig:
    return RunConfig.model_validate({"model": {"name": "m"}, "data": {"train": train, **data}})


def test_sst2_tsv_is_read_without_quote_handling(shared_data: Path) -> None:
    dataset = load_local(shared_data / "sst2" / "train.tsv", DataConfig(train="x"), "text-classification")
    assert len(dataset) == 67_349
    assert dataset.column_names == ["sentence", "label"]
    quoted = [s for s in dataset.select(range(5000))["sentence"] if "``" in s or "''" in s]
    assert quoted, "GLUE quote tokens must survive as text"
    assert sorted(set(dataset["label"])) == [0, 1]


def test_imdb_csv_keeps_reviews_with_odd_characters_whole(shared_data: Path) -> None:
    dataset = load_local(shared_data / "imdb" / "train.csv", DataConfig(train="x"), "text-classification")
    assert len(dataset) == 5_000
    assert any("\u0085" in text for text in dataset["text"]), "U+0085 inside a review must not split rows"
    assert sorted(set(dataset["label"])) == [0, 1]
    assert detect_columns(dataset, DataConfig(train="x")) == ("text", None, "label")


def test_ag_news_csv_with_label_names(shared_data: Path) -> None:
    names = ["World", "Sports", "Business", "Sci/Tech"]
    splits, encoder, columns = CLASSIFICATION.load(
        config_for(str(shared_data / "ag_news" / "train.csv"), label_names=names, max_train_samples=1000)
    )
    assert encoder.names == names
    assert len(splits.train) == 1000 and len(splits.validation) == 100  # max_train_samples rows train
    assert splits.train.features["label"].names == names


def test_emotion_string_labels_and_semicolon_delimiter(shared_data: Path) -> None:
    splits, encoder, columns = CLASSIFICATION.load(
        config_for(str(shared_data / "emotion" / "train.txt"), validation=str(shared_data / "emotion" / "val.txt"))
    )
    assert encoder.names == ["anger", "fear", "joy", "love", "sadness", "surprise"]
    assert columns["label"] == "label_name" and columns["text"] == "text"
    assert len(splits.train) == 16_000 and len(splits.validation) == 2_000
    assert not splits.validation_from_train


def test_cola_without_header_uses_configured_columns(shared_data: Path) -> None:
    splits, encoder, _ = CLASSIFICATION.load(
        config_for(
            str(shared_data / "cola" / "in_domain_train.tsv"), header=False,
            text_column="column_3", label_column="column_1", label_names=["unacceptable", "acceptable"],
        )
    )
    assert len(splits.train) + len(splits.validation) == 8_551
    assert encoder.names == ["unacceptable", "acceptable"]


def test_cp1252_file_is_refused_naming_the_encoding_then_read_with_it(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "rotten_tomatoes" / "rt-polarity.neg"
    with pytest.raises(DataError) as caught:
        load_local(source, DataConfig(train="x", format="lines"), "text-classification")
    assert "not valid utf-8" in caught.value.message and "cp1252" in caught.value.message
    assert caught.value.hint == 'set data.encoding = "cp1252"'
    dataset = load_local(source, DataConfig(train="x", format="lines", encoding="cp1252"), "text-classification")
    assert len(dataset) == 5_331
    assert any("é" in line for line in dataset["text"])


def test_json_jsonl_and_parquet_load_the_same_rows(tmp_path: Path) -> None:
    import datasets

    rows = [{"review": f"text number {i}", "sentiment": "pos" if i % 2 else "neg"} for i in range(30)]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (tmp_path / "d.json").write_text(json.dumps(rows))
    datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "d.parquet"))
    for name in ("d.jsonl", "d.json", "d.parquet"):
        dataset = load_local(tmp_path / name, DataConfig(train="x"), "text-classification")
        assert dataset.to_list() == rows, name
        assert detect_columns(dataset, DataConfig(train="x")) == ("review", None, "sentiment")


def test_text_pairs_are_detected(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    path.write_text("sentence1,sentence2,label\n" + "".join(f"a {i},b {i},{i % 2}\n" for i in range(20)))
    splits, _, columns = CLASSIFICATION.load(config_for(str(path)))
    assert columns == {"text": "sentence1", "text_pair": "sentence2", "label": "label"}
    assert splits.train.column_names == ["text", "text_pair", "label"]


def test_validation_split_is_seeded_and_stratified(shared_data: Path) -> None:
    config = config_for(str(shared_data / "sst2" / "train.tsv"), max_train_samples=1000)
    first, _, _ = CLASSIFICATION.load(config)
    second, _, _ = CLASSIFICATION.load(config)
    assert first.train["text"] == second.train["text"]
    assert len(first.train) == 1000 and len(first.validation) == 100  # max_train_samples rows train
    positives = sum(first.validation["label"]) / len(first.validation)
    overall = sum(first.train["label"]) / len(first.train)
    assert abs(positives - overall) < 0.05
    other_seed, _, _ = CLASSIFICATION.load(config.model_copy(update={"training": config.training.model_copy(update={"seed": 1})}))
    assert other_seed.train["text"] != first.train["text"]


@pytest.mark.parametrize(
    "content,fragment",
    [
        ("text,label\nonly one,a\nanother,a\nthird,a\nfourth,a\n", "single class"),
        ("text,label\na,pos\nb,\nc,neg\nd,pos\n", "empty or missing label"),
        ("text,label\n", "no rows"),
        ("", "is empty"),
    ],
)
def test_unusable_labels_are_clear_errors(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=fragment):
        CLASSIFICATION.load(config_for(str(path)))


def test_a_missing_configured_column_lists_the_real_ones(tiny_csv: Path) -> None:
    with pytest.raises(DataError) as caught:
        CLASSIFICATION.load(config_for(str(tiny_csv), text_column="sentence"))
    assert "column 'sentence'" in caught.value.message and "text, label" in caught.value.message


def test_validation_labels_outside_the_training_set_are_named(tiny_csv: Path, tmp_path: Path) -> None:
    validation = tmp_path / "valid.csv"
    validation.write_text("text,label\ngood,positive\nmeh,neutral\n")
    with pytest.raises(DataError, match="'neutral'"):
        CLASSIFICATION.load(config_for(str(tiny_csv), validation=str(validation)))


@pytest.mark.parametrize("name, is_file", [
    ("missing.csv", True), ("data/missing.csv", True), ("./reviews", True), ("~/x", True), ("a/b/c", True),
    ("reviews.tsv.gz", True), ("C:\\data\\x", True),
    ("imdb", False), ("stanfordnlp/sst2", False), ("org/name:validation", False), ("allenai/c4.en", False),
])
def test_names_that_look_like_files_are_files_and_only_hub_shaped_names_are_hub_ids(name: str, is_file: bool) -> None:
    from workbench.data import is_local, looks_like_file

    assert looks_like_file(name) is is_file
    assert is_local(name) is is_file  # none of these exist here


@pytest.mark.parametrize("cells, fragment", [
    (["pos", "neg", "NaN", "na", " NULL ", "None", "N/A", ""], "6 rows of f.csv have an empty or missing label in column 'y'"),
    (["pos", None, "neg"], "1 row of f.csv has an empty or missing label in column 'y'"),
    ([[0, 1], [1]], "column 'y' of f.csv holds lists (row 1: [0, 1])"),
    ([f"{i * 0.37:.2f}" for i in range(30)], "column 'y' of f.csv looks continuous (30 distinct numbers"),
    ([i * 0.37 for i in range(30)], "looks continuous"),
])
def test_label_cells_that_are_not_labels_name_file_row_and_column(cells: list, fragment: str) -> None:
    from workbench.data import check_label_cells

    with pytest.raises(DataError) as caught:
        check_label_cells(cells, "/data/f.csv", "y")
    assert fragment in caught.value.message
    assert "skip" not in caught.value.hint


@pytest.mark.parametrize("cells", [
    [str(i % 40) for i in range(200)],  # many integer classes (star ratings, topic ids)
    [0.0, 1.0, 2.0] * 10,  # integer-valued floats
    ["1.5", "2.5", "positive"] * 10,  # not all numbers: names
    ["nan-free", "none-such"] * 5,
])
def test_real_label_columns_pass(cells: list) -> None:
    from workbench.data import check_label_cells

    check_label_cells(cells, "f.csv", "y")


def test_a_torn_last_jsonl_line_is_named_and_the_fix_given(tmp_path: Path) -> None:
    from workbench.data import check_json_lines

    path = tmp_path / "rows.jsonl"
    with pytest.raises(DataError) as caught:
        check_json_lines('{"text": "a", "label": 1}\n\n{"text": "b", "label": 0}\n{"text": "c', path)
    assert caught.value.message.startswith("line 4 of rows.jsonl is cut off")
    assert "delete line 4" in caught.value.hint and "head -n 3" in caught.value.hint
    with pytest.raises(DataError, match="line 1 of rows.jsonl is a JSON list"):
        check_json_lines('["a", 1]\n{"text": "b"}\n', path)
    check_json_lines('{"text": "a"}\n{"text": "b"}\n', path)


def test_rows_of_another_width_are_named_with_the_delimiter_they_use(tmp_path: Path) -> None:
    from workbench.data import check_field_counts

    path = tmp_path / "mixed.csv"
    with pytest.raises(DataError, match=r"line 3 of mixed.csv is separated by ';' where the rest of the file uses ','"):
        check_field_counts("text,label\ngood,pos\nbad;neg\n", path, ",")
    with pytest.raises(DataError, match=r"line 2 of mixed.csv has 3 fields where the header has 2"):
        check_field_counts("text,label\ngood, really,pos\n", path, ",")
    check_field_counts('text,label\n"good, really",pos\n\nbad,neg\n', path, ",")  # quoted delimiter, blank line


def test_a_conll_line_short_of_the_files_columns_is_named() -> None:
    from workbench.conll import parse_conll

    with pytest.raises(DataError) as caught:
        parse_conll("Angela NNP B-PER\nMerkel NNP I-PER\n\ngood JJ\n", "x.conll")
    assert caught.value.message.startswith("line 4 of x.conll has 2 columns where the others have 3")
    assert "fix line 4" in caught.value.hint
    assert parse_conll("-DOCSTART- -X- O\n\nAngela NNP B-PER\n", "x.conll") == ([["Angela"]], [["B-PER"]])


def test_quiet_loading_from_several_threads_restores_stderr_and_swallows_the_noise() -> None:
    import sys
    import threading

    from workbench.data import quiet_loading

    original = sys.stderr
    ready = threading.Barrier(4, timeout=60)

    def load() -> None:
        ready.wait()
        for _ in range(200):
            with quiet_loading():
                print("Failed to read file … ParserError", file=sys.stderr)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sys.stderr is original
