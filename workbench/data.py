"""Reading datasets: local CSV/TSV/JSON/JSONL/Parquet/CoNLL files or hub ids, via `datasets`.

Local files go through the `datasets` packaged loaders (so they are converted to Arrow once and
cached). Before that we check what `datasets` reports badly: a missing or empty file, a file
that is not in the declared encoding (we name the likely one), a wrong delimiter.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .config import DataConfig
from .errors import DataError

EXTENSION_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".conll": "conll",
    ".iob": "conll",
}

#: Longest line accepted in a line-based data file (csv, tsv, jsonl, conll, lines).
MAX_LINE_CHARS = 1_000_000

#: Bytes read to sniff delimiters and CoNLL layout.
SNIFF_BYTES = 64 * 1024


def is_local(source: str) -> bool:
    return Path(source.split("::")[0]).expanduser().exists() or source.startswith((".", "/", "~"))


def split_hub_source(source: str, default_split: str) -> tuple[str, str]:
    """`org/name:split` -> ("org/name", "split"); the split defaults to `default_split`."""
    if ":" in source and not source.startswith(("http://", "https://", "hf://")):
        name, _, split = source.rpartition(":")
        return name, split
    return source, default_split


def detect_format(path: Path, data: DataConfig, task: str) -> str:
    if data.format != "auto":
        return data.format
    fmt = EXTENSION_FORMATS.get(path.suffix.lower())
    if fmt:
        return fmt
    if task == "text-generation" and path.suffix.lower() == ".txt":
        return "lines"  # plain text to fine-tune a language model on: one row per non-empty line
    head = path.read_bytes()[:SNIFF_BYTES].decode(data.encoding or "utf-8", errors="replace")
    if task == "token-classification" or _looks_like_conll(head):
        return "conll"
    return "csv"


def _looks_like_conll(head: str) -> bool:
    lines = [line for line in head.splitlines()[:200]]
    blank = sum(1 for line in lines if not line.strip())
    tagged = [line for line in lines if line.strip()]
    if not tagged or blank == 0:
        return False
    tag_like = sum(1 for line in tagged if len(line.split()) >= 2 and line.split()[-1][:2] in {"O", "B-", "I-", "E-", "S-"})
    return tag_like / len(tagged) > 0.9


def read_checked(path: Path, encoding: str | None) -> tuple[str, str]:
    """(text, encoding): decode the whole file once; on failure name the byte and a likely encoding."""
    encoding = encoding or "utf-8"
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"data file {path} is empty", "point data.* at a file with a header and rows")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as err:
        guess = _guess_encoding(raw)
        raise DataError(
            f"{path.name} is not valid {encoding} (byte 0x{raw[err.start]:02x} at offset {err.start}); it looks like {guess}",
            f"set data.encoding = \"{guess}\"",
        ) from None
    except LookupError:
        raise DataError(f"unknown encoding '{encoding}'", "use a Python codec name such as utf-8, cp1252 or latin-1") from None
    return text, encoding


def check_line_lengths(text: str, path: Path) -> None:
    """Refuse a line-based file with a line over MAX_LINE_CHARS: that is a wrong file (binary,
    minified JSON, a lost line-ending convention), not an example worth tokenising."""
    lines = text.split("\n")
    longest = max(map(len, lines))
    if longest > MAX_LINE_CHARS:
        number = next(i for i, line in enumerate(lines, start=1) if len(line) == longest)
        raise DataError(
            f"line {number} of {path.name} is {longest:,} characters long (limit {MAX_LINE_CHARS:,}); "
            "one example per line was expected",
            "check that this is the right file and data.format; split long documents into passages "
            "(only the first training.max_length tokens of a text are used anyway)",
        )


def _guess_encoding(raw: bytes) -> str:
    for candidate in ("utf-16", "cp1252"):
        try:
            raw.decode(candidate)
            if candidate == "utf-16" and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
                continue
            return candidate
        except UnicodeDecodeError:
            continue
    return "latin-1"


def sniff_delimiter(path: Path, encoding: str, declared: str) -> str:
    """The delimiter for csv/tsv text: tab for .tsv, else what the first lines agree on."""
    if declared == "tsv":
        return "\t"
    head = path.read_bytes()[:SNIFF_BYTES].decode(encoding, errors="replace")
    lines = [line for line in head.splitlines()[:50] if line.strip()]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",\t;|").delimiter
    except csv.Error:
        return ","


def load_local(path: Path, data: DataConfig, task: str):
    """One local file as a `datasets.Dataset`."""
    import datasets

    path = Path(path).expanduser()
    if path.is_dir():
        raise DataError(f"{path} is a directory", "point data.train at a file (csv, tsv, json, jsonl, parquet, conll)")
    if not path.is_file():
        raise DataError(f"data file {path} does not exist", "check the path (relative paths in a preset are relative to the preset file)")
    fmt = detect_format(path, data, task)
    if fmt == "parquet":
        return _load_with(datasets, "parquet", path)
    text, encoding = read_checked(path, data.encoding)
    if fmt != "json":  # a JSON document may legitimately be one line; every other format is line-based
        check_line_lengths(text, path)
    if fmt == "conll":
        from .conll import read_conll

        return read_conll(path, encoding)
    if fmt in {"json", "jsonl"}:
        return _load_with(datasets, "json", path, encoding=encoding)
    if fmt == "lines":
        lines = [line.rstrip("\r\n") for line in text.split("\n") if line.strip()]
        return datasets.Dataset.from_dict({"text": lines})
    if data.header and len(text.strip().split("\n", 1)) < 2:
        raise DataError(f"{path.name} has a header but no rows", "point data.* at a file with data rows")
    delimiter = data.delimiter or sniff_delimiter(path, encoding, fmt)
    kwargs: dict[str, Any] = {"sep": delimiter, "encoding": encoding, "keep_default_na": False}
    if delimiter == "\t":
        kwargs["quoting"] = csv.QUOTE_NONE  # GLUE-style TSV: quotes are text, not quoting
    if not data.header:
        width = len(text.split("\n", 1)[0].split(delimiter))
        kwargs["column_names"] = [f"column_{i}" for i in range(width)]
        kwargs["header"] = None
    dataset = _load_with(datasets, "csv", path, **kwargs)
    if len(dataset.column_names) == 1 and data.delimiter is None:
        raise DataError(
            f"{path.name} has a single column '{dataset.column_names[0][:40]}': the delimiter was not recognised",
            "set data.delimiter (e.g. \";\" or \"\\t\") or data.format",
        )
    if len(dataset.column_names) == 1 and (sniffed := sniff_delimiter(path, encoding, fmt)) != data.delimiter:
        raise DataError(
            f"data.delimiter {data.delimiter!r} leaves {path.name} in a single column; the file seems to use {sniffed!r}",
            f"set data.delimiter = {json.dumps(sniffed)}, or remove it to detect the delimiter",
        )
    return dataset


def _load_with(datasets: Any, builder: str, path: Path, **kwargs: Any):
    try:
        return datasets.load_dataset(builder, data_files=str(path), split="train", **kwargs)
    except Exception as err:  # the loaders raise many types; all mean "can't parse this file"
        cause = err.__cause__ or err
        text = " ".join(str(cause).split())[:160]
        raise DataError(f"can't parse {path.name} as {builder}: {text}", "check data.format, data.delimiter and data.header") from None


def load_hub(source: str, data: DataConfig, default_split: str):
    import datasets

    name, split = split_hub_source(source, default_split)
    try:
        return datasets.load_dataset(name, data.subset, split=split)
    except ValueError as err:
        text = " ".join(str(err).split())[:160]
        raise DataError(f"hub dataset '{name}' has no split or config like that: {text}", "check data.subset and the :split suffix") from None
    except Exception as err:
        from .models import hub_offline

        if hub_offline():
            raise DataError(
                f"dataset '{name}' is not in the local cache and HF_HUB_OFFLINE is set",
                "unset HF_HUB_OFFLINE to download it, or point data.train at a local file",
            ) from None
        text = " ".join(str(err).split())[:160]
        raise DataError(f"can't load dataset '{name}': {text}", "check the dataset id and the network, or use a local file") from None


def load_source(source: str, data: DataConfig, task: str, default_split: str):
    if is_local(source):
        return load_local(Path(source), data, task)
    return load_hub(source, data, default_split)


@dataclass
class RawSplits:
    """The raw (untokenised) splits of a run's data."""

    train: Any
    validation: Any
    test: Any | None
    validation_from_train: bool


