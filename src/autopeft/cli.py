"""Command-line interface: one subcommand per job.

Exit codes: 0 success; 2 bad input (the message names the field, the value and the fix; nothing is
written); 1 an unexpected error; 130 interrupted (a search can be resumed).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import statistics
import sys
from collections.abc import Callable, Sequence
from typing import Any

from autopeft.errors import SearchFailed, UserError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    # MLflow sets its own logger's level when imported, but not this child's, which tells at INFO how it
    # creates a tracking store (the search's "tracking:" line says where it is)
    for name in ("transformers", "peft", "optuna", "mlflow.store.db.utils"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()  # the bar of loading weights
    except ImportError:  # pragma: no cover - transformers is a dependency
        pass


def _int_or_all(text: str) -> int | None:
    """``--train-examples``, ``--probe-examples``: a whole number, or ``all`` (None)."""
    return None if text.strip().lower() == "all" else int(text)


def _on_off(text: str) -> bool:
    value = text.strip().lower()
    if value in ("on", "true", "yes", "1"):
        return True
    if value in ("off", "false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r}: use on or off")


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
    "probe_examples": (_int_or_all, "validation examples scored by evaluations before the last, or 'all'"),
    "eval_batch_size": (int, "evaluation batch size"),
    "group_by_length": (_on_off, "batch training examples of similar length (on/off)"),
    "standardise_targets": (_on_off, "regression tasks: train on standardised targets (on/off)"),
    "dtype": (str, "precision of the forward pass: fp32, bf16 (CUDA or CPU) or fp16 (CUDA) autocast"),
    "gradient_checkpointing": (_on_off, "recompute activations in the backward pass to save memory (on/off)"),
}


#: Budget defaults of full-fidelity runs (retrain, transfer, baselines): every training example, 3 epochs.
FULL_BUDGET = {"train_examples": None, "epochs": 3.0}
SPACE_HELP = (
    "paper: layer bits, serial and parallel adapter sizes, prefix length; extended: plus LoRA rank and (IA)3; "
    "lora: LoRA alone, a rank per group of layers, target matrices, alpha (see `autopeft space`)"
)


def _add_budget_args(
    p: argparse.ArgumentParser,
    overrides: dict[str, Any] | None = None,
    title: str = "trial budget (low fidelity by default)",
    skip: tuple[str, ...] = (),
) -> None:
    from autopeft.train.budget import Budget

    defaults = {**Budget().to_dict(), **(overrides or {})}
    g = p.add_argument_group(title)
    for name, (kind, help_text) in BUDGET_FLAGS.items():
        if name in skip:
            continue
        g.add_argument(
            "--" + name.replace("_", "-"),
            type=kind,
            default=defaults[name],
            help=f"{help_text} (default {defaults[name]})",
        )


def _add_report_to(p: argparse.ArgumentParser, default: str) -> None:
    """``--report-to``: its dest is the settings field, so the library's errors about it name the flag."""
    p.add_argument(
        "--report-to",
        default=None,
        help="experiment trackers that log every trial: mlflow, tensorboard (comma-separated), all or none "
        f"(default: {default}); needs pip install 'autopeft[tracking]'",
    )


def _budget_from(args: argparse.Namespace):
    from autopeft.train.budget import Budget

    return Budget(**{name: getattr(args, name) for name in BUDGET_FLAGS if hasattr(args, name)})


def _numbers(flag: str, text: str | None, kind: type[int] | type[float]) -> list[Any]:
    """``--pick 0,2`` (whole numbers) or ``--budgets 0.1,0.5`` (numbers) → a list; empty when not given."""
    if not text:
        return []
    try:
        return [kind(x) for x in text.split(",") if x.strip()]
    except ValueError:
        what, example = ("whole numbers", "0,2") if kind is int else ("numbers", "0.1,0.5,1.0")
        raise UserError(flag, text, f"must be comma-separated {what}", f"e.g. {flag} {example}") from None


def _task_list(flag: str, text: str | None) -> list[str]:
    tasks = [t.strip() for t in (text or "").split(",") if t.strip()]
    if text is not None and not tasks:
        raise UserError(flag, text, "names no task", f"e.g. {flag} glue/rte,glue/mrpc")
    return tasks


