"""Live progress: bars for the search and the running trial, lines above them, nothing when quiet."""

from __future__ import annotations

import io

from autopeft.records.trial import TrialResult
from autopeft.render.progress import LiveProgress, monitor_for


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _result(score: float, number: int = -1) -> TrialResult:
    return TrialResult(config={}, status="complete", score=score, metric="accuracy", params_pct=1.0, number=number)


def test_bars_show_steps_best_score_and_hypervolume():
    out = _Terminal()
    progress = LiveProgress(out, title="sst2")
    progress.trial_started(3, "L[0,1] serial=12", done=0, total=2)
    for step in range(1, 6):
        progress.step(step, 5)
    progress.line("    → accuracy 0.8000")
    progress.trial_finished(_result(0.8, 3), hypervolume=0.0123)
    progress.trial_started(4, "L[2] prefix=3", done=1, total=2)
    progress.trial_finished(_result(0.7, 4), hypervolume=0.0123)
    progress.close()
    text = out.getvalue()
    assert "sst2" in text and "#3 L[0,1] serial=12" in text and "5/5" in text
    assert "    → accuracy 0.8000\n" in text
    assert "best=0.8000" in text and "HV=0.0123" in text and "2/2" in text


def test_one_bar_per_running_trial_and_a_freed_position_is_reused():
    out = _Terminal()
    progress = LiveProgress(out, title="ray")
    progress.trial_started(0, "L[0] serial=1", done=0, total=4)
    progress.trial_started(1, "L[1] serial=2", done=1, total=4)
    positions = {n: abs(bar.pos) for n, bar in progress._trials.items()}
    assert positions == {0: 1, 1: 2}
    progress.trial_finished(_result(0.6, 0), hypervolume=None)  # trials on Ray finish out of order
    progress.trial_started(2, "L[2] serial=4", done=2, total=4)
    assert {n: abs(bar.pos) for n, bar in progress._trials.items()} == {1: 2, 2: 1}
    progress.trial_finished(_result(0.7, 2), hypervolume=None)
    progress.trial_finished(_result(0.5, 1), hypervolume=None)
    assert not progress._trials
    progress.close()
    text = out.getvalue()
    assert all(f"#{n} L[{n}]" in text for n in range(3)) and "3/4" in text


def test_bars_only_on_a_terminal_and_never_when_quiet():
    assert isinstance(monitor_for(_Terminal()), LiveProgress)
    assert monitor_for(io.StringIO()) is None
    assert monitor_for(_Terminal(), quiet=True) is None


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def line(self, text: str) -> None:
        self.calls.append(("line",))

    def trial_started(self, number: int, description: str, done: int, total: int) -> None:
        self.calls.append(("started", number, done, total))

    def step(self, step: int, total: int) -> None:
        self.calls.append(("step", step, total))

    def trial_finished(self, result: TrialResult, hypervolume: float | None) -> None:
        self.calls.append(("finished", result.number, hypervolume is not None))

    def close(self) -> None:
        self.calls.append(("close",))


def test_a_search_tells_its_monitor_each_trial_start_step_and_end(tmp_path, toy_csv, tiny_bert):
    from autopeft.study.search import run_search
    from autopeft.study.settings import SearchSettings
    from autopeft.train.budget import Budget

    budget = Budget(train_examples=120, val_examples=40, epochs=1, max_length=16, batch_size=16, learning_rate=1e-2)
    settings = SearchSettings(model="tiny", task=str(toy_csv), text_columns=("sentence",), label_column="label",
                              optimizer="random", trials=2, budget=budget)  # fmt: skip
    recorder = _Recorder()
    run_search(settings, tmp_path / "s", echo=lambda s: None, base=tiny_bert, monitor=recorder)
    kinds = [c[0] for c in recorder.calls]
    assert kinds[-1] == "close" and kinds.count("started") == 2 and kinds.count("finished") == 2
    first, second = (i for i, k in enumerate(kinds) if k == "started")
    steps = [c for c in recorder.calls[first:second] if c[0] == "step"]
    assert steps and steps[-1][1] == steps[-1][2] and [c[1] for c in steps] == list(range(1, len(steps) + 1))
    assert recorder.calls[first] == ("started", 0, 0, 2) and ("finished", 0, True) in recorder.calls


def test_quiet_prints_no_progress_but_the_front(tmp_path, toy_search_args, capsys):
    from autopeft.cli import main

    assert main(toy_search_args(tmp_path / "s", "--train-examples", "100", "--trials", "1", "--optimizer", "random",
                                "--quiet")) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "[trial" not in out and "step" not in out and "Pareto front" in out
