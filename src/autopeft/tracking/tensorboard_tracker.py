"""TensorBoard: one log directory per trial under ``DIR/tensorboard``, and one for the search.

- ``DIR/tensorboard/trial-0007/``: the trial's learning curve (``curve/<metric>`` by optimiser step), its
  final values at its last step (see :func:`~autopeft.tracking.base.trial_metrics`), and an hparams
  summary (configuration and status as hyperparameters; score, parameter %, training time and peak
  memory as its metrics), so that TensorBoard's HParams tab compares the trials;
- ``DIR/tensorboard/search/``: the hypervolume and each complete trial's score by trial number, the settings as
  text, and at the end the front (``pareto.json``) as text and the report plots as images.

``tensorboard --logdir DIR/tensorboard`` shows them. A trial is written into a hidden folder and renamed
into place once closed, so a trial directory is whole or absent: a resumed search logs exactly the
trials without one. Written with torch's ``SummaryWriter`` (it needs the ``tensorboard`` package).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autopeft.records.trial import TrialResult
from autopeft.tracking.base import (
    SearchEnd,
    TrackedSearch,
    Tracker,
    config_params,
    curve_points,
    last_step,
    trial_metrics,
)

#: The folder under the search directory that holds the event files.
FOLDER = "tensorboard"
#: The final values the HParams tab shows as metrics (each also a scalar of the trial's run).
HPARAM_METRICS = ("score", "params_pct", "train_seconds", "peak_memory_mb")


def trial_dir_name(number: int) -> str:
    """``trial-0007``: zero-padded so that TensorBoard lists trials in order."""
    return f"trial-{number:04d}"


class TensorBoardTracker(Tracker):
    """Logs a search to TensorBoard event files (see the module)."""

    name = "tensorboard"

    def __init__(self) -> None:
        self.root: Path | None = None
        self._search: Any = None  # the search run's SummaryWriter

    @property
    def where(self) -> str:
        return f"tensorboard at {self.root}"

    def start(self, search: TrackedSearch) -> set[int]:
        from torch.utils.tensorboard import SummaryWriter

        self.root = root = search.out_dir / FOLDER
        root.mkdir(parents=True, exist_ok=True)
        for partial in root.glob(".trial-*"):  # a process killed while writing a trial
            shutil.rmtree(partial, ignore_errors=True)
        held = {int(p.name.removeprefix("trial-")) for p in root.glob("trial-*") if p.is_dir()}
        new = not (root / "search").exists()
        self._search = SummaryWriter(log_dir=str(root / "search"))
        if new:
            settings = "\n".join(f"    {k} = {v}" for k, v in sorted(search.settings.items()))
            self._search.add_text("settings", f"{search.title}\n\n{settings}")
            self._search.flush()
        return held

    def log_trial(self, result: TrialResult, hypervolume: float | None) -> None:
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams

        assert self.root is not None and self._search is not None, "start() first"
        final = self.root / trial_dir_name(result.number)
        partial = self.root / f".{final.name}"
        shutil.rmtree(partial, ignore_errors=True)
        with SummaryWriter(log_dir=str(partial)) as writer:
            for name, step, value in curve_points(result):
                writer.add_scalar(name, value, step)
            values = trial_metrics(result)
            for name, value in values.items():
                writer.add_scalar(name, value, last_step(result))
            # the HParams tab reads each metric from the run's scalar of that name, written just above
            shown = {name: values[name] for name in HPARAM_METRICS if name in values}
            params = {k: v for k, v in config_params(result).items() if v is not None}
            params["status"] = result.status
            for summary in hparams(params, shown):
                writer.file_writer.add_summary(summary)
        partial.rename(final)
        if hypervolume is not None:
            self._search.add_scalar("search/hypervolume", hypervolume, result.number)
        if result.ok:  # a stopped trial's score is that of a partial curve
            self._search.add_scalar("search/trial_score", result.score, result.number)
        self._search.flush()

    def finish(self, files: Sequence[Path], end: SearchEnd) -> None:
        assert self._search is not None, "start() first"
        for path in files:
            if path.suffix == ".png":
                import matplotlib.image

                image = matplotlib.image.imread(str(path))
                self._search.add_image(f"report/{path.stem}", image, dataformats="HWC")
            elif path.name == "pareto.json":
                front = json.dumps(json.loads(path.read_text()), indent=2)
                # TensorBoard renders text as markdown: four spaces keep the JSON as it is
                self._search.add_text("report/pareto", "\n".join("    " + line for line in front.splitlines()))
        self._search.add_text("report/end", f"search {end}")
        self._search.close()
        self._search = None
