"""The search's trackers together: each trial reaches each tracker once, and a failing tracker never
fails the search (warned about once, then left out)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tracking_records import made_up_trial

from autopeft.records.trial import TrialResult
from autopeft.tracking import SearchEnd, TrackedSearch, Tracker, Tracking


class Recording(Tracker):
    """Keeps what it is told; ``fail_on`` names the call that raises (``start``, ``log_trial``, ``finish``)."""

    def __init__(self, name: str, held: frozenset[int] = frozenset(), fail_on: str | None = None) -> None:
        self.name = name  # type: ignore[misc]  # a class attribute in real trackers; one class serves here
        self.held = set(held)
        self.fail_on = fail_on
        self.logged: list[tuple[int, float | None]] = []
        self.finished: tuple[list[Path], SearchEnd] | None = None

    def _maybe_fail(self, call: str) -> None:
        if self.fail_on == call:
            raise ConnectionError(f"{self.name} server gone\nsecond line")

    def start(self, search: TrackedSearch) -> set[int]:
        self._maybe_fail("start")
        return self.held

    def log_trial(self, result: TrialResult, hypervolume: float | None) -> None:
        self._maybe_fail("log_trial")
        self.logged.append((result.number, hypervolume))

    def finish(self, files: Sequence[Path], end: SearchEnd) -> None:
        self._maybe_fail("finish")
        self.finished = (list(files), end)


def test_start_logs_to_each_tracker_the_finished_trials_it_lacks(tracked):
    fresh, behind = Recording("fresh"), Recording("behind", held=frozenset({0, 1}))
    tracking = Tracking([fresh, behind], warn=lambda text: None)
    finished = [made_up_trial(n) for n in (0, 1, 2)]
    tracking.start(tracked, finished, {0: 1.0, 1: 2.0, 2: 2.5})
    assert fresh.logged == [(0, 1.0), (1, 2.0), (2, 2.5)]
    assert behind.logged == [(2, 2.5)]  # a resumed search logs no trial twice
    tracking.log_trial(made_up_trial(3), 3.0)
    assert fresh.logged[-1] == behind.logged[-1] == (3, 3.0)


def test_a_failing_tracker_is_warned_about_once_and_left_out(tracked, report_files):
    warnings: list[str] = []
    broken, working = Recording("broken", fail_on="log_trial"), Recording("working")
    tracking = Tracking([broken, working], warn=warnings.append)
    tracking.start(tracked, [made_up_trial(0), made_up_trial(1)])
    tracking.log_trial(made_up_trial(2), None)
    tracking.finish([*report_files, tracked.out_dir / "hypervolume.png"], "finished")
    assert len(warnings) == 1
    assert "tracking to broken failed while logging trial 0 (ConnectionError: broken server gone)" in warnings[0]
    assert "the search goes on without it" in warnings[0] and "autopeft resume DIR" in warnings[0]
    assert tracking.failed == {"broken": "ConnectionError: broken server gone"}
    assert [t.name for t in tracking.active] == ["working"] and broken.finished is None
    assert [n for n, _ in working.logged] == [0, 1, 2]
    assert working.finished == (report_files, "finished")  # only the report files that exist


def test_a_tracker_that_cannot_start_or_finish_is_left_out(tracked):
    warnings: list[str] = []
    no_start, no_finish = Recording("a", fail_on="start"), Recording("b", fail_on="finish")
    tracking = Tracking([no_start, no_finish], warn=warnings.append)
    tracking.start(tracked, [made_up_trial(0)])
    assert no_start.logged == [] and no_finish.logged == [(0, None)]
    tracking.finish([], "interrupted")
    assert [w.split(" (")[0] for w in warnings] == [
        "tracking to a failed while starting",
        "tracking to b failed while finishing",
    ]
    assert tracking.active == [] and tracking.describe() == ""


def test_the_default_warning_goes_to_the_log_even_when_the_search_is_quiet(tracked, caplog):
    tracking = Tracking([Recording("broken", fail_on="start")])
    with caplog.at_level("WARNING", logger="autopeft.tracking"):
        tracking.start(tracked)
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == ["tracking to broken failed while starting"]
