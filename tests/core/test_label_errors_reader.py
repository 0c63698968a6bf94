"""label_errors.csv read back into typed rows: the file the label check writes, a missing one
(None), malformed ones (one clear error naming the line), and an export that reads back the same."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.core.tiny_runs import hooks_env, tlwb
from tests.fakes import FakeRun
from workbench.errors import WorkbenchError
from workbench.label_errors import (
    LABEL_ERRORS_FILE,
    LabelErrorRow,
    LabelErrorsUnreadable,
    default_export_path,
    export_label_errors,
    read_label_errors,
    why_none,
)
from workbench.trainer import label_check

NAMES = ["negative", "positive"]
#: What `diagnostics.label_issues` returns, most suspicious first.
ISSUES = [
    {"index": 7, "given": 1, "suggested": 0, "given_prob": 0.0312, "suggested_prob": 0.9688},
    {"index": 2, "given": 0, "suggested": 1, "given_prob": 0.1, "suggested_prob": 0.9},
]


class RawRows:
    """The training rows as the label check sees them (a `datasets.Dataset`'s two lookups)."""

    def __init__(self, rows: list[dict[str, str]]) -> None:
        self.rows = rows
        self.column_names = list(rows[0])

    def __getitem__(self, index: int) -> dict[str, str]:
        return self.rows[index]


def written_by_label_check(run_dir: Path, rows: list[dict[str, str]]) -> None:
    (run_dir / LABEL_ERRORS_FILE).write_text(label_check._csv(ISSUES, RawRows(rows), NAMES), encoding="utf-8")


def training_rows(pair: bool = False) -> list[dict[str, str]]:
    texts = [f"review {i}, \"quoted\"\nover two lines" if i == 7 else f"review {i}" for i in range(10)]
    return [{"text": text, **({"text_pair": f"second {i}"} if pair else {})} for i, text in enumerate(texts)]


def test_the_label_checks_file_reads_back_in_its_order_with_types(tmp_path: Path) -> None:
    assert label_check.LABEL_ERRORS_FILE is LABEL_ERRORS_FILE  # one name, the core's
    written_by_label_check(tmp_path, training_rows())
    rows = read_label_errors(tmp_path)
    assert rows == [
        LabelErrorRow(row=7, text="review 7, \"quoted\"\nover two lines", given="positive", suggested="negative",
                      given_prob=0.0312, suggested_prob=0.9688),
        LabelErrorRow(row=2, text="review 2", given="negative", suggested="positive", given_prob=0.1, suggested_prob=0.9),
    ]


def test_a_text_pair_task_keeps_its_second_text(tmp_path: Path) -> None:
    written_by_label_check(tmp_path, training_rows(pair=True))
    rows = read_label_errors(tmp_path)
    assert [row.text_pair for row in rows] == ["second 7", "second 2"]
    assert rows[1].full_text == "review 2\nsecond 2"


def test_no_file_is_none_and_a_header_alone_is_no_rows(tmp_path: Path) -> None:
    assert read_label_errors(tmp_path) is None
    (tmp_path / LABEL_ERRORS_FILE).write_text(label_check._csv([], RawRows(training_rows()), NAMES))
    assert read_label_errors(tmp_path) == []


@pytest.mark.parametrize(("content", "complaint"), [
    ("", "is empty"),
    ("row,text,given\n1,a,b\n", "has no suggested, given_prob, suggested_prob columns"),
    ("row,text,given,suggested,given_prob,suggested_prob\n1,a,x,y,0.1,0.9\nsix,b,x,y,0.1,0.9\n", "line 3: row 'six' is not a number"),
    ("row,text,given,suggested,given_prob,suggested_prob\n1,a,x,y,low,0.9\n", "line 2: given_prob 'low' is not a number"),
    ("row,text,given,suggested,given_prob,suggested_prob\n1,a,x,y,0.1\n", "line 2 has 5 fields where the header has 6"),
])
def test_a_malformed_file_is_one_clear_error(tmp_path: Path, content: str, complaint: str) -> None:
    (tmp_path / LABEL_ERRORS_FILE).write_text(content)
    with pytest.raises(LabelErrorsUnreadable) as raised:
        read_label_errors(tmp_path)
    assert isinstance(raised.value, WorkbenchError)
    assert complaint in raised.value.message and LABEL_ERRORS_FILE in raised.value.message
    assert "train the run again" in raised.value.hint


def test_a_file_not_in_utf8_is_unreadable_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / LABEL_ERRORS_FILE).write_bytes(b"row,text\n1,caf\xe9\n")
    with pytest.raises(LabelErrorsUnreadable, match="can't be read"):
        read_label_errors(tmp_path)


