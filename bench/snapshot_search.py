"""Snapshot of a seeded search, to check that a refactor changes no behaviour (compare two snapshots).

Runs a 6-trial ``random`` search over the ``extended`` space on a tiny random BERT (seeded, one thread)
with the toy task of the tests, and writes every trial's configuration, status, score and measured
parameters plus the Pareto front as JSON. Two checkouts on one machine give byte-identical files
when their behaviour is the same:

    PYTHONPATH=src .venv/bin/python bench/snapshot_search.py /tmp/after.json
    (cd ../old-checkout && PYTHONPATH=src ../main/.venv/bin/python ../main/bench/snapshot_search.py /tmp/before.json)
    cmp /tmp/before.json /tmp/after.json
"""

from __future__ import annotations

import csv
import json
import sys
import tempfile
from pathlib import Path

import torch

TESTS = Path(__file__).resolve().parents[1] / "tests"


def main(out: str) -> None:
    sys.path.insert(0, str(TESTS))
    from transformers import AutoTokenizer

    from autopeft.models import BaseModel, resolve_model
    from autopeft.study.search import run_search
    from autopeft.study.settings import SearchSettings
    from autopeft.train.budget import Budget
    from conftest import tiny_config, toy_task

    torch.set_num_threads(1)
    torch.manual_seed(0)
    base = BaseModel.from_config(tiny_config("bert"), AutoTokenizer.from_pretrained(resolve_model("minilm")))
    work = Path(tempfile.mkdtemp())
    task = toy_task()
    with open(work / "toy.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["sentence", "label"])
        writer.writerows([text, int(label)] for text, label in zip(task.train.text_a, task.train.labels, strict=True))
    budget = Budget(train_examples=120, val_examples=40, epochs=1, max_length=16, batch_size=16, learning_rate=1e-2)
    settings = SearchSettings(
        model="tiny",
        task=str(work / "toy.csv"),
        text_columns=("sentence",),
        label_column="label",
        optimizer="random",
        trials=6,
        seed=0,
        budget=budget,
        space="extended",
    )
    outcome = run_search(settings, work / "search", echo=lambda line: None, base=base)
    trials = [
        {"n": r.number, "status": r.status, "config": r.config, "score": r.score, "params": r.peft_params}
        for r in outcome.results
    ]
    front = [
        (t["number"], t["score"], t["peft_params"])
        for t in json.loads((work / "search" / "pareto.json").read_text())["trials"]
    ]
    Path(out).write_text(json.dumps({"trials": trials, "front": front}, indent=1, sort_keys=True) + "\n")
    print(f"{len(trials)} trials, front {front} -> {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "snapshot.json")
