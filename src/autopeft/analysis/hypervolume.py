"""Hypervolume of a set of objective vectors, and its curve over a search.

The hypervolume of a set of points is the volume of the region that the points dominate and that
dominates the *reference point*: the larger, the better the front. It is exact here (BoTorch's box
decomposition, :class:`~botorch.utils.multi_objective.box_decompositions.dominated.DominatedPartitioning`;
fast for 2 and 3 objectives, exponential in the number of objectives beyond that).

Directions come from :mod:`autopeft.records.objectives`; minimised objectives are negated internally, so
every objective is maximised and the reference point is negated with them.

The reference point must be fixed for a whole search (and for every search compared with it): a
curve computed with a reference that moved as trials arrived would not be comparable to another.
:func:`default_reference` gives the default documented there.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import torch
from botorch.utils.multi_objective.box_decompositions.dominated import DominatedPartitioning

from autopeft.records.objectives import DEFAULT_OBJECTIVES, Direction, Objective
from autopeft.records.trial import TrialResult

__all__ = [
    "DEFAULT_COST_FACTOR",
    "DEFAULT_LOSS_FACTOR",
    "DEFAULT_PARAMS_PCT_REFERENCE",
    "DEFAULT_SCORE_REFERENCE",
    "ReferencePoint",
    "default_reference",
    "hypervolume",
    "hypervolume_curve",
]

#: Default reference of the score (every main metric of the project, maximised).
DEFAULT_SCORE_REFERENCE = 0.0

#: Default reference of the trainable-parameter percentage (``params_pct``, minimised), in percent.
DEFAULT_PARAMS_PCT_REFERENCE = 10.0

#: Default reference of a measured cost (training time, peak memory): this many times the cost of the
#: search's first complete trial.
DEFAULT_COST_FACTOR = 5.0

#: Default reference of a causal-LM validation loss (``loss``, minimised): this many times the loss of
#: the search's first complete trial.
DEFAULT_LOSS_FACTOR = 2.0


def default_reference(
    objectives: Sequence[Objective] = DEFAULT_OBJECTIVES,
    overrides: Mapping[str, float] | None = None,
    first: TrialResult | None = None,
) -> np.ndarray:
    """The default reference point of ``objectives``, shape ``(len(objectives),)``.

    Defaults (override any of them with ``overrides``, keyed by objective name or attribute):

    - ``score`` (maximised): ``0.0``. Every main metric of the project (accuracy, F1, Matthews
      correlation, Spearman/Pearson correlation) is at or above 0 for a model that learned anything,
      and 0 is chance level for the correlations; so every working configuration counts, and the
      reference does not depend on the data, the task or the trials, which keeps it fixed during a
      search and equal across searches of a task. A tighter, task-aware floor (the majority-class
      accuracy, say) changes every hypervolume by the same amount only while all points lie above it;
      give it through ``overrides`` when ratios of hypervolumes matter.
    - ``params`` (``params_pct``, minimised): ``10.0`` percent of the backbone. Beyond a tenth of the
      backbone's parameters a configuration hardly counts as parameter-efficient (adapters and LoRA
      in their usual sizes train well under it, around 0.1-4%), while the paper's space reaches
      about 40% on BERT-base (every module at size 768 in every layer). A fixed bound in percent
      keeps the reference independent of the trials and comparable across models. Configurations
      above it add nothing to the hypervolume, and the ``gp`` optimiser's acquisition (which uses
      the same reference) stops spending trials on them.
    - a measured cost (``time``: training seconds of a trial; ``memory``: peak MiB), minimised:
      :data:`DEFAULT_COST_FACTOR` times its value in ``first``, the search's first complete trial
      (the search records the point once it is known, so it stays fixed). Costs have no
      hardware-independent bound; five times a random configuration's cost admits most of the
      space (in the MiniLM/SST-2 demo most trials took 21-30 s and the slowest, prefix 384, 171 s)
      while keeping the cheap configurations' share of the hypervolume visible.
    - ``loss`` (a causal-LM validation loss in nats/token, minimised): :data:`DEFAULT_LOSS_FACTOR` times
      the loss of ``first``, the search's first complete trial (recorded once known, like a cost's). A
      loss has no task-independent bound (it depends on the vocabulary and the texts), and 0 is out of
      reach; the first trial is a configuration drawn at random, trained at the search's budget, so
      twice its loss admits every configuration that learned anything while a diverged one (whose
      loss climbs past the untrained model's) adds nothing. The frozen backbone's own loss would be
      the natural floor but costs an evaluation pass before the search; give it through ``overrides``
      (``reference=loss=...``) when hypervolumes must be compared across searches.

    Raises:
        ValueError: an objective has no default and no override (a cost before ``first`` is known).
    """
    overrides = dict(overrides or {})
    # by name: ``loss`` reads the same attribute as ``score`` but has no fixed bound
    defaults = {"score": DEFAULT_SCORE_REFERENCE, "params": DEFAULT_PARAMS_PCT_REFERENCE}
    factors = {"loss": DEFAULT_LOSS_FACTOR}
    ref = []
    for o in objectives:
        for key in (o.name, o.attribute):
            if key in overrides:
                ref.append(float(overrides[key]))
                break
        else:
            if o.name in defaults:
                ref.append(defaults[o.name])
            elif first is not None and first.ok and math.isfinite(float(getattr(first, o.attribute))):
                ref.append(factors.get(o.name, DEFAULT_COST_FACTOR) * float(getattr(first, o.attribute)))
            else:
                raise ValueError(f"objective {o.name!r} has no default reference before a trial completes: give one")
    return np.asarray(ref, dtype=float)


class ReferencePoint:
    """The hypervolume reference point of one search: computed once, then never moved.

    The study owns it (it records the value in the ledger, so a resumed search keeps it) and hands
    the same object to its optimiser, whose acquisition aims at it, and to its reports. Its value is
    :func:`default_reference` with the user's ``overrides``, or a recorded value. A measured-cost
    objective (``time``, ``memory``) has no default before a trial completes: until then ``value`` is
    None, and :meth:`observe` fixes it from the search's first complete trial.

    Args:
        objectives: the search's objectives, in the ledger's order.
        overrides: reference values by objective name or attribute (see :func:`default_reference`).
        value: a value recorded earlier, shape ``(len(objectives),)``, objectives' units; None = compute.
    """

    def __init__(
        self,
        objectives: Sequence[Objective] = DEFAULT_OBJECTIVES,
        overrides: Mapping[str, float] | None = None,
        value: Sequence[float] | np.ndarray | None = None,
    ) -> None:
        self.objectives = tuple(objectives)
        self.overrides = dict(overrides or {})
        self.value: np.ndarray | None = None
        if value is not None:
            self._set(value)
        else:
            # a measured cost has no default yet: it is fixed once a trial completes (observe)
            with contextlib.suppress(ValueError):
                self._set(default_reference(self.objectives, self.overrides))

    @classmethod
    def fixed(cls, objectives: Sequence[Objective], value: Sequence[float] | np.ndarray) -> ReferencePoint:
        """A reference point with a given value (objectives' own units and directions)."""
        return cls(objectives, value=value)

    def observe(self, results: Iterable[TrialResult]) -> bool:
        """Fix the value from the first complete trial of ``results`` if it is not fixed yet.

        Returns:
            True when this call fixed it (the caller records it), else False.
        """
        if self.value is not None:
            return False
        first = next((r for r in results if r.ok), None)
        if first is None:
            return False
        self._set(default_reference(self.objectives, self.overrides, first=first))
        return True

    def _set(self, value: Sequence[float] | np.ndarray) -> None:
        array = np.asarray(value, dtype=float).reshape(-1)
        if array.shape != (len(self.objectives),) or not np.isfinite(array).all():
            raise ValueError(f"reference {array.tolist()}: needs {len(self.objectives)} finite values")
        self.value = array

    def label(self) -> str:
        """``score 0, params 10`` (for plots and tables); empty while not fixed."""
        if self.value is None:
            return ""
        return ", ".join(f"{o.name} {v:g}" for o, v in zip(self.objectives, self.value, strict=True))


def _signs(directions: Sequence[Direction]) -> np.ndarray:
    signs = []
    for k, direction in enumerate(directions):
        if direction == "maximize":
            signs.append(1.0)
        elif direction == "minimize":
            signs.append(-1.0)
        else:
            raise ValueError(f"directions[{k}]={direction!r}: must be 'maximize' or 'minimize'")
    return np.asarray(signs)


def hypervolume(
    points: np.ndarray | Sequence[Sequence[float]], directions: Sequence[Direction], reference: Sequence[float]
) -> float:
    """The hypervolume that ``points`` dominate with respect to ``reference``.

    A point contributes only where it is strictly better than the reference in every objective;
    points outside that box (or on its boundary) contribute nothing. Dominated and repeated points
    are allowed and change nothing.

    Args:
        points: shape ``(n, m)``; ``n`` may be 0. No NaN; ``±inf`` allowed (a point infinitely
            better than the reference in some objective gives an infinite hypervolume).
        directions: ``m`` directions, ``"maximize"`` or ``"minimize"``.
        reference: ``m`` finite values, in the objectives' own units and directions (e.g.
            ``[0.0, 10.0]`` for score ≥ 0 and params % ≤ 10).

    Returns:
        The hypervolume, ``>= 0``; ``0.0`` when no point lies inside the reference box.

    Raises:
        ValueError: shapes disagree, a direction is unknown, ``points`` has NaN or ``reference`` is
            not finite.
    """
    pts = np.asarray(points, dtype=float)
    if pts.ndim == 1 and pts.size == 0:
        pts = pts.reshape(0, len(directions))
    if pts.ndim != 2:
        raise ValueError(f"points has shape {pts.shape}: expected (n, m)")
    m = pts.shape[1]
    if len(directions) != m:
        raise ValueError(f"{len(directions)} directions for {m} objective columns")
    ref = np.asarray(reference, dtype=float).reshape(-1)
    if ref.shape != (m,):
        raise ValueError(f"reference has {ref.size} values for {m} objectives")
    if not np.isfinite(ref).all():
        raise ValueError(f"reference {ref.tolist()} must be finite")
    if np.isnan(pts).any():
        rows = np.flatnonzero(np.isnan(pts).any(axis=1)).tolist()
        raise ValueError(f"points has NaN in rows {rows[:10]}: drop or repair them first")

    signs = _signs(directions)
    gains = pts * signs - ref * signs  # maximised, reference at the origin
    gains = gains[(gains > 0).all(axis=1)]
    if gains.shape[0] == 0:
        return 0.0
    if np.isinf(gains).any():
        return math.inf
    if m == 1:
        return float(gains.max())
    y = torch.as_tensor(gains, dtype=torch.float64)
    partitioning = DominatedPartitioning(ref_point=torch.zeros(m, dtype=torch.float64), Y=y)
    return float(partitioning.compute_hypervolume().item())


def hypervolume_curve(
    trials: Sequence[TrialResult],
    objectives: Sequence[Objective] = DEFAULT_OBJECTIVES,
    reference: Sequence[float] | None = None,
) -> np.ndarray:
    """The hypervolume after each trial, in the order given.

    Args:
        trials: the trials in the order they finished (or were numbered).
        objectives: the objectives, read from each trial's attributes.
        reference: the reference point; :func:`default_reference` of ``objectives`` when None.

    Returns:
        Array of shape ``(len(trials),)``: entry ``i`` is the hypervolume of the complete trials among
        ``trials[: i + 1]``. A failed trial (or a complete one with a missing or NaN value) keeps the
        previous value; before the first complete trial the value is 0.
    """
    objectives = tuple(objectives)
    ref = default_reference(objectives) if reference is None else np.asarray(reference, dtype=float)
    directions = [o.direction for o in objectives]
    signs = _signs(directions)
    curve = np.zeros(len(trials))
    kept: list[list[float]] = []
    current = 0.0
    for i, trial in enumerate(trials):
        values = _values(trial, objectives)
        if values is not None:
            gain = np.asarray(values) * signs - ref * signs
            # only a point inside the box and not weakly dominated by a kept point can change the value
            inside = bool((gain > 0).all())
            dominated = any((np.asarray(k) * signs >= np.asarray(values) * signs).all() for k in kept)
            if inside and not dominated:
                kept.append(values)
                current = hypervolume(np.asarray(kept), directions, ref)
        curve[i] = current
    return curve


def _values(trial: TrialResult, objectives: Sequence[Objective]) -> list[float] | None:
    if not trial.ok:
        return None
    values = []
    for o in objectives:
        value = getattr(trial, o.attribute)
        try:
            value = float(value)
        except (TypeError, ValueError):
            return None
        if math.isnan(value):
            return None
        values.append(value)
    return values
