"""Tasks: the registry of known GLUE / SuperGLUE tasks, data loading, train/val splitting and metrics.

>>> data = load_task("glue/sst2", "../shared/data")  # or a hub load when no data dir is given
>>> train, val = split_train_val(data.train, train_examples=2000, val_examples=500, seed=0, stratify=True)
>>> compute_metrics(data.spec, predictions, val.labels)["accuracy"]
"""

from autopeft.tasks.loading import DATA_ENV, load_task, resolve_data_dir
from autopeft.tasks.metrics import compute_metrics, constant_score, majority_score
from autopeft.tasks.registry import KNOWN_TASKS
from autopeft.tasks.spec import Split, TaskData, TaskSpec
from autopeft.tasks.splitting import split_train_val, subsample

__all__ = [
    "DATA_ENV",
    "KNOWN_TASKS",
    "Split",
    "TaskData",
    "TaskSpec",
    "compute_metrics",
    "constant_score",
    "load_task",
    "majority_score",
    "resolve_data_dir",
    "split_train_val",
    "subsample",
]
