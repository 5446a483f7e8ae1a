"""Shared builders for the analysis tests: small hand-made trial records, no training."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from autopeft.records.trial import TrialResult


def _config(layers_on: tuple[int, ...] = (0, 1), n_layers: int = 6, **modules: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"layers": [i in layers_on for i in range(n_layers)]}
    config.update({"serial": 0, "parallel": 0, "prefix": 0})
    config.update(modules)
    return config


MakeTrial = Callable[..., TrialResult]


@pytest.fixture
def make_trial() -> MakeTrial:
    """Build a TrialResult: ``make_trial(number, score, params_pct, **overrides)``; score None = failed."""

    def make(number: int, score: float | None, params_pct: float = 1.0, **overrides: Any) -> TrialResult:
        failed = score is None
        fields: dict[str, Any] = {
            "config": _config(serial=12),
            "status": "failed" if failed else "complete",
            "score": score,
            "metric": "accuracy",
            "metrics": {} if failed else {"accuracy": score, "f1": (score or 0.0) - 0.01},
            "peft_params": 0 if failed else round(params_pct * 1000),
            "peft_params_train": 0 if failed else round(params_pct * 1000) + 7,
            "head_params": 148_610,
            "backbone_params": 100_000,
            "params_pct": 0.0 if failed else params_pct,
            "seed": 7,
            "train_seconds": 12.5,
            "eval_seconds": 1.5,
            "tokens_per_second": 2_600.0,
            "peak_memory_mb": 900.0,
            "error": "TrialError: loss is NaN at step 17\nTraceback ..." if failed else None,
            "number": number,
        }
        fields.update(overrides)
        return TrialResult(**fields)

    return make


@pytest.fixture
def study(make_trial: MakeTrial) -> list[TrialResult]:
    """Seven trials: four on the front (2, 0, 5, 3 by params %), two dominated, one failed."""
    return [
        make_trial(0, 0.80, 0.50, config=_config((0, 1, 2, 5), serial=12, prefix=3)),
        make_trial(1, 0.78, 0.60),  # dominated by 0
        make_trial(2, 0.75, 0.05, config=_config((5,), prefix=1)),
        make_trial(3, 0.84, 4.00, config=_config((3, 4, 5), parallel=96, lora=8, ia3=True)),
        make_trial(4, None),
        make_trial(5, 0.82, 1.00),
        make_trial(6, 0.82, 2.00),  # dominated by 5
    ]
