"""The ledger of a search: every trial in an Optuna study (SQLite file by default, or any RDB URL).

A trial enters the ledger as RUNNING, with its configuration, in one write before it trains; when it
ends, the whole :class:`TrialResult` is written as a user attribute and then the trial is told COMPLETE
(objective values), PRUNED (stopped early) or FAIL. A process killed mid-trial leaves that trial RUNNING;
:meth:`Ledger.recover_interrupted` marks it failed-interrupted and hands its configuration back so the
search runs it again (or, if its result was already written, finishes it). So at most the running
trial's work is lost, and no trial is run twice.

The ledger is a plain Optuna study: ``optuna-dashboard <storage URL>`` and Optuna's own API can watch it.
"""

from __future__ import annotations

import dataclasses
import json
import warnings

import optuna
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from autopeft.errors import UserError
from autopeft.records.objectives import DEFAULT_OBJECTIVES, Objective
from autopeft.records.trial import TrialResult
from autopeft.space import PeftConfig, SearchSpace

STUDY_NAME = "autopeft"
_RESULT = "autopeft_result"
_CONFIG = "autopeft_config"
_HYPERVOLUME = "autopeft_hypervolume"
#: How the study stores its trials' parameters: real values (since studies read themselves) or indices.
_PARAMS, _VALUES = "autopeft_params", "values"


def _metric_name(objective: Objective, metric: str | None) -> str:
    """The name an objective's values get in the study: the score with its metric, the others by the
    record attribute they read (``params_pct``, ``train_seconds``, ``peak_memory_mb``)."""
    if objective.attribute == "score":
        return f"score ({metric})" if metric else "score"
    return objective.attribute


def _another_search(storage: str, study_name: str, holds: str) -> UserError:
    return UserError(
        "study_name",
        study_name,
        f"the ledger at {storage} holds a search with {holds}",
        "give this search its own `study_name`, or another `storage`",
    )


def _check_same_search(
    study: optuna.Study, space: SearchSpace, objectives: tuple[Objective, ...], storage: str, study_name: str
) -> None:
    # Optuna loads an existing study whatever directions it is asked for
    recorded_directions = [d.name.lower() for d in study.directions]
    directions = [o.direction for o in objectives]
    if recorded_directions != directions:
        raise _another_search(
            storage,
            study_name,
            f"{len(recorded_directions)} objectives ({', '.join(recorded_directions)}), "
            f"this search {len(directions)} ({', '.join(directions)})",
        )
    recorded = study.user_attrs.get("space")
    if recorded is not None and SearchSpace.from_dict(json.loads(recorded)) != space:
        raise _another_search(storage, study_name, f"another space: {recorded}")


