"""Full-fidelity runs of chosen methods: retrain AutoPEFT configurations, transfer them, run baselines.

Every finished run is one line of a results ledger (``results.jsonl``); a rerun of the same command
skips the runs already there, so long jobs can stop and resume at will. Reports are computed from
ledgers alone.
"""

from autopeft.runs.ledger import RESULTS_FILE, ResultsLedger, RunRecord, RunSpec
from autopeft.runs.runner import run_specs
from autopeft.runs.select import pick_from_search

__all__ = [
    "RESULTS_FILE",
    "ResultsLedger",
    "RunRecord",
    "RunSpec",
    "pick_from_search",
    "run_specs",
]
