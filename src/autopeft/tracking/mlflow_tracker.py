"""MLflow: one run per search, and under it one nested run per trial.

Where: ``$MLFLOW_TRACKING_URI`` when set (a server, a database, a local folder, as MLflow reads it),
else MLflow's local default placed in the search directory: the SQLite store ``DIR/mlflow.db`` with the
artifacts in ``DIR/mlruns`` (MLflow 3 refuses its older plain-folder store unless
``MLFLOW_ALLOW_FILE_STORE=true``; SQLite needs no server and comes with Optuna's dependencies). The
experiment is ``$MLFLOW_EXPERIMENT_NAME`` when set, else the search directory's name.

The search's run (tags ``autopeft.search_dir``, the directory's absolute path, and ``autopeft.search_id``,
its hash) holds the settings as parameters, the hypervolume and each complete trial's score by trial
number, and at the end the report files as artifacts. Each trial's run (tag ``autopeft.trial``, its
number) holds its configuration as parameters, its final values as metrics (see
:func:`~autopeft.tracking.base.trial_metrics`), its learning curve as ``curve/<metric>`` by optimiser
step, and its status: FINISHED (complete), KILLED (stopped early) or FAILED (with the error as the tag
``autopeft.error``). The search's run ends FINISHED, FAILED or KILLED (interrupted) with its process.

A resumed search reopens its search run and logs only the trials it lacks; a trial run left RUNNING by
a process killed while logging it is deleted and logged again. Every call goes through an explicit
:class:`mlflow.MlflowClient`: nothing sets MLflow's global active run or tracking URI.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from autopeft.records.trial import TrialResult
from autopeft.tracking.base import (
    ParamValue,
    SearchEnd,
    TrackedSearch,
    Tracker,
    config_params,
    curve_points,
    last_step,
    trial_metrics,
)

#: Tags that tie runs to a search and a trial: a resumed search finds its run by ``autopeft.search_id``
#: (a hash of the directory's path: any path's characters are then safe in a filter string).
SEARCH_TAG, SEARCH_ID_TAG = "autopeft.search_dir", "autopeft.search_id"
TRIAL_TAG, STATUS_TAG, ERROR_TAG = "autopeft.trial", "autopeft.status", "autopeft.error"
#: MLflow's own tags: a run's name and its parent run.
RUN_NAME_TAG, PARENT_TAG = "mlflow.runName", "mlflow.parentRunId"

#: MLflow's per-request limits on one ``log_batch`` (its documented REST limits).
_MAX_METRICS, _MAX_PARAMS = 1000, 100
#: A tag value's length limit is 8000 characters in MLflow 3; an error is cut well below it.
_MAX_ERROR = 5000

_RUN_STATUS = {"complete": "FINISHED", "stopped": "KILLED", "failed": "FAILED"}
_SEARCH_STATUS = {"finished": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}


def default_tracking_uri(out_dir: Path) -> str:
    """``sqlite:///DIR/mlflow.db``, the path percent-encoded (SQLAlchemy decodes it back), so that a
    directory name holding ``?`` or ``#`` keeps the store inside it."""
    return "sqlite:///" + quote(str(Path(out_dir).resolve() / "mlflow.db"), safe="/")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _text(value: ParamValue) -> str:
    return str(value)


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class MlflowTracker(Tracker):
    """Logs a search to MLflow (see the module)."""

    name = "mlflow"

    def __init__(self) -> None:
        self._client: Any = None
        self._uri = ""
        self._experiment = ""
        self._parent: str | None = None
        self._experiment_id = ""

    @property
    def where(self) -> str:
        return f"mlflow at {self._uri} (experiment {self._experiment!r})"

    def start(self, search: TrackedSearch) -> set[int]:
        from mlflow import MlflowClient

        own_store = not os.environ.get("MLFLOW_TRACKING_URI")
        self._uri = default_tracking_uri(search.out_dir) if own_store else os.environ["MLFLOW_TRACKING_URI"]
        self._experiment = os.environ.get("MLFLOW_EXPERIMENT_NAME") or search.name
        self._client = client = MlflowClient(tracking_uri=self._uri)
        experiment = client.get_experiment_by_name(self._experiment)
        if experiment is None:
            # in our own store the artifacts stay in the search directory (MLflow would put them in
            # ./mlruns of whatever directory the search was started from)
            location = (search.out_dir / "mlruns").as_uri() if own_store else None
            experiment_id = client.create_experiment(self._experiment, artifact_location=location)
        else:
            experiment_id = experiment.experiment_id
        self._experiment_id = experiment_id
        search_dir = str(search.out_dir)
        search_id = hashlib.sha256(search_dir.encode()).hexdigest()[:32]
        found = client.search_runs([experiment_id], filter_string=f"tags.`{SEARCH_ID_TAG}` = '{search_id}'")
        parents = [r for r in found if PARENT_TAG not in r.data.tags]
        if parents:
            self._parent = parents[0].info.run_id
            client.update_run(self._parent, status="RUNNING")
            known = set(parents[0].data.params)
        else:
            run = client.create_run(
                experiment_id,
                tags={
                    RUN_NAME_TAG: search.study_name,
                    SEARCH_TAG: search_dir,
                    SEARCH_ID_TAG: search_id,
                    "mlflow.note.content": search.title,
                },
            )
            self._parent = run.info.run_id
            known = set()
        # parameters cannot change once logged: a resume logs only the settings not there yet (the
        # settings a search started with stay; `trials` may have been raised since, see search.json)
        self._log(self._parent, params={k: v for k, v in search.settings.items() if k not in known})
        self._client.set_tag(self._parent, "autopeft.metric", search.metric)
        return self._held()

    def _held(self) -> set[int]:
        """Trial numbers already logged under the search run; runs left RUNNING are deleted (a process
        was killed while logging them) so that they are logged again."""
        held: set[int] = set()
        token = None
        while True:
            page = self._client.search_runs(
                [self._experiment_id],
                filter_string=f"tags.`{PARENT_TAG}` = '{self._parent}'",
                max_results=1000,
                page_token=token,
            )
            for run in page:
                number = run.data.tags.get(TRIAL_TAG)
                if number is None:
                    continue
                if run.info.status == "RUNNING":
                    self._client.delete_run(run.info.run_id)
                else:
                    held.add(int(number))
            token = page.token
            if not token:
                return held

    def log_trial(self, result: TrialResult, hypervolume: float | None) -> None:
        client, parent = self._client, self._parent
        assert client is not None and parent is not None, "start() first"
        ended = _now_ms()
        took = result.train_seconds + result.eval_seconds
        tags = {
            RUN_NAME_TAG: f"trial {result.number}",
            PARENT_TAG: parent,
            TRIAL_TAG: str(result.number),
            STATUS_TAG: result.status,
            "autopeft.metric": result.metric,
        }
        if result.error:
            tags[ERROR_TAG] = result.error[:_MAX_ERROR]
        run = client.create_run(self._experiment_id, start_time=ended - int(1000 * took), tags=tags)
        metrics = [(name, value, last_step(result)) for name, value in trial_metrics(result).items()]
        metrics += [(name, value, step) for name, step, value in curve_points(result)]
        self._log(run.info.run_id, params=config_params(result), metrics=metrics)
        client.set_terminated(run.info.run_id, status=_RUN_STATUS[result.status], end_time=ended)
        search_metrics = [("hypervolume", hypervolume, result.number)] if hypervolume is not None else []
        if result.ok:  # a stopped trial's score is that of a partial curve
            search_metrics.append(("trial_score", result.score, result.number))
        self._log(parent, metrics=search_metrics)

    def finish(self, files: Sequence[Path], end: SearchEnd) -> None:
        client, parent = self._client, self._parent
        assert client is not None and parent is not None, "start() first"
        for path in files:
            client.log_artifact(parent, str(path))
        client.set_terminated(parent, status=_SEARCH_STATUS[end])

    def _log(
        self,
        run_id: str,
        params: dict[str, ParamValue] | None = None,
        metrics: list[tuple[str, float, int]] | None = None,
    ) -> None:
        """Params and metrics in batches within MLflow's limits, all with one timestamp."""
        from mlflow.entities import Metric, Param

        now = _now_ms()
        for chunk in _chunks([Param(k, _text(v)) for k, v in (params or {}).items()], _MAX_PARAMS):
            self._client.log_batch(run_id, params=chunk)
        points = [Metric(k, float(v), now, int(step)) for k, v, step in (metrics or [])]
        for chunk in _chunks(points, _MAX_METRICS):
            self._client.log_batch(run_id, metrics=chunk)
