"""Command-line interface: one subcommand per job.

Exit codes: 0 success; 2 bad input (the message names the field, the value and the fix; nothing is
written); 1 an unexpected error; 130 interrupted (a search can be resumed).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
from collections.abc import Callable, Sequence
from typing import Any

from autopeft.errors import UserError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    for name in ("transformers", "adapters", "optuna"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import transformers

        transformers.logging.set_verbosity_error()
    except ImportError:  # pragma: no cover - transformers is a dependency
        pass


def _int_or_all(text: str) -> int | None:
    """``--train-examples``: a whole number, or ``all`` (every training example left after validation)."""
    return None if text.strip().lower() == "all" else int(text)


#: ``--flag`` type and help for each :class:`~autopeft.train.budget.Budget` field (defaults come from Budget).
BUDGET_FLAGS: dict[str, tuple[Callable[[str], Any], str]] = {
    "train_examples": (_int_or_all, "training examples per trial, or 'all'"),
    "val_examples": (int, "examples carved from the training split to score the search"),
    "epochs": (float, "passes over the training examples"),
    "max_steps": (int, "optimiser steps (overrides --epochs)"),
    "max_length": (int, "maximum tokens per example"),
    "batch_size": (int, "training batch size"),
    "learning_rate": (float, "peak AdamW learning rate"),
    "warmup_ratio": (float, "fraction of steps spent warming up"),
    "weight_decay": (float, "AdamW weight decay"),
    "evals_per_epoch": (int, "validation evaluations per epoch"),
    "eval_batch_size": (int, "evaluation batch size"),
}


def _add_budget_args(p: argparse.ArgumentParser) -> None:
    from autopeft.train.budget import Budget

    defaults = Budget().to_dict()
    g = p.add_argument_group("trial budget (low fidelity by default)")
    for name, (kind, help_text) in BUDGET_FLAGS.items():
        g.add_argument(
            "--" + name.replace("_", "-"),
            type=kind,
            default=defaults[name],
            help=f"{help_text} (default {defaults[name]})",
        )


def _budget_from(args: argparse.Namespace):
    from autopeft.train.budget import Budget

    return Budget(**{name: getattr(args, name) for name in BUDGET_FLAGS})


def build_parser() -> argparse.ArgumentParser:
    from autopeft import __version__
    from autopeft.optim import OPTIMISERS
    from autopeft.space import SPACES

    parser = argparse.ArgumentParser(
        prog="autopeft", description="Search PEFT configurations: task score up, trainable parameters down."
    )
    parser.add_argument("--version", action="version", version=f"autopeft {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("space", help="print the search space for a model")
    p.add_argument("--model", default="minilm", help="minilm, a model directory or a hub name")
    p.add_argument("--space", default="paper", choices=sorted(SPACES))
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = sub.add_parser("search", help="run (or continue) a multi-objective search")
    p.add_argument("--model", default="minilm", help="minilm, a model directory or a hub name")
    p.add_argument("--task", required=True, help="glue/sst2, superglue/cb, ... or a CSV/TSV/JSONL file")
    p.add_argument("--out", required=True, help="search directory (ledger, reports)")
    p.add_argument(
        "--data-dir",
        default=None,
        help="GLUE/SuperGLUE root (default: $AUTOPEFT_DATA, else the Hugging Face hub)",
    )
    p.add_argument("--text-columns", default=None, help="local files: one or two comma-separated columns")
    p.add_argument("--label-column", default=None, help="local files: the label column")
    p.add_argument(
        "--task-kind",
        default=None,
        choices=["classification", "regression"],
        help="local files: classification (default) or regression",
    )
    p.add_argument("--space", default="paper", choices=sorted(SPACES))
    p.add_argument(
        "--optimizer",
        default=OPTIMISERS[0],
        choices=list(OPTIMISERS),
        help=f"default {OPTIMISERS[0]} (the paper's SAAS GP, NUTS); saas-map fits the SAAS prior by MAP (~7x cheaper); "
        "gp is a standard GP",
    )
    p.add_argument(
        "--init-trials",
        type=int,
        default=None,
        help="model-based optimisers: random trials before the model proposes (default 10)",
    )
    p.add_argument("--batch", type=int, default=1, help="configurations proposed at once (default 1)")
    p.add_argument("--trials", type=int, default=20, help="trials to finish in total")
    p.add_argument(
        "--objectives",
        default="score,params",
        help="score,params (default) or score,params,time / score,params,memory",
    )
    p.add_argument(
        "--reference",
        default=None,
        help="hypervolume reference, e.g. score=0.5,params=5 "
        "(default: score 0, params 10 %%, a cost 5x the first trial's)",
    )
    p.add_argument("--seed", type=int, default=0, help="seeds the optimiser, the data split and every trial")
    p.add_argument(
        "--optimizer-seed",
        type=int,
        default=None,
        help="seeds the optimiser alone (default: --seed): repeats a search on the same data and trial seeds",
    )
    p.add_argument("--storage", default=None, help="Optuna storage URL (default: sqlite file in --out)")
    p.add_argument("--study-name", default=None, help="study name in --storage (default: the --out folder's name)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: one per core)")
    _add_budget_args(p)

    p = sub.add_parser("resume", help="continue the search in DIR where it stopped")
    p.add_argument("dir")
    p.add_argument("--trials", type=int, default=None, help="raise the total number of trials")

    p = sub.add_parser("show", help="print the trials and the Pareto front of the search in DIR")
    p.add_argument("dir")
    return parser


def cmd_space(args: argparse.Namespace) -> int:
    from autopeft.models import load_model_config
    from autopeft.space import SearchSpace

    space = SearchSpace.for_model_config(args.space, load_model_config(args.model))
    if args.json:
        print(json.dumps({**space.to_dict(), "dimensions": space.describe(), "valid_configurations": space.size}))
        return EXIT_OK
    print(
        f"space {space.name!r} for {args.model}: {space.num_layers} layers, hidden size {space.hidden_size}; "
        f"{len(space.dimensions)} dimensions, {space.size:,} valid configurations"
    )
    width = max(len(d["name"]) for d in space.describe())
    for row in space.describe():
        choices = "0/1" if row["kind"] == "bit" else "{" + ", ".join(map(str, row["choices"])) + "}"
        print(f"  {row['name']:<{width}}  {row['kind']:<7}  {choices:<44}  {row['meaning']}")
    print("0 = off. Invalid (never proposed): no layer on, or no module on.")
    return EXIT_OK


def _run(settings, out_dir) -> int:
    from autopeft.analysis import pareto_table, summarise
    from autopeft.study.search import run_search

    outcome = run_search(settings, out_dir)
    summary = summarise(outcome.results)
    print()
    print(f"Pareto front ({len(summary.front)} of {summary.n_total} trials; {summary.n_failed} failed):")
    print(pareto_table(summary.front))
    if outcome.majority is not None:
        print(f"(majority class on the validation split: {outcome.majority:.4f})")
    return EXIT_OK


def _parse_reference(text: str | None) -> dict[str, float] | None:
    """``score=0.5,params=5`` → ``{"score": 0.5, "params": 5.0}``."""
    if not text:
        return None
    out: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise UserError(
                "--reference", text, f"{part!r} is not NAME=NUMBER", "use e.g. --reference score=0.5,params=5"
            ) from None
    return out


def cmd_search(args: argparse.Namespace) -> int:
    from autopeft.study.search import SearchSettings

    text_columns = None
    if args.text_columns:
        text_columns = tuple(c.strip() for c in args.text_columns.split(",") if c.strip())
    settings = SearchSettings(
        model=args.model,
        task=args.task,
        data_dir=args.data_dir,
        text_columns=text_columns,
        label_column=args.label_column,
        task_kind=args.task_kind,
        space=args.space,
        optimizer=args.optimizer,
        init_trials=args.init_trials,
        batch=args.batch,
        trials=args.trials,
        objectives=args.objectives,
        reference=_parse_reference(args.reference),
        seed=args.seed,
        optimizer_seed=args.optimizer_seed,
        budget=_budget_from(args),
        storage=args.storage,
        study_name=args.study_name,
        device=args.device,
        threads=args.threads,
    )
    return _run(settings, args.out)


def cmd_resume(args: argparse.Namespace) -> int:
    import dataclasses

    from autopeft.study.search import load_settings

    settings = load_settings(args.dir)
    if args.trials is not None:
        settings = dataclasses.replace(settings, trials=args.trials)
    return _run(settings, args.dir)


def cmd_show(args: argparse.Namespace) -> int:
    from autopeft.analysis import format_summary, summarise, trials_table
    from autopeft.analysis.hypervolume import hypervolume_curve
    from autopeft.study.search import open_search

    opened = open_search(args.dir)
    settings, results, reference = opened.settings, opened.results, opened.reference
    objectives = settings.objective_list
    print(
        f"search of {settings.model} on {settings.task} ({settings.optimizer}, {settings.space} space), "
        f"{len(results)} of {settings.trials} trials finished"
    )
    print(trials_table(results))
    print()
    print(format_summary(summarise(results, objectives)))
    if reference is None:
        print("hypervolume: none yet (no trial has completed)")
    else:
        hv = float(hypervolume_curve(results, objectives, reference)[-1]) if results else 0.0
        label = ", ".join(f"{o.name} {v:g}" for o, v in zip(objectives, reference, strict=True))
        print(f"hypervolume: {hv:.4f} (reference: {label})")
    asked = sorted({r.proposal_seconds for r in results if r.proposal_seconds is not None})
    if asked:
        print(
            f"proposal time: median {statistics.median(asked):.1f} s, max {asked[-1]:.1f} s "
            f"({len(asked)} proposals by {settings.optimizer})"
        )
    return EXIT_OK


COMMANDS = {"space": cmd_space, "search": cmd_search, "resume": cmd_resume, "show": cmd_show}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _quiet_libraries()
    try:
        return COMMANDS[args.command](args)
    except UserError as exc:
        print(f"autopeft: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("autopeft: interrupted; `autopeft resume DIR` continues a search", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