def load_splits(
    data: DataConfig,
    task: str,
    seed: int,
    prepare: Callable[[Any, str], Any] = lambda dataset, role: dataset,
    stratify_column: str | None = None,
) -> RawSplits:
    """Train, validation and optional test, with the seeded subsampling and split rules.

    `prepare(dataset, role)` runs on each split as loaded ("train" first, so a task can learn the
    label set there and check the others against it). Without a validation set,
    `max_train_samples` rows are drawn from the training file first and `validation_split` of
    those are held out (so 4,000 rows give 3,600 train / 400 validation).
    """
    train = load_source(data.train, data, task, "train")
    if len(train) == 0:
        raise DataError(f"{data.train} has a header but no rows", "point data.train at a file with data")
    train = prepare(train, "train")
    validation = None
    if data.validation:
        validation = prepare(load_source(data.validation, data, task, "validation"), "validation")
    elif not is_local(data.train) and ":" not in data.train:
        try:
            validation = prepare(load_hub(data.train, data, "validation"), "validation")
        except DataError:
            validation = None
    test = prepare(load_source(data.test, data, task, "test"), "test") if data.test else None
    from_train = validation is None
    if from_train:
        if data.max_train_samples and data.max_train_samples < len(train):
            train = train.shuffle(seed=seed).select(range(data.max_train_samples))
        if len(train) < 4:
            raise DataError(f"{data.train} has only {len(train)} rows", "a training set needs at least a few rows per class")
        parts = _split(train, data.validation_split, seed, stratify_column)
        train, validation = parts["train"], parts["test"]
    else:
        if data.max_train_samples and data.max_train_samples < len(train):
            train = train.shuffle(seed=seed).select(range(data.max_train_samples))
    if data.max_eval_samples and data.max_eval_samples < len(validation):
        validation = validation.shuffle(seed=seed).select(range(data.max_eval_samples))
    return RawSplits(train=train, validation=validation, test=test, validation_from_train=from_train)


def _split(dataset: Any, fraction: float, seed: int, stratify_column: str | None):
    if stratify_column:
        try:
            return dataset.train_test_split(test_size=fraction, seed=seed, stratify_by_column=stratify_column)
        except ValueError:
            pass  # a class too small to stratify: fall back to a plain seeded split
    return dataset.train_test_split(test_size=fraction, seed=seed)
