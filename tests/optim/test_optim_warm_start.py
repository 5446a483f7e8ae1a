"""The warm-start wrapper: the given configurations first, skipping those told or pending, then the
wrapped optimiser, which never repeats one of them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autopeft.optim import make_optimiser
from autopeft.optim.warm_start import WarmStart
from autopeft.records.trial import TrialResult
from autopeft.space import PeftConfig, SearchSpace

SPACE = SearchSpace.named("paper", 3, 32)


def _configs(n: int, seed: int = 0) -> list[PeftConfig]:
    rng = np.random.default_rng(seed)
    out: dict[str, PeftConfig] = {}
    while len(out) < n:
        config = SPACE.sample(rng)
        out.setdefault(config.key(), config)
    return list(out.values())


def _result(config: PeftConfig, score: float) -> TrialResult:
    return TrialResult(config=config.to_dict(), status="complete", score=score, metric="accuracy", params_pct=1.0)


def _inner(name: str = "random"):
    return make_optimiser(name, SPACE, seed=0, reference=[0.0, 10.0])


def test_fallbacks_are_the_wrapped_optimisers():
    inner = _inner()
    opt = WarmStart(inner, _configs(2))
    opt.tell([_result(c, 0.5) for c in opt.ask(4)])
    inner._fallbacks = 3  # as if its sampler had given up three times
    assert opt.fallbacks == 3


def test_first_configurations_come_first_in_order():
    first = _configs(3)
    opt = WarmStart(_inner(), first)
    asked = opt.ask(2)
    assert asked == first[:2]
    more = opt.ask(3, pending=asked)
    assert more[0] == first[2] and len(more) == 3
    assert len({c.key() for c in [*asked, *more]}) == 5


def test_told_and_pending_warm_configurations_are_skipped():
    first = _configs(3)
    opt = WarmStart(_inner(), first)
    opt.tell([_result(first[0], 0.7)])  # a resumed search replays its ledger
    assert opt.ask(1, pending=[first[1]]) == [first[2]]


@pytest.mark.parametrize("inner", ["random", "tpe", "gp"])
def test_inner_optimiser_learns_from_warm_trials_and_never_repeats_them(inner):
    first = _configs(4, seed=1)
    opt = WarmStart(_inner(inner), first)
    seen = []
    for step in range(7):
        (config,) = opt.ask(1)
        seen.append(config.key())
        opt.tell([_result(config, 0.5 + 0.01 * step)])
    assert seen[:4] == [c.key() for c in first]
    assert len(set(seen)) == 7
    assert all(SPACE.contains(PeftConfig.from_dict(json.loads(k))) for k in seen)


def test_same_seed_same_proposals():
    def run() -> list[str]:
        opt = WarmStart(_inner("tpe"), _configs(2))
        keys = []
        for _ in range(4):
            (config,) = opt.ask(1)
            keys.append(config.key())
            opt.tell([_result(config, 0.6)])
        return keys

    assert run() == run()


def test_refuses_configurations_outside_the_space_or_repeated():
    config = _configs(1)[0]
    with pytest.raises(ValueError, match="repeat"):
        WarmStart(_inner(), [config, config])
    other = PeftConfig(layers=(True,) * 5, serial=1)
    with pytest.raises(ValueError, match="not in the space"):
        WarmStart(_inner(), [other])
