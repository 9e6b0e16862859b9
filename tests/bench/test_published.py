"""results/published.csv: every row parses, every name is the harness's or marked ext:, no duplicates."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest
from support import write_published

from bench.published import ANY, COLUMNS, DEFAULT_PATH, PublishedError, is_external, load_published
from bench.registry import DATASETS, METHODS, TASKS


@pytest.fixture(scope="module")
def rows():
    return load_published()


def test_every_reference_row_is_there(rows):
    assert DEFAULT_PATH.is_file()
    assert len(rows) == 569
    assert {r.status for r in rows} == {"confirmed", "unsure"}


def test_names_are_registered_or_marked_external(rows):
    for row in rows:
        for name, registry in ((row.method, METHODS), (row.task, TASKS), (row.dataset, DATASETS)):
            assert is_external(name) or name in registry, (row.line, name)
        if not is_external(row.task):
            assert is_external(row.metric) or row.metric in TASKS.get(row.task).METRICS, (
                row.line,
                row.metric,
            )
        else:
            assert is_external(row.metric), row.line


def _protocols(task) -> set[str]:
    """Every protocol name the task records, over the config values that choose it."""
    seg = TASKS.get("segmentation").PROTOCOLS.names()
    det = TASKS.get("detection").PROTOCOLS.names()
    out = set()
    for finetune, features, s, d, prompts in itertools.product(
        (False, True), ("backbone", "embedding"), seg, det, ("gloria", "prior")
    ):
        ev = SimpleNamespace(
            finetune=finetune, probe_features=features, seg_protocol=s, det_protocol=d, prompts=prompts
        )
        out.add(task.protocol(SimpleNamespace(eval=ev)))
    return out


def test_protocols_are_ones_the_tasks_record(rows):
    for name in {r.task for r in rows if not is_external(r.task)}:
        known = _protocols(TASKS.get(name))
        used = {
            r.protocol for r in rows if r.task == name and not is_external(r.protocol) and r.protocol != ANY
        }
        assert used <= known, (name, used - known)


def test_keys_unique_and_fractions_are_label_fractions(rows):
    assert len({r.key() for r in rows}) == len(rows)
    for row in rows:
        assert row.fraction in ("", ANY) or 0.0 < row.fraction <= 1.0
        assert row.tolerance >= 0 and (row.spread is None or row.spread >= 0)
        if ANY in (row.protocol, row.fraction):
            assert row.status == "unsure"


def test_prior_rows_are_unsure_and_values_on_the_harness_scale(rows):
    prior = [r for r in rows if r.method == "prior"]
    assert len(prior) == 10 and all(r.status == "unsure" for r in prior)
    chexpert = [r for r in prior if r.dataset == "chexpert" and r.metric == "auroc"]
    assert [r.value for r in chexpert] == [pytest.approx(0.8861)]  # "AUROC 88.61" in the aggregator
    nih = [
        r
        for r in rows
        if r.method == "convirt"
        and r.dataset == "ext:NIH ChestX-ray14"
        and r.fraction == 0.01
        and r.protocol == "finetune"
    ]
    assert len(nih) == 1 and nih[0].value == pytest.approx(0.77) and nih[0].spread == pytest.approx(0.001)
    assert all(0.0 <= r.value <= 1.0 for r in rows if "rank" not in r.metric)
    assert any(r.method == "ext:MGCA-R50" for r in rows)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"method": "convrt"}, "line 2: unknown method 'convrt'. Did you mean 'convirt'?"),
        ({"dataset": "NIH"}, "line 2: unknown dataset 'NIH'"),
        ({"metric": "auc"}, "line 2: task classification has no metric 'auc'"),
        ({"task": "ext:report generation"}, "line 2: metric 'auroc' of a task this harness lacks"),
        ({"value": "high"}, "line 2: value 'high' is not a number"),
        ({"value": "nan"}, "line 2: value 'nan' is not finite"),
        ({"fraction": "10"}, "line 2: fraction 10 is not a label fraction"),
        ({"status": "maybe"}, "line 2: status 'maybe'"),
        ({"protocol": "*"}, "line 2: '*' (not stated) is allowed on unsure rows only"),
        ({"tolerance": "-1"}, "line 2: tolerance -1.0 is negative"),
        ({"method": ""}, "line 2: empty method"),
    ],
)
def test_bad_rows_name_the_line(tmp_path, row, message):
    path = write_published(tmp_path / "p.csv", row)
    with pytest.raises(
        PublishedError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")
    ):
        load_published(path)


def test_duplicate_key_names_both_lines(tmp_path):
    path = write_published(tmp_path / "p.csv", {}, {"fraction": "0.1"}, {"value": "0.9"})
    with pytest.raises(PublishedError, match="line 4: same source.* as line 2"):
        load_published(path)


def test_missing_column_and_missing_file(tmp_path):
    with pytest.raises(PublishedError, match="missing column.*tolerance"):
        load_published(write_published(tmp_path / "p.csv", {}, columns=[c for c in COLUMNS if c != "tolerance"]))
    with pytest.raises(PublishedError, match="no such published-numbers file"):
        load_published(tmp_path / "absent.csv")


def test_unsure_rows_may_leave_protocol_and_fraction_unstated(tmp_path):
    path = write_published(
        tmp_path / "p.csv", {"protocol": "*", "fraction": "*", "status": "unsure"}, {"fraction": ""}
    )
    first, second = load_published(path)
    assert first.matches("convirt", "classification", "finetune", "chexpert", 0.1, "auroc")
    assert not first.gating and second.gating
    assert not second.matches("convirt", "classification", "linear-probe", "chexpert", 1.0, "auroc")