def _add_run_args(p: argparse.ArgumentParser, *, out_help: str) -> None:
    p.add_argument("--seeds", type=int, default=3, help="seeds per method and task: 0..N-1 (default 3)")
    p.add_argument("--out", default=None, help=out_help)
    p.add_argument("--data-dir", default=None, help="GLUE/SuperGLUE root (default: $AUTOPEFT_DATA, else the hub)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: one per core)")
    _add_budget_args(
        p,
        FULL_BUDGET,
        "training budget (full fidelity by default: all training examples, 3 epochs; scored on the dev split)",
        skip=("val_examples", "probe_examples"),
    )


def _add_ray_args(p: argparse.ArgumentParser) -> None:
    """``--workers``, ``--ray-address`` and the resources of a trial on Ray (dests: the settings' fields)."""
    g = p.add_argument_group("parallel trials on Ray (pip install 'autopeft[ray]')")
    g.add_argument(
        "--workers",
        type=int,
        default=None,
        help="trials at once (default 1: one at a time in this process; more: on a local Ray instance, "
        "or on the cluster of --ray-address)",
    )
    g.add_argument("--ray-address", default=None, help="join this Ray cluster (host:6379, from `ray start --head`)")
    g.add_argument("--cpus-per-trial", type=float, default=None, help="CPUs per trial on Ray (default 1)")
    g.add_argument(
        "--gpus-per-trial", type=float, default=None, help="GPUs per trial on Ray; 0.25 = four trials per GPU"
    )
    g.add_argument(
        "--threads-per-trial", type=int, default=None, help="torch threads in each Ray worker (default: its CPUs)"
    )


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
    p.add_argument("--space", default="paper", choices=sorted(SPACES), help=SPACE_HELP)
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
        choices=["classification", "regression", "causal_lm"],
        help="local files: classification (default), regression, or causal_lm (a JSONL file of "
        '"prompt"/"completion" or "text" fields; the loss is on the completion tokens only)',
    )
    p.add_argument(
        "--lm-score",
        default=None,
        type=lambda value: value.replace("-", "_"),
        choices=["loss", "exact_match"],
        help="causal_lm tasks: the search score, loss (default; validation loss per completion token, "
        "minimised: the objective becomes loss) or exact-match (of greedy completions, maximised)",
    )
    p.add_argument("--space", default="paper", choices=sorted(SPACES), help=SPACE_HELP)
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
        help="score,params (default) or score,params,time / score,params,memory; a causal_lm search scored "
        "by loss has loss in place of score (set for you)",
    )
    p.add_argument(
        "--reference",
        default=None,
        help="hypervolume reference, e.g. score=0.5,params=5 "
        "(default: score 0, params 10 %%, a cost 5x and a loss 2x the first trial's)",
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
    _add_ray_args(p)
    p.add_argument(
        "--early-stop",
        action="store_true",
        help="stop trials whose learning curve cannot reach the Pareto front at their parameter count "
        "(needs --evals-per-epoch >= 2)",
    )
    p.add_argument("--stop-margin", type=float, default=None, help="early stopping's margin in score units (0.028)")
    p.add_argument(
        "--search-lr",
        action="store_true",
        help="also search the learning rate: 0.1x, 0.3x, 1x and 3x --learning-rate (1e-4 ... 3e-3 by default)",
    )
    p.add_argument(
        "--warm-start",
        nargs="+",
        default=None,
        metavar="DIR",
        help="earlier searches (other tasks or models) whose Pareto configurations run first",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars or lines (the front is still printed)")
    _add_report_to(p, "none")
    _add_budget_args(p)

    p = sub.add_parser("resume", help="continue the search in DIR where it stopped")
    p.add_argument("dir")
    p.add_argument("--trials", type=int, default=None, help="raise the total number of trials")
    _add_ray_args(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars or lines (the front is still printed)")
    _add_report_to(p, "the search's own")

    p = sub.add_parser("show", help="print the trials and the Pareto front of the search in DIR")
    p.add_argument("dir")

    for name, help_text in (
        ("retrain", "retrain configurations of the search in DIR at full fidelity, with several seeds"),
        ("transfer", "retrain configurations of the search in DIR on other tasks"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("dir", help="a search directory")
        # dest: the field of pick_from_search it sets, so that the library's errors about it name --pick
        p.add_argument(
            "--pick", dest="pareto", metavar="PICK", help="Pareto indices as `autopeft show` lists them, e.g. 0,2"
        )
        p.add_argument("--trials", default=None, help="trial numbers, e.g. 12,40")
        p.add_argument(
            "--budgets",
            default=None,
            help="parameter budgets in %% of the backbone: the best Pareto configuration under each, e.g. 0.1,0.5,1",
        )
        p.add_argument(
            "--tasks",
            default=None,
            required=name == "transfer",
            help="tasks to train on, comma-separated (default for retrain: the search's task)",
        )
        p.add_argument("--no-save-adapters", action="store_true", help="do not save the trained adapters")
        _add_run_args(p, out_help=f"results folder (default DIR/{name})")

    p = sub.add_parser(
        "export",
        help="train one configuration of the search in DIR again and write it for deployment",
        description="The search keeps no weights: the configuration is trained again exactly as its trial was "
        "(the search's data, budget and the trial's seed), then written as an HF PEFT adapter (LoRA alone or "
        "(IA)3 alone; --merge: a whole model with the weights merged) or in autopeft's own format (any "
        "configuration).",
    )
    p.add_argument("dir", help="a search directory")
    p.add_argument("--pick", dest="pareto", type=int, default=None, help="Pareto index as `autopeft show` lists it")
    p.add_argument("--trial", type=int, default=None, help="or a trial number")
    p.add_argument("--format", default="peft", help="peft (HF PEFT's adapter format) or native (default peft)")
    p.add_argument("--merge", action="store_true", help="with --format peft: merge the adapter into the weights")
    p.add_argument("--out", required=True, help="a new (or empty) directory")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")

    p = sub.add_parser("baselines", help="run the standard PEFT methods and full fine-tuning on tasks")
    p.add_argument("--task", required=True, help="task(s), comma-separated: glue/rte,superglue/cb")
    p.add_argument("--model", default="minilm", help="minilm, a model directory or a hub name")
    p.add_argument("--methods", default="all", help="all, or some of: " + ",".join(_baseline_names()))
    p.add_argument("--list", action="store_true", help="print the baselines and their sizes for --model; run nothing")
    _add_run_args(p, out_help="results folder (required unless --list)")

    p = sub.add_parser(
        "reproduce",
        help="the whole reproduction (search, pick, retrain, transfer, baselines, report), resumable",
        description="Run (or continue) the reproduction that a settings file describes: the search, the picks, "
        "every method on every task with several seeds, and the report. Finished runs are never run again.",
    )
    p.add_argument(
        "--settings", required=True, help="the reproduction's settings (JSON), e.g. bench/repro/settings.json"
    )
    p.add_argument("--data-dir", default=None, help="GLUE/SuperGLUE root (default $AUTOPEFT_DATA)")
    p.add_argument("--search-dir", default="runs/repro-search", help="the search's directory (resumed if there)")
    p.add_argument("--out", default=None, help="the results ledger's folder (default: SETTINGS' folder/results)")
    p.add_argument(
        "--picks",
        default=None,
        help="the picks to retrain (a picks.json written by an earlier reproduction); default: OUT/picks.json, "
        "written from the search when absent",
    )
    p.add_argument("--report", default=None, help="where report.md/.json/.png go (default: SETTINGS' folder)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: one per core)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--report-only", action="store_true", help="write the report from the ledger; train nothing")
    p.add_argument("--plan", action="store_true", help="print the runs and what is finished; train nothing")

    p = sub.add_parser("report", help="tables and plots of the results of retrain, transfer and baselines")
    p.add_argument("dirs", nargs="+", help="results folders (each holds a results.jsonl)")
    p.add_argument("--out", required=True, help="where report.md, report.json and report.png go")
    return parser


def _baseline_names() -> list[str]:
    from autopeft.methods import BASELINES

    return list(BASELINES)


def cmd_space(args: argparse.Namespace) -> int:
    from autopeft.models import load_model_config
    from autopeft.modules.families import family_for, stack_sizes, unplaceable
    from autopeft.space import SPACES, LoraSpace, SearchSpace

    model_config = load_model_config(args.model, complete=False)
    space = SearchSpace.for_model_config(args.space, model_config)
    family = family_for(model_config.model_type)
    left_out = {m: why for m, why in unplaceable(model_config).items() if m in SPACES[args.space]}
    if args.json:
        extra = {"valid_configurations": space.size, "family": family.name, "left_out": left_out}
        print(json.dumps({**space.to_dict(), "dimensions": space.describe(), **extra}))
        return EXIT_OK
    print(
        f"space {space.name!r} for {args.model}: {space.num_layers} layers, hidden size {space.hidden_size}; "
        f"{len(space.dimensions)} dimensions, {space.size:,} valid configurations"
    )
    width = max(len(d["name"]) for d in space.describe())
    for row in space.describe():
        choices = "0/1" if row["kind"] == "bit" else "{" + ", ".join(map(str, row["choices"])) + "}"
        print(f"  {row['name']:<{width}}  {row['kind']:<7}  {choices:<44}  {row['meaning']}")
    sizes = stack_sizes(model_config)
    if isinstance(space, LoraSpace):
        print("0 = off. Invalid (never proposed): every rank 0, or no target on.")
        where = f"layers numbered from the embeddings up, {len(space.groups)} groups of up to {len(space.groups[0])}"
        where += f" (the encoder's layers are 0..{sizes[0] - 1}, the rest the decoder's)" if len(sizes) == 2 else ""
    else:
        print("0 = off. Invalid (never proposed): no layer on, or no module on.")
        if len(sizes) == 2:
            where = f"layer_0..layer_{sizes[0] - 1} are the encoder's layers, the rest the decoder's"
        else:
            where = "one layer bit per layer, from the embeddings up"
    notes = f" {family.notes}." if family.notes else ""
    print(f"family {family.name}: {where}.{notes}")
    for module, why in left_out.items():
        print(f"not in this space: {module} ({why})")
    return EXIT_OK


def _print_front(result: Any) -> None:
    from autopeft.render import pareto_table

    summary = result.summary
    print()
    print(f"Pareto front ({len(summary.front)} of {summary.n_total} trials; {summary.n_failed} failed):")
    print(pareto_table(summary.front))
    if result.majority is not None:
        print(f"(majority class on the validation split: {result.majority:.4f})")


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
    import dataclasses

    from autopeft import api
    from autopeft.study.settings import SearchSettings

    # the flags' dests are the settings' field names; a flag left unset takes the field's default
    fields = {f.name for f in dataclasses.fields(SearchSettings)} - {"text_columns", "reference", "budget"}
    given = {name: getattr(args, name) for name in fields if getattr(args, name, None) is not None}
    text_columns = None
    if args.text_columns:
        text_columns = tuple(c.strip() for c in args.text_columns.split(",") if c.strip())
    settings = SearchSettings(
        **given, text_columns=text_columns, reference=_parse_reference(args.reference), budget=_budget_from(args)
    )
    _print_front(api.run(settings, args.out, quiet=args.quiet))
    return EXIT_OK


def cmd_resume(args: argparse.Namespace) -> int:
    from autopeft import api

    execution = {
        name: getattr(args, name)
        for name in ("workers", "ray_address", "cpus_per_trial", "gpus_per_trial", "threads_per_trial")
        if getattr(args, name) is not None
    }
    _print_front(api.resume(args.dir, trials=args.trials, report_to=args.report_to, quiet=args.quiet, **execution))
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from autopeft import api
    from autopeft.analysis.hypervolume import ReferencePoint
    from autopeft.render import format_summary, trials_table
    from autopeft.study.search import refresh_reports

    if refresh_reports(args.dir):
        print(f"(reports in {args.dir} rewritten: they did not show every trial of the ledger)")
    result = api.load(args.dir)
    settings, results = result.settings, list(result.trials)
    print(
        f"search of {settings.model} on {settings.task} ({settings.optimizer}, {settings.space} space), "
        f"{len(results)} of {settings.trials} trials finished"
    )
    print(trials_table(results))
    print()
    print(format_summary(result.summary))
    if result.reference is None:
        print("hypervolume: none yet (no trial has completed)")
    else:
        label = ReferencePoint.fixed(settings.objective_list, result.reference).label()
        print(f"hypervolume: {result.hypervolume:.4f} (reference: {label})")
    asked = sorted({r.proposal_seconds for r in results if r.proposal_seconds is not None})
    if asked:
        print(
            f"proposal time: median {statistics.median(asked):.1f} s, max {asked[-1]:.1f} s "
            f"({len(asked)} proposals by {settings.optimizer})"
        )
    return EXIT_OK


def _seeds(n: int) -> list[int]:
    if isinstance(n, bool) or n < 1:
        raise UserError("--seeds", n, "must be at least 1", "use e.g. --seeds 3")
    return list(range(n))


def _finish_runs(outcome: Any, out: Any) -> int:
    from autopeft.runs.ledger import ResultsLedger

    ledger = ResultsLedger(out)
    print(f"results: {ledger.path} ({len(outcome.records)} runs recorded); `autopeft report {out} --out DIR`")
    return EXIT_ERROR if outcome.failed else EXIT_OK


def cmd_retrain(args: argparse.Namespace) -> int:
    from pathlib import Path

    from autopeft.runs import RunSpec, pick_from_search, run_specs
    from autopeft.study.settings import load_settings

    settings = load_settings(args.dir)
    methods = pick_from_search(
        args.dir,
        pareto=_numbers("--pick", args.pareto, int),
        trials=_numbers("--trials", args.trials, int),
        budgets=_numbers("--budgets", args.budgets, float),
    )
    tasks = _task_list("--tasks", args.tasks) or [settings.task]
    if settings.task_kind == "causal_lm" and settings.task in tasks:
        raise UserError(
            "--tasks",
            settings.task,
            "is the causal-LM file the search ran on: a run reports a score on the task's dev split, which a "
            "single file has not",
            f"export a configuration with `autopeft export {args.dir} --pick N`, or pass other tasks with --tasks",
        )
    budget = _budget_from(args)
    seeds = _seeds(args.seeds)
    out = Path(args.out or Path(args.dir) / args.command)
    specs = [
        RunSpec(
            model=settings.model,
            task=task,
            method=method,
            seed=seed,
            budget=budget,
            role="autopeft",
            source_task=settings.task,
        )
        for task in tasks
        for method in methods
        for seed in seeds
    ]
    for method in methods:
        print(f"{method.name}: {method.describe()}  ({method.source})")
    outcome = run_specs(
        specs,
        out,
        data_dir=args.data_dir or settings.data_dir,
        device=args.device,
        threads=args.threads,
        save_adapters=not args.no_save_adapters,
    )
    return _finish_runs(outcome, out)


def cmd_baselines(args: argparse.Namespace) -> int:
    from pathlib import Path

    from autopeft.methods import baseline_table, parse_baselines
    from autopeft.runs import RunSpec, run_specs

    methods = parse_baselines(args.methods)
    if args.list:
        from autopeft.build import build_method
        from autopeft.models import BaseModel
        from autopeft.modules.families import hidden_size

        base = BaseModel.load(args.model)
        hidden = hidden_size(base.config)
        print(f"baselines for {args.model} (hidden size {hidden}); parameters measured on the built model")
        for row in baseline_table(hidden):
            if row["name"] in {m.name for m in methods}:
                built = build_method(base.backbone, parse_baselines(row["name"])[0], num_labels=2, seed=0)
                built.release()
                pct = built.counts.pct
                trains, lr = row["trains"], row["learning_rate"]
                print(f"{row['name']:<9} {row['label']:<26} {pct:8.3f} %  {trains:<62} lr {lr:<9} {row['source']}")
        return EXIT_OK
    if not args.out:
        raise UserError(
            "--out", None, "is required to run baselines", "give a results folder, e.g. --out runs/baselines"
        )
    budget = _budget_from(args)
    specs = [
        RunSpec(model=args.model, task=task, method=method, seed=seed, budget=budget, role="baseline")
        for task in _task_list("--task", args.task)
        for method in methods
        for seed in _seeds(args.seeds)
    ]
    outcome = run_specs(
        specs, args.out, data_dir=args.data_dir, device=args.device, threads=args.threads, save_adapters=False
    )
    return _finish_runs(outcome, Path(args.out))


def cmd_report(args: argparse.Namespace) -> int:
    from autopeft.render import markdown_table, write_report

    report = write_report(args.dirs, args.out)
    print(markdown_table(report))
    print(f"\nwritten: {args.out}/report.md, report.json, report.png")
    return EXIT_OK


def cmd_reproduce(args: argparse.Namespace) -> int:
    from pathlib import Path

    from autopeft.runs.reproduce import Reproduction, reproduce

    home = Path(args.settings).parent
    reproduce(
        Reproduction.load(args.settings),
        out=args.out or home / "results",
        report_dir=args.report or home,
        search_dir=args.search_dir,
        picks=args.picks,
        data_dir=args.data_dir,
        threads=args.threads,
        device=args.device,
        report_only=args.report_only,
        plan_only=args.plan,
    )
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from autopeft.exporting import check_new_directory, export_search

    out = Path(args.out)
    check_new_directory(out, "out")
    done = export_search(
        args.dir, out, pareto=args.pareto, trial=args.trial, fmt=args.format, merge=args.merge, device=args.device
    )
    how = {
        ("peft", False): "PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(MODEL, "
        "num_labels=N), OUT)",
        ("peft", True): "AutoModelForSequenceClassification.from_pretrained(OUT)",
        ("native", False): "autopeft.build.load_saved(autopeft.models.BaseModel.load(MODEL).backbone, OUT)",
    }[(done.format, done.merged)]
    print(f"written to {done.out}; load it with {how}")
    return EXIT_OK


COMMANDS = {
    "space": cmd_space,
    "search": cmd_search,
    "resume": cmd_resume,
    "show": cmd_show,
    "retrain": cmd_retrain,
    "transfer": cmd_retrain,
    "export": cmd_export,
    "baselines": cmd_baselines,
    "report": cmd_report,
    "reproduce": cmd_reproduce,
}


#: A setting a library message names in backticks: `` `name` `` or `` `name=value` `` (see autopeft.errors).
_NAMED_SETTING = re.compile(r"`(\w+)(?:=([^`]*))?`")


def _flags_by_field(parser: argparse.ArgumentParser, command: str) -> dict[str, str]:
    """The field each flag sets → that flag (``train_examples`` → ``--train-examples``): the flags of
    ``command`` first, then those of the other subcommands (a setting ``resume`` reads from a search's
    settings is shown as the flag of ``search`` that set it)."""
    # argparse offers no public list of a parser's options; its actions are where dest and flag meet
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    flags: dict[str, str] = {}
    for name in (command, *commands.choices):
        for action in commands.choices[name]._actions:
            if action.option_strings and action.dest != "help":
                flags.setdefault(action.dest, max(action.option_strings, key=len))
    return flags


def _as_flags(exc: UserError, flags: dict[str, str]) -> UserError:
    """``exc`` as a user of the command line reads it: each setting named by the flag that set it."""

    def flag(match: re.Match[str]) -> str:
        name, value = match.groups()
        if name not in flags:
            return match.group(0)
        return flags[name] if value is None else f"{flags[name]} {value}"

    return UserError(
        flags.get(exc.field, exc.field),
        exc.value,
        _NAMED_SETTING.sub(flag, exc.problem),
        _NAMED_SETTING.sub(flag, exc.fix),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _quiet_libraries()
    try:
        return COMMANDS[args.command](args)
    except UserError as exc:
        print(f"autopeft: error: {_as_flags(exc, _flags_by_field(parser, args.command))}", file=sys.stderr)
        return EXIT_USAGE
    except SearchFailed as exc:
        print(f"autopeft: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("autopeft: interrupted; `autopeft resume DIR` continues a search", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