class Ledger:
    """Every trial of one search, in an Optuna storage.

    Args:
        storage: an Optuna storage URL (``sqlite:///path/study.db``, ``postgresql://...``).
        space: the search space (its dimensions are the trials' parameters).
        objectives: objectives in the order the study stores their values.
        study_name: the study's name in the storage (a storage can hold many searches).
        metric: the task's main metric, to name the score objective (``score (accuracy)``); None = ``score``.

    The study reads itself: its objectives are named (``optuna-dashboard`` shows ``score (accuracy)`` and
    ``params_pct``, not "Objective 0"), and its trials' parameters are the configuration's real values
    (a serial adapter of size 12 is ``serial=12``, a layer bit is ``True``/``False``). Studies written before
    this (parameters as indices into each dimension's choices) keep that form, so they resume unchanged.

    Raises:
        UserError: the storage already holds a study of that name for another search (another space,
            or objectives of other directions), which this one must not mix with.
    """

    def __init__(
        self,
        storage: str,
        space: SearchSpace,
        objectives: tuple[Objective, ...] = DEFAULT_OBJECTIVES,
        study_name: str = STUDY_NAME,
        *,
        metric: str | None = None,
    ) -> None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.storage_url = storage
        self.space = space
        self.objectives = objectives
        self.study = optuna.create_study(
            storage=storage,
            study_name=study_name,
            directions=[o.direction for o in objectives],
            sampler=optuna.samplers.RandomSampler(seed=0),
            load_if_exists=True,
        )
        self._running: dict[int, int] = {}  # trial number -> trial id, while it runs
        _check_same_search(self.study, space, objectives, storage, study_name)
        attrs = self.study.user_attrs
        new_study = attrs.get("space") is None
        if new_study:
            self.study.set_user_attr("space", json.dumps(space.to_dict(), sort_keys=True))
            self.study.set_user_attr(_PARAMS, _VALUES)
        self._as_values = new_study or attrs.get(_PARAMS) == _VALUES
        if self._as_values:
            self._distributions = {d.name: CategoricalDistribution(d.choices) for d in space.dimensions}
        else:  # written before studies stored real values: indices into each dimension's choices
            self._distributions = {d.name: IntDistribution(0, d.cardinality - 1) for d in space.dimensions}
        names = [_metric_name(o, metric) for o in objectives]
        if metric is not None and self.study.metric_names != names:  # a search names them; readers write nothing
            with warnings.catch_warnings():  # "experimental" since Optuna 3.2, and what the dashboard reads
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                self.study.set_metric_names(names)

    @staticmethod
    def check(storage: str, study_name: str, space: SearchSpace, objectives: tuple[Objective, ...]) -> None:
        """Refuse (:class:`UserError`) a search whose storage holds a study of that name for another
        search, without creating anything in it (a study not there yet is fine)."""
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            study = optuna.load_study(study_name=study_name, storage=storage)
        except KeyError:
            return
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(
                "storage",
                storage,
                f"cannot be opened ({first})",
                "give an Optuna storage URL such as sqlite:///path/study.db or postgresql://user:password@host/db",
            ) from None
        _check_same_search(study, space, objectives, storage, study_name)

    @classmethod
    def load(
        cls, storage: str, study_name: str = STUDY_NAME, objectives: tuple[Objective, ...] = DEFAULT_OBJECTIVES
    ) -> Ledger:
        """Open an existing ledger; its space is read from the ledger itself, its ``objectives`` must be
        those it was made with (see the class)."""
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.load_study(study_name=study_name, storage=storage)
        space = SearchSpace.from_dict(json.loads(study.user_attrs["space"]))
        return cls(storage, space, objectives, study_name=study_name)

    # --- settings ----------------------------------------------------------------------------

    def set_settings(self, settings: dict) -> None:
        self.study.set_user_attr("settings", json.dumps(settings, sort_keys=True))

    def get_reference(self) -> list[float] | None:
        """The hypervolume reference point fixed for this study (objectives' units), if recorded."""
        raw = self.study.user_attrs.get("reference")
        return [float(v) for v in json.loads(raw)] if raw else None

    def set_reference(self, reference: list[float]) -> None:
        self.study.set_user_attr("reference", json.dumps([float(v) for v in reference]))

    # --- trials ------------------------------------------------------------------------------

    def start(self, config: PeftConfig) -> int:
        """Enter ``config`` as a RUNNING trial, tagged with its configuration, in one write; returns its
        number. (A kill can then never leave a trial without its configuration, nor a queued trial that
        would hand its parameters to a later one.)"""
        vec = self.space.encode(config)
        params = {
            d.name: d.choices[int(v)] if self._as_values else int(v)
            for d, v in zip(self.space.dimensions, vec, strict=True)
        }
        template = create_trial(
            state=TrialState.RUNNING,
            params=params,
            distributions=self._distributions,
            user_attrs={_CONFIG: config.key()},
        )
        # Study.add_trial makes the same single write but does not say which trial it made
        trial_id = self.study._storage.create_new_trial(self.study._study_id, template_trial=template)
        number = self.study._storage.get_trial_number_from_id(trial_id)
        self._running[number] = trial_id
        return number

    def finish(self, number: int, result: TrialResult, *, hypervolume: float | None = None) -> TrialResult:
        """Record the result of trial ``number``, and the study's hypervolume once it is in; returns the
        result with its number set.

        The result is written first, then the trial's state: a kill between the two leaves a RUNNING
        trial holding its result, which :meth:`recover_interrupted` finishes instead of running again.
        """
        result = dataclasses.replace(result, number=number)
        trial = optuna.trial.Trial(self.study, self._running.pop(number))
        trial.set_user_attr(_RESULT, result.to_json())
        if hypervolume is not None:
            trial.set_user_attr(_HYPERVOLUME, float(hypervolume))
        self._tell(number, result)
        return result

    def _tell(self, number: int, result: TrialResult) -> None:
        if result.ok:
            self.study.tell(number, [float(getattr(result, o.attribute)) for o in self.objectives])
        elif result.stopped:
            self.study.tell(number, state=TrialState.PRUNED)
        else:
            self.study.tell(number, state=TrialState.FAIL)

    def results(self) -> list[TrialResult]:
        """Finished trials (complete, stopped early and failed, not interrupted), in trial-number order."""
        out = []
        for t in self.study.get_trials(deepcopy=False):
            if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL) and _RESULT in t.user_attrs:
                out.append(TrialResult.from_json(t.user_attrs[_RESULT]))
        return sorted(out, key=lambda r: r.number)

    def hypervolumes(self) -> list[tuple[int, float]]:
        """``(trial number, hypervolume of the study once that trial finished)``, in number order."""
        return sorted(
            (t.number, float(t.user_attrs[_HYPERVOLUME]))
            for t in self.study.get_trials(deepcopy=False)
            if _HYPERVOLUME in t.user_attrs
        )

    def running(self) -> list[tuple[int, PeftConfig]]:
        """Trials left RUNNING without a result (by a process that died, or one running now)."""
        return [
            (t.number, PeftConfig.from_dict(json.loads(t.user_attrs[_CONFIG])))
            for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if _CONFIG in t.user_attrs and _RESULT not in t.user_attrs
        ]

    def recover_interrupted(self) -> list[PeftConfig]:
        """Close every trial a dead process left open; return the configurations to run again.

        - a RUNNING trial that holds its result (killed between writing it and telling the study) is
          told that result: its work is kept;
        - a RUNNING trial without a result is marked failed-interrupted and its configuration returned;
        - a trial queued or started by an older version without its configuration is marked failed.

        Only the search's owner may call this (another live process's trial would be closed too).
        """
        configs = []
        for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
            if _RESULT in t.user_attrs:
                self._tell(t.number, TrialResult.from_json(t.user_attrs[_RESULT]))
                continue
            self.study.tell(t.number, state=TrialState.FAIL)
            if _CONFIG in t.user_attrs:
                configs.append(PeftConfig.from_dict(json.loads(t.user_attrs[_CONFIG])))
        return configs

    def interrupted_count(self) -> int:
        """Trials that were interrupted: failed without a recorded result."""
        return sum(
            1 for t in self.study.get_trials(deepcopy=False, states=(TrialState.FAIL,)) if _RESULT not in t.user_attrs
        )
