"""Every optimiser on the ``lora`` space (a rank per group, target bits, alpha): distinct, valid proposals
that avoid told ones; the model-based ones use the space's validity rule and a parameter function.

No training: results come from a synthetic, deterministic objective."""

from __future__ import annotations

import pytest
from transformers import LlamaConfig

from autopeft.optim import OPTIMISERS, make_optimiser
from autopeft.records.trial import TrialResult
from autopeft.space import LoraSpace, PeftConfig, SearchSpace

#: 4 layers (groups of 1), ranks up to 4, 7 targets: (4^4 - 1)(2^7 - 1) 4 configurations
CONFIG = LlamaConfig(num_hidden_layers=4, hidden_size=16, num_attention_heads=2, intermediate_size=32)


def _params(config: PeftConfig) -> float:
    options = config.options_of("lora")
    return sum(options["ranks"]) * len(options["targets"]) / 100.0


def _result(config: PeftConfig) -> TrialResult:
    options = config.options_of("lora")
    score = 0.5 + 0.02 * sum(r > 0 for r in options["ranks"]) + 0.01 * len(options["targets"])
    return TrialResult(
        config=config.to_dict(), status="complete", score=score, metric="accuracy", params_pct=_params(config)
    )


# the NUTS-fitted SAAS GP costs tens of seconds per ask: saas-map checks the same code path
@pytest.mark.parametrize("name", [n for n in OPTIMISERS if n != "saas"])
def test_proposals_are_distinct_valid_members_of_the_lora_space(name):
    space = SearchSpace.for_model_config("lora", CONFIG)
    assert isinstance(space, LoraSpace)
    kwargs = {"init_trials": 3, "param_fn": _params} if name in ("gp", "saas-map") else {}
    opt = make_optimiser(name, space, seed=0, reference=(0.0, 10.0), **kwargs)
    proposed: list[PeftConfig] = []
    for _ in range(3):
        batch = opt.ask(2)
        assert len(batch) == 2
        proposed += batch
        opt.tell([_result(c) for c in batch])
    for config in proposed:
        space.check(config)
    assert len({c.key() for c in proposed}) == len(proposed)
