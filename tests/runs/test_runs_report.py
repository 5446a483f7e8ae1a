"""The report of full-fidelity runs, from hand-made ledger records (no training)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from autopeft.analysis.runs import summarise_runs
from autopeft.errors import UserError
from autopeft.methods import BASELINES, Method
from autopeft.records.trial import TrialResult
from autopeft.render import markdown_table, plot_runs, runs_figure, write_report
from autopeft.runs.ledger import RESULTS_FILE, ResultsLedger, RunRecord, RunSpec, read_records
from autopeft.space import PeftConfig
from autopeft.train.budget import Budget

BUDGET = Budget(train_examples=200, val_examples=50)
SMALL_BUDGET = Budget(train_examples=100, val_examples=50)
METRIC = {"glue/rte": "accuracy", "glue/cola": "matthews", "superglue/cb": "accuracy", "glue/zzz": "accuracy"}

SMALL = Method(
    name="autopeft-p0",
    label="AutoPEFT p0",
    kind="config",
    config=PeftConfig(layers=(False, True, True), serial=4),
    source="searches/rte trial 3 on glue/rte",
)
LARGE = Method(
    name="autopeft-p1",
    label="AutoPEFT p1",
    kind="config",
    config=PeftConfig(layers=(True, True, True), parallel=16, prefix=2),
    source="searches/rte trial 9 on glue/rte",
)


def _record(
    method: Method,
    task: str,
    seed: int,
    score: float | None,
    params_pct: float,
    *,
    role: str = "baseline",
    source_task: str | None = None,
    budget: Budget = BUDGET,
    train_seconds: float = 10.0,
) -> RunRecord:
    failed = score is None
    result = TrialResult(
        config={},
        status="failed" if failed else "complete",
        score=score,
        metric=METRIC[task],
        metrics={} if failed else {METRIC[task]: score},
        params_pct=0.0 if failed else params_pct,
        seed=seed,
        train_seconds=train_seconds,
        eval_seconds=1.0,
        error="TrialError: loss is NaN" if failed else None,
    )
    spec = RunSpec(
        model="minilm",
        task=task,
        method=method,
        seed=seed,
        budget=budget,
        role=role,  # type: ignore[arg-type]
        source_task=source_task,
    )
    return RunRecord(spec=spec, result=result, finished="2024-01-01T00:00:00+00:00")


def _records() -> list[RunRecord]:
    """Baselines lora and full (listed out of order), two AutoPEFT configurations, one failed run.

    lora misses superglue/cb (and its average over two tasks beats full's over three); full has a
    failed seed on glue/rte.
    """
    lora, full = BASELINES["lora"], BASELINES["full"]
    records = [
        _record(lora, "glue/rte", 0, 0.60, 0.80),
        _record(lora, "glue/rte", 1, 0.62, 0.80),
        _record(lora, "glue/rte", 2, 0.67, 0.80),
        _record(lora, "glue/cola", 0, 0.80, 0.81),
        _record(lora, "glue/cola", 1, 0.90, 0.81),
        _record(full, "superglue/cb", 0, 0.80, 100.0),
        _record(full, "glue/rte", 0, 0.70, 100.0, train_seconds=30.0),
        _record(full, "glue/rte", 1, 0.72, 100.0, train_seconds=50.0),
        _record(full, "glue/rte", 2, None, 100.0),
        _record(full, "glue/cola", 0, 0.55, 100.0),
    ]
    for method, pct, base in ((LARGE, 1.5, 0.66), (SMALL, 0.1, 0.64)):
        for task, shift in (("glue/rte", 0.0), ("glue/cola", -0.2), ("superglue/cb", 0.1)):
            source = "glue/rte"
            records.append(
                _record(method, task, 0, base + shift, pct, role="autopeft", source_task=source),
            )
    return records


def _ledger(tmp_path: Path, records: list[RunRecord], name: str = "runs") -> Path:
    directory = tmp_path / name
    ledger = ResultsLedger(directory)
    for record in records:
        ledger.append(record)
    return directory


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    return _ledger(tmp_path, _records())


def test_mean_and_sample_std_by_hand(report_dir: Path) -> None:
    report = summarise_runs(read_records([report_dir]))
    rte = report.cell("lora", "glue/rte")
    assert rte is not None and rte.n == 3 and rte.seeds == (0, 1, 2)
    mean = (0.60 + 0.62 + 0.67) / 3
    std = np.sqrt(((0.60 - mean) ** 2 + (0.62 - mean) ** 2 + (0.67 - mean) ** 2) / 2)
    assert rte.mean == pytest.approx(mean)
    assert rte.std == pytest.approx(std)
    assert rte.metric == "accuracy"
    cola = report.cell("lora", "glue/cola")
    assert cola is not None and cola.metric == "matthews"
    assert cola.std == pytest.approx(np.sqrt(2 * 0.05**2))  # two seeds, ddof=1
    one = report.cell("full", "superglue/cb")
    assert one is not None and one.n == 1 and one.std is None
    assert report.cell("lora", "superglue/cb") is None
    assert report.method("lora").params_pct == pytest.approx(0.805)  # mean over its cells
    assert report.metrics == ("matthews", "accuracy", "accuracy")


def test_row_and_column_order(report_dir: Path) -> None:
    records = read_records([report_dir])
    extra = _record(BASELINES["lora"], "glue/zzz", 0, 0.5, 0.8)
    for given in ([*records, extra], [extra, *reversed(records)]):
        report = summarise_runs(given)
        # Baselines in BASELINES order (full before lora), then AutoPEFT by params % ascending.
        assert [m.name for m in report.methods] == ["full", "lora", "autopeft-p0", "autopeft-p1"]
        # The paper's task order, then unknown tasks sorted.
        assert report.tasks == ("glue/cola", "glue/rte", "superglue/cb", "glue/zzz")


def test_unknown_baseline_goes_after_known_ones(report_dir: Path) -> None:
    mine = Method(name="my-adapter", label="Mine", kind="full", source="me")
    aaa = Method(name="aaa", label="Aaa", kind="full", source="me")
    records = [*read_records([report_dir]), _record(mine, "glue/rte", 0, 0.5, 3.0), _record(aaa, "glue/rte", 0, 0.5, 3)]
    names = [m.name for m in summarise_runs(records).methods]
    assert names == ["full", "lora", "aaa", "my-adapter", "autopeft-p0", "autopeft-p1"]


def test_average_over_covered_tasks_only_and_marked(report_dir: Path) -> None:
    report = summarise_runs(read_records([report_dir]))
    lora = report.method("lora")
    assert lora.n_tasks == 2 and report.n_tasks == 3
    assert lora.average == pytest.approx(((0.60 + 0.62 + 0.67) / 3 + 0.85) / 2)
    full = report.method("full")
    assert full.n_tasks == 3
    assert full.average == pytest.approx((0.55 + 0.71 + 0.80) / 3)
    table = markdown_table(report)
    lora_row = next(line for line in table.splitlines() if line.startswith("| LoRA "))
    assert lora_row.endswith(f"{lora.average * 100:.1f} (2/3 tasks) |")
    full_row = next(line for line in table.splitlines() if line.startswith("| Full fine-tuning "))
    assert "tasks)" not in full_row


def test_failed_run_counted_not_averaged(report_dir: Path) -> None:
    report = summarise_runs(read_records([report_dir]))
    cell = report.cell("full", "glue/rte")
    assert cell is not None
    assert (cell.n, cell.n_failed) == (2, 1)
    assert cell.mean == pytest.approx(0.71)
    assert cell.params_pct == pytest.approx(100.0)  # the failed run's 0 % is not averaged in
    assert cell.train_seconds == pytest.approx(40.0)
    assert report.n_runs == 16 and report.n_failed == 1
    assert report.seconds == pytest.approx(sum(r.result.train_seconds + 1.0 for r in _records()))
    assert "Failed runs (counted, not averaged): full on glue/rte: 1." in markdown_table(report)


def test_markdown_cells_bold_and_footnotes(report_dir: Path) -> None:
    report = summarise_runs(read_records([report_dir]))
    table = markdown_table(report)
    lines = table.splitlines()
    assert lines[0] == "| Method | Params % | glue/cola | glue/rte | superglue/cb | Avg. |"
    lora_row = next(line for line in lines if line.startswith("| LoRA "))
    rte = report.cell("lora", "glue/rte")
    assert rte is not None and rte.std is not None
    assert f"| {rte.mean * 100:.1f} ± {rte.std * 100:.1f} |" in lora_row
    assert "| 0.805 |" in lora_row
    assert "| – |" in lora_row  # superglue/cb not run
    full_row = next(line for line in lines if line.startswith("| Full fine-tuning "))
    # Best per column: full on glue/rte (71.0) and superglue/cb (80.0, one seed), lora on glue/cola.
    assert "| **71.0** ± 1.4 |" in full_row
    assert "| **80.0** |" in full_row
    assert "| 55.0 |" in full_row
    assert "| **85.0** ± 7.1 |" in lora_row
    assert "| 100 |" in full_row
    # Avg.: bolded among the methods run on every task only, though lora's partial average is higher.
    full, lora = report.method("full"), report.method("lora")
    assert full.average is not None and lora.average is not None and lora.average > full.average
    assert full_row.endswith(f"| **{full.average * 100:.1f}** |")
    assert lora_row.endswith(f"| {lora.average * 100:.1f} (2/3 tasks) |")
    assert "×100" in table
    assert "glue/cola: matthews" in table and "glue/rte: accuracy" in table
    assert "`L[1,2] serial=4`; found on glue/rte" in table
    assert "searches/rte trial 3 on glue/rte" in table
    # Rows: header, rule, then the four methods in order.
    assert [line.split(" | ")[0] for line in lines[2:6]] == [
        "| Full fine-tuning",
        "| LoRA",
        "| AutoPEFT p0",
        "| AutoPEFT p1",
    ]


def test_ties_as_displayed_are_bolded_together() -> None:
    records = [
        _record(BASELINES["lora"], "glue/rte", 0, 0.70001, 0.8),
        _record(BASELINES["ia3"], "glue/rte", 0, 0.69999, 0.1),
    ]
    table = markdown_table(summarise_runs(records))
    assert table.count("**70.0**") == 4  # the rte column and the average, two rows each


def test_mixed_settings_in_a_cell_are_flagged() -> None:
    records = [
        _record(BASELINES["lora"], "glue/rte", 0, 0.6, 0.8),
        _record(BASELINES["lora"], "glue/rte", 1, 0.6, 0.8, budget=SMALL_BUDGET),
    ]
    with pytest.warns(UserWarning, match="differ in more than the seed"):
        report = summarise_runs(records)
    assert report.mixed == (("lora", "glue/rte"),)
    assert "Warning: these cells mix runs" in markdown_table(report)
    assert len(report.budgets) == 2


def test_to_dict_is_strict_json(report_dir: Path) -> None:
    report = summarise_runs(read_records([report_dir]))
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert [m["name"] for m in data["methods"]] == ["full", "lora", "autopeft-p0", "autopeft-p1"]
    assert data["methods"][2]["source_tasks"] == ["glue/rte"]
    assert data["runs"]["n_failed"] == 1
    cell = next(c for c in data["cells"] if c["method"] == "full" and c["task"] == "superglue/cb")
    assert cell["std"] is None and cell["mean"] == pytest.approx(0.80)


def test_write_report_writes_three_files(report_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    report = write_report([report_dir], out)
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "report.md", "report.png"]
    text = (out / "report.md").read_text()
    assert text.startswith("# ")
    assert markdown_table(report) in text
    assert "## Runs" in text and "Runs: 16 (15 complete, 1 failed)" in text
    assert "train_examples=200" in text and "glue/cola, glue/rte, superglue/cb (16 runs)" in text
    assert json.loads((out / "report.json").read_text()) == report.to_dict()
    assert (out / "report.png").read_bytes().startswith(b"\x89PNG")


def test_plot_with_partial_results(tmp_path: Path) -> None:
    # A single method, on one task, with one seed: panels without results must still draw.
    records = [_record(SMALL, "glue/rte", 0, 0.6, 0.1, role="autopeft", source_task="glue/rte")]
    report = summarise_runs(records)
    axes = runs_figure(report).axes
    assert [ax.get_title() for ax in axes] == ["glue/rte", "average of 1 tasks (methods run on all)"]
    assert [ax.get_xscale() for ax in axes] == ["log", "log"]
    path = plot_runs(report, tmp_path / "one.png")
    assert path.read_bytes().startswith(b"\x89PNG")


def test_several_ledgers_merge(tmp_path: Path) -> None:
    records = _records()
    first = _ledger(tmp_path, records[:8], "a")
    second = _ledger(tmp_path, records[8:], "b")
    report = write_report([first, second], tmp_path / "out")
    assert report.n_runs == len(records)


def test_empty_dir_raises_user_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="empty"):
        write_report([empty], tmp_path / "out")
    (empty / RESULTS_FILE).write_text("")
    with pytest.raises(UserError, match="no run records"):
        write_report([empty], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_ledger_cut_short_still_reports_earlier_records(report_dir: Path, tmp_path: Path) -> None:
    line = json.dumps(_record(BASELINES["ia3"], "glue/rte", 0, 0.5, 0.01).to_dict())
    with (report_dir / RESULTS_FILE).open("a") as fh:
        fh.write(line[: len(line) // 2])  # a crash in the middle of an append
    with pytest.warns(UserWarning, match="unreadable record skipped"):
        report = write_report([report_dir], tmp_path / "out")
    assert report.n_runs == 16
    assert "ia3" not in [m.name for m in report.methods]


def test_method_with_only_failed_runs_is_listed_last_without_numbers(report_dir: Path) -> None:
    broken = Method(name="autopeft-p9", label="AutoPEFT p9", kind="config", config=PeftConfig(layers=(True,), lora=2))
    records = [*read_records([report_dir]), _record(broken, "glue/rte", 0, None, 0.0, role="autopeft")]
    report = summarise_runs(records)
    row = report.methods[-1]
    assert (row.name, row.params_pct, row.average, row.n_tasks) == ("autopeft-p9", None, None, 0)
    table_row = next(line for line in markdown_table(report).splitlines() if line.startswith("| AutoPEFT p9 "))
    assert table_row == "| AutoPEFT p9 | – | – | – | – | – |"