def test_an_export_reads_back_the_same_and_never_replaces_silently(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "2026-11-28_101200_fake"
    run_dir.mkdir(parents=True)
    written_by_label_check(run_dir, training_rows(pair=True))
    rows = read_label_errors(run_dir)
    target = default_export_path(run_dir)
    assert target == tmp_path / "exports" / "2026-11-28_101200_fake-label-errors.csv"
    assert export_label_errors(rows[:1], target) == target
    assert target.read_bytes() == label_check._csv(ISSUES[:1], RawRows(training_rows(pair=True)), NAMES).encode()
    exported = target.parent / "copy"
    exported.mkdir()
    (exported / LABEL_ERRORS_FILE).write_bytes(target.read_bytes())
    assert read_label_errors(exported) == rows[:1]
    with pytest.raises(WorkbenchError, match="already exists"):
        export_label_errors(rows, target)
    assert read_label_errors(exported) == rows[:1] and target.read_bytes() == (exported / LABEL_ERRORS_FILE).read_bytes()
    export_label_errors(rows, target, force=True)
    assert len(target.read_text().splitlines()) == 4  # header, a two-line text, one more row
    with pytest.raises(WorkbenchError, match="is a folder"):
        export_label_errors(rows, exported)
    assert sorted(p.name for p in target.parent.iterdir()) == ["2026-11-28_101200_fake-label-errors.csv", "copy"]  # no temp file left


ROW = LabelErrorRow(row=1, text="a", given="x", suggested="y", given_prob=0.1, suggested_prob=0.9)


@pytest.mark.parametrize(("rows", "state", "task", "found", "checked", "kind", "says"), [
    ([ROW], "finished", "text-classification", 1, 80, None, None),
    ([], "finished", "text-classification", 0, 80, "found_none", "agrees with the given label of the 80 training rows"),
    (None, "running", "text-classification", None, None, "no_check", "this run is still going"),
    (None, "cancelled", "text-classification", None, None, "no_check", "the run cancelled before its label check"),
    (None, "finished", "token-classification", None, None, "no_check", "no label check for token classification"),
    (None, "finished", "text-classification", 12, 80, "missing", "label_errors.csv is missing from the run directory (12 suspect"),
    (None, "finished", "text-classification", None, None, "no_check", "this run has no label check"),
])
def test_why_a_run_lists_no_label_errors(rows, state, task, found, checked, kind, says) -> None:
    reason = why_none(rows, state=state, task=task, found=found, checked=checked)
    if kind is None:
        assert reason is None
    else:
        assert reason[0] == kind and says in reason[1]


def test_a_collapsed_model_lists_no_label_errors() -> None:
    """A model that predicts one class for everything "contradicts" every row of the others: its
    suspects say nothing about the labels, and are not offered as if they did."""
    reason = why_none([ROW], state="finished", task="text-classification", found=1, checked=80, collapsed=True)
    assert reason is not None and reason[0] == "collapsed" and "fix the collapse first" in reason[1]


# -- tlwb show RUN --label-errors -------------------------------------------------------------------
def fake_run(runs_dir: Path, run_id: str, issues: list[dict] | None, checked: int | None, *, collapsed: bool = False) -> FakeRun:
    """A finished fake run whose label check found `issues` of `checked` rows (None: it had none);
    `collapsed`: its model predicted one class for every validation row."""
    fake = FakeRun(runs_dir, run_id)
    fake.started()
    if collapsed:
        fake.writer.emit("eval", split="validation", step=100, epoch=1.0, metrics={"accuracy": 0.5, "macro_f1": 0.333, "n": 20},
                         confusion_matrix=[[0, 10], [0, 10]], labels=NAMES)
    else:
        fake.eval(100, accuracy=0.8)
    if issues is not None:
        (fake.run.path / LABEL_ERRORS_FILE).write_text(label_check._csv(issues, RawRows(training_rows()), NAMES), encoding="utf-8")
    fake.writer.emit("finished", time=fake.started_at + 60, metrics={"accuracy": 0.8}, duration_s=60.0, step=100,
                     label_errors=None if issues is None else len(issues), label_rows_checked=checked)
    fake.run.write_status(state="finished", ended_at=fake.started_at + 60)
    return fake


def test_show_label_errors_prints_the_suspects_or_why_there_are_none(runs_dir: Path) -> None:
    fake_run(runs_dir, "2026-11-28_101200_suspects", ISSUES, 10)
    fake_run(runs_dir, "2026-11-28_111200_clean", [], 10)
    fake_run(runs_dir, "2026-11-28_121200_unchecked", None, None)
    env = {**hooks_env(), "COLUMNS": "80"}
    shown = tlwb("show", "suspects", "--label-errors", "--runs-dir", str(runs_dir), env=env)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("⚑ 2 of 10 training rows look mislabelled, most suspicious first:")
    assert lines[1].split() == ["row", "given", "model", "says", "conf", "text"]
    assert lines[2].split()[:5] == ["7", "positive", "negative", "0.97", "review"]  # the most suspicious first
    assert lines[3].split() == ["2", "negative", "positive", "0.90", "review", "2"]
    assert all(len(line) <= 80 for line in lines[1:])
    as_json = json.loads(tlwb("show", "suspects", "--label-errors", "--json", "--runs-dir", str(runs_dir), env=env).stdout)
    assert (as_json["found"], as_json["checked"], as_json["none"]) == (2, 10, None)
    assert [row["row"] for row in as_json["rows"]] == [7, 2] and as_json["rows"][0]["given_prob"] == 0.0312

    clean = tlwb("show", "clean", "--label-errors", "--runs-dir", str(runs_dir), env=env)
    assert clean.returncode == 0 and "✓ none found" in clean.stdout
    unchecked = tlwb("show", "unchecked", "--label-errors", "--runs-dir", str(runs_dir), env=env)
    assert unchecked.returncode == 2 and unchecked.stdout == "" and "Traceback" not in unchecked.stderr
    error, hint = unchecked.stderr.strip().splitlines()
    assert error.startswith("error: this run has no label check") and hint.strip().startswith("hint: tlwb show 2026-11-28_121200_unchecked")
    collapsed = fake_run(runs_dir, "2026-11-28_131200_collapsed", ISSUES, 10, collapsed=True)
    refused = tlwb("show", "collapsed", "--label-errors", "--runs-dir", str(runs_dir), env=env)
    assert refused.returncode == 2 and refused.stdout == ""
    error, hint = refused.stderr.strip().splitlines()
    assert "predicts one class for nearly every row" in error and f"tlwb show {collapsed.run.id}" in hint
    shown_json = json.loads(tlwb("show", collapsed.run.id, "--json", "--runs-dir", str(runs_dir), env=env).stdout)
    assert [d["kind"] for d in shown_json["diagnostics"]] == ["collapse"]  # and no label_errors diagnosis
    (runs_dir / "2026-11-28_101200_suspects" / LABEL_ERRORS_FILE).write_text("row,text\n1,a\n")
    broken = tlwb("show", "suspects", "--label-errors", "--runs-dir", str(runs_dir), env=env)
    assert broken.returncode == 2 and "has no given, suggested, given_prob, suggested_prob columns" in broken.stderr
