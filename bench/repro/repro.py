"""The whole reproduction of the paper's claims, as one resumable command.

1. search: the search of ``settings.json`` (low fidelity) in ``--search-dir`` (resumed if there);
2. pick: the best Pareto configuration under each parameter budget of ``pick_budgets_pct``, written
   to ``--out``/picks.json; once that file exists the search is neither run nor read again;
3. retrain + transfer: the picked configurations on every task of ``tasks`` (the search's own task
   included) at the full-fidelity budget, ``seeds`` seeds each, scored on each task's dev split;
4. baselines: every method of ``baselines`` on the same tasks, budget and seeds;
5. report: ``bench/repro/report.md``, ``report.json``, ``report.png`` from the results ledger.

Every finished run is a line of ``--out``/results.jsonl and is never run again: stop the command at
any time and start it again to continue. Runs go seed by seed (every method and task with seed 0
first), so that a partial ledger already holds a complete one-seed table.

    python bench/repro/repro.py --data-dir ../shared/data
    python bench/repro/repro.py --report-only      # redraw the report from the ledger
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _specs(settings: dict, methods: list, baselines: list) -> list:
    from autopeft.runs import RunSpec
    from autopeft.train.budget import Budget

    budget = Budget(**{**settings["budget"], "val_examples": Budget().val_examples})
    source = settings["search"]["task"]
    specs = []
    for seed in range(settings["seeds"]):
        for task in settings["tasks"]:
            for method in methods:
                specs.append(
                    RunSpec(settings["model"], task, method, seed, budget, role="autopeft", source_task=source)
                )
            for method in baselines:
                specs.append(RunSpec(settings["model"], task, method, seed, budget, role="baseline"))
    return specs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--settings", default=str(HERE / "settings.json"))
    p.add_argument("--data-dir", default=None, help="GLUE/SuperGLUE root (default $AUTOPEFT_DATA)")
    p.add_argument("--search-dir", default="runs/repro-search", help="the search's directory (resumed if there)")
    p.add_argument("--out", default=str(HERE / "results"), help="the results ledger's folder")
    p.add_argument(
        "--picks",
        default=None,
        help="the picks to retrain (a picks.json written by an earlier reproduction); default: OUT/picks.json, "
        "written from the search when absent",
    )
    p.add_argument("--report", default=str(HERE), help="where report.md/.json/.png go")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: one per core)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--report-only", action="store_true", help="write the report from the ledger; train nothing")
    p.add_argument("--plan", action="store_true", help="print the runs and what is finished; train nothing")
    args = p.parse_args(argv)

    from autopeft.cli import _quiet_libraries
    from autopeft.errors import UserError
    from autopeft.methods import Method, parse_baselines
    from autopeft.render import write_report
    from autopeft.runs import ResultsLedger, pick_from_search, run_specs
    from autopeft.study.search import SearchSettings, run_search
    from autopeft.train.budget import Budget

    _quiet_libraries()
    try:
        settings = json.loads(Path(args.settings).read_text())
        if not args.report_only:
            started = time.perf_counter()
            search = dict(settings["search"])
            search["budget"] = Budget(**search["budget"])
            search_settings = SearchSettings(
                model=settings["model"], data_dir=args.data_dir, threads=args.threads, device=args.device, **search
            )
            picks_path = Path(args.picks) if args.picks else Path(args.out) / "picks.json"
            if args.picks and not picks_path.is_file():
                raise UserError(
                    "--picks", args.picks, "is not a file", "give the picks.json of an earlier reproduction"
                )
            if picks_path.exists():
                # The search is finished once its picks are written; later sittings need only the
                # picks, so losing runs/ (not in git) cannot change which configurations are retrained.
                methods = [Method.from_dict(m) for m in json.loads(picks_path.read_text())["methods"]]
                print(f"== picks: {len(methods)} from {picks_path} (the search is not needed again)")
            else:
                print(f"== search: {search_settings.task} ({search_settings.optimizer}) in {args.search_dir}")
                run_search(search_settings, args.search_dir)
                methods = pick_from_search(args.search_dir, budgets=settings["pick_budgets_pct"])
                picks_path.parent.mkdir(parents=True, exist_ok=True)
                picks = {"search_dir": str(args.search_dir), "methods": [m.to_dict() for m in methods]}
                picks_path.write_text(json.dumps(picks, indent=1) + "\n")
            for method in methods:
                print(f"picked {method.name}: {method.describe()} ({method.source})")
            specs = _specs(settings, methods, parse_baselines(settings["baselines"]))
            if args.plan:
                done = ResultsLedger(args.out).completed_keys()
                print(f"{len(specs)} runs, {sum(s.key in done for s in specs)} finished")
                return 0
            print(f"== runs: {len(specs)} into {args.out}")
            run_specs(
                specs,
                args.out,
                data_dir=search_settings.data_dir,
                device=args.device,
                threads=args.threads,
                save_adapters=False,
            )
            print(f"== this sitting: {time.perf_counter() - started:.0f} s")
        # relative, so that the committed report does not name this machine's checkout
        report = write_report([os.path.relpath(args.out)], args.report)
        print(f"== report: {args.report}/report.md ({report.n_runs} runs, {report.seconds / 3600:.2f} h of training)")
    except UserError as exc:
        print(f"repro: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("repro: interrupted; run the same command to continue", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
