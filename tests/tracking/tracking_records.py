"""Trial records made up for the trackers' tests: no training, so each test takes a moment."""

from __future__ import annotations

from autopeft.records.trial import Evaluation, TrialResult


def made_up_trial(number: int, status: str = "complete", score: float = 0.7) -> TrialResult:
    """Trial ``number`` of a 3-layer model: two evaluations, a serial adapter of size 4 in layers 0 and 2."""
    curve = (
        Evaluation(step=5, epoch=0.5, score=score - 0.1, metrics={"accuracy": score - 0.1, "f1": 0.5}),
        Evaluation(step=10, epoch=1.0, score=score, metrics={"accuracy": score, "f1": 0.6}),
    )
    common = dict(
        config={"layers": [True, False, True], "serial": 4, "parallel": 0, "prefix": 0},
        metric="accuracy",
        peft_params=300 + number,
        peft_params_train=300 + number,
        head_params=100,
        backbone_params=100_000,
        params_pct=(300 + number) / 1000,
        seed=0,
        train_seconds=1.5,
        eval_seconds=0.25,
        tokens_per_second=1000.0,
        peak_memory_mb=512.0,
        number=number,
    )
    if status == "failed":
        return TrialResult(status="failed", score=None, error="RuntimeError: loss is NaN\nmore", **common)
    if status == "stopped":
        return TrialResult(
            status="stopped", score=score - 0.1, curve=curve[:1], predicted_score=score, stopped_at=0.5, **common
        )
    return TrialResult(status="complete", score=score, metrics=dict(curve[-1].metrics), curve=curve, **common)
