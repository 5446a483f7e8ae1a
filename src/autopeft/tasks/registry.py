"""The known GLUE and SuperGLUE tasks: their specs, local file layouts and hub sources.

Every known task has one :class:`TaskSpec` whatever the data source. The local layouts (GLUE's
``download_glue_data.py`` output, SuperGLUE's official jsonl) and the Hugging Face hub copies name
their columns differently and the hub stores labels as integers; :class:`_KnownTask` records how
each source maps onto the spec, so a model trained from one source scores the same on the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from autopeft.tasks.spec import TaskSpec


@dataclass(frozen=True)
class _LocalLayout:
    """Where a known task lies under a data dir and how its files are laid out.

    Attributes:
        subdir: relative to the data dir, e.g. ``"glue/SST-2"``.
        train_file, dev_file: file names inside ``subdir``.
        fmt: ``"tsv"`` (GLUE; read with quoting disabled) or ``"jsonl"`` (SuperGLUE).
        header: column names to use when the file has no header row (CoLA); ``None`` = the file's
            first row is its header.
        text_columns: the file's own names of the spec's text columns, in the same order.
        label_column: the file's own name of the label column.
    """

    subdir: str
    train_file: str
    dev_file: str
    fmt: Literal["tsv", "jsonl"]
    header: tuple[str, ...] | None
    text_columns: tuple[str, ...]
    label_column: str


@dataclass(frozen=True)
class _HubSource:
    """Where a known task lies on the Hugging Face hub.

    Attributes:
        path, config: arguments of ``datasets.load_dataset``.
        text_columns: the hub's names of the spec's text columns, in the same order.
        label_column: the hub's label column (int class ids, or a float score for regression).
        label_names: for classification, the spec label (string) of each hub integer label, in hub
            order; hub label ``i`` becomes class id ``spec.labels.index(label_names[i])``.
    """

    path: str
    config: str
    text_columns: tuple[str, ...]
    label_column: str
    label_names: tuple[str, ...] | None


@dataclass(frozen=True)
class _KnownTask:
    spec: TaskSpec
    local: _LocalLayout
    hub: _HubSource


_BINARY = ("0", "1")
_RTE = ("entailment", "not_entailment")
# Hub order of SuperGLUE CB (ClassLabel names); the spec uses the same order so ids agree.
_CB = ("entailment", "contradiction", "neutral")
_PAIR = ("sentence1", "sentence2")
_NLI = ("premise", "hypothesis")


def _glue(
    short: str,
    subdir: str,
    text_columns: tuple[str, ...],
    file_text_columns: tuple[str, ...],
    file_label: str,
    labels: tuple[str, ...] | None,
    metrics: tuple[str, ...],
    main: str,
    header: tuple[str, ...] | None = None,
) -> _KnownTask:
    return _KnownTask(
        spec=TaskSpec(
            name=f"glue/{short}",
            text_columns=text_columns,
            label_column="label",
            kind="regression" if labels is None else "classification",
            labels=labels,
            metrics=metrics,
            main_metric=main,
        ),
        local=_LocalLayout(
            subdir=f"glue/{subdir}",
            train_file="train.tsv",
            dev_file="dev.tsv",
            fmt="tsv",
            header=header,
            text_columns=file_text_columns,
            label_column=file_label,
        ),
        hub=_HubSource(
            path="nyu-mll/glue",
            config=short,
            text_columns=text_columns,
            label_column="label",
            label_names=labels,
        ),
    )


def _superglue(short: str, subdir: str, labels: tuple[str, ...], metrics: tuple[str, ...]) -> _KnownTask:
    return _KnownTask(
        spec=TaskSpec(
            name=f"superglue/{short}",
            text_columns=_NLI,
            label_column="label",
            kind="classification",
            labels=labels,
            metrics=metrics,
            main_metric="accuracy",
        ),
        local=_LocalLayout(
            subdir=f"superglue/{subdir}",
            train_file="train.jsonl",
            dev_file="val.jsonl",
            fmt="jsonl",
            header=None,
            text_columns=_NLI,
            label_column="label",
        ),
        hub=_HubSource(
            path="aps/super_glue",
            config=short,
            text_columns=_NLI,
            label_column="label",
            label_names=labels,
        ),
    )


_KNOWN: dict[str, _KnownTask] = {
    t.spec.name: t
    for t in (
        # CoLA has no header row: source, label, original label (mostly empty), sentence.
        _glue(
            "cola",
            "CoLA",
            ("sentence",),
            ("sentence",),
            "label",
            _BINARY,
            ("matthews",),
            "matthews",
            header=("source", "label", "original_label", "sentence"),
        ),
        _glue("sst2", "SST-2", ("sentence",), ("sentence",), "label", _BINARY, ("accuracy",), "accuracy"),
        _glue(
            "mrpc",
            "MRPC",
            _PAIR,
            ("#1 String", "#2 String"),
            "Quality",
            _BINARY,
            ("accuracy", "f1"),
            "accuracy",
        ),
        _glue("stsb", "STS-B", _PAIR, _PAIR, "score", None, ("pearson", "spearman"), "spearman"),
        # Hub RTE: 0 = entailment, 1 = not_entailment, the same order as the sorted file labels.
        _glue("rte", "RTE", _PAIR, _PAIR, "label", _RTE, ("accuracy",), "accuracy"),
        # WNLI files and hub agree: 1 = entailment, 0 = not_entailment.
        _glue("wnli", "WNLI", _PAIR, _PAIR, "label", _BINARY, ("accuracy",), "accuracy"),
        _superglue("rte", "RTE", _RTE, ("accuracy",)),
        _superglue("cb", "CB", _CB, ("accuracy", "f1")),
    )
}

KNOWN_TASKS: dict[str, TaskSpec] = {name: t.spec for name, t in _KNOWN.items()}
"""The built-in tasks by name; load them with :func:`autopeft.tasks.load_task`."""


def _normalise_name(name: str) -> str:
    """Lower-case a task name and drop hyphens, so ``"glue/SST-2"`` finds ``"glue/sst2"``."""
    return name.strip().lower().replace("-", "").replace("_", "")


def _lookup(name: str) -> _KnownTask | None:
    key = _normalise_name(name)
    for known, task in _KNOWN.items():
        if _normalise_name(known) == key:
            return task
    return None


def known_task_kind(name: str) -> str | None:
    """``"classification"`` or ``"regression"`` for a built-in task name (any case, hyphens allowed),
    None for anything else (a local folder or an unknown hub name), without loading any data."""
    task = _lookup(name)
    return None if task is None else task.spec.kind
