"""Loading a task's data: known tasks from a local data dir or the hub, and local CSV/TSV/JSONL files.

Sources, in the order :func:`load_task` tries them:

1. ``"file:<path>"`` or the path of an existing ``.csv`` / ``.tsv`` / ``.jsonl`` file: a local
   file (one split; the caller names the text and label columns). With ``task_kind="causal_lm"`` its
   rows hold ``prompt`` and ``completion`` strings, or one ``text`` string (other field names through
   ``text_columns``), and there is no label column.
2. A known task name (:data:`KNOWN_TASKS`): from the data dir (``data_dir``, else the
   ``AUTOPEFT_DATA`` environment variable) in the standard GLUE / SuperGLUE layouts, or, when
   neither is set, from the Hugging Face hub with ``datasets.load_dataset``.

Every bad input raises :class:`autopeft.errors.UserError` naming the field, the value and the fix.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from autopeft.errors import UserError
from autopeft.tasks.registry import KNOWN_TASKS, _KnownTask, _lookup, _normalise_name
from autopeft.tasks.spec import LM_METRICS, TASK_KINDS, Split, TaskData, TaskKind, TaskSpec

DATA_ENV = "AUTOPEFT_DATA"
FILE_PREFIX = "file:"
LOCAL_SUFFIXES = (".csv", ".tsv", ".jsonl")
_DATA_DIR_FIX = (
    f"pass `data_dir` (or set {DATA_ENV}) to a folder holding glue/<Task>/{{train,dev}}.tsv and "
    "superglue/<Task>/{train,val}.jsonl"
)

# One parsed row: (line number in the file, 1-based; column name -> raw value).
_Row = tuple[int, dict[str, Any]]

#: Label strings that spreadsheets, pandas and R write for a missing value (compared in lower case):
#: never a class, or a classifier would learn to predict "missing".
MISSING_LABELS = frozenset({"", "nan", "-nan", "na", "n/a", "#n/a", "<na>", "null", "none"})
#: A classification label column of numbers with more distinct values than this, most of them seen
#: once or twice, holds scores rather than classes (:func:`_check_not_scores`).
MAX_NUMERIC_CLASSES = 20


def resolve_data_dir(data_dir: str | Path | None) -> Path | None:
    """The data dir to read known tasks from.

    Args:
        data_dir: the data dir the caller gives; ``None`` or ``""`` = not given.

    Returns:
        ``data_dir`` if given, else the ``AUTOPEFT_DATA`` environment variable if set and non-empty,
        else ``None`` (known tasks then come from the Hugging Face hub). The path is absolute.

    Raises:
        UserError: the chosen path is not an existing directory.
    """
    if data_dir is not None and str(data_dir) != "":
        field, raw, named = "data_dir", str(data_dir), "`data_dir`"
    else:
        env = os.environ.get(DATA_ENV, "")
        if not env:
            return None
        field, raw, named = DATA_ENV, env, DATA_ENV
    path = Path(raw).expanduser().resolve()
    if not path.is_dir():
        raise UserError(
            field,
            raw,
            f"is not an existing directory (looked at {path})",
            f"point {named} at the folder that holds glue/ and superglue/, or unset it to use the hub",
        )
    return path


def load_task(
    name: str,
    data_dir: str | Path | None = None,
    *,
    text_columns: Sequence[str] | None = None,
    label_column: str | None = None,
    task_kind: str | None = None,
    lm_score: str = "loss",
) -> TaskData:
    """Load a task's spec and labelled splits.

    Args:
        name: a known task (``"glue/sst2"``; case and hyphens are ignored, so ``"glue/SST-2"``
            works), ``"file:<path>"``, or the path of an existing ``.csv`` / ``.tsv`` / ``.jsonl``
            file.
        data_dir: folder with the standard GLUE / SuperGLUE layouts (see :func:`resolve_data_dir`);
            ignored for local files.
        text_columns: local files only (required): the one or two text columns.
        label_column: local files only (required): the label column.
        task_kind: local files only: ``"classification"`` (default), ``"regression"`` or
            ``"causal_lm"`` (prompt → completion, see :func:`_load_lm_file`). For a known task it may be
            given only if it equals the task's kind.
        lm_score: causal-LM tasks only: the search score, ``"loss"`` (validation loss per completion
            token, lower is better) or ``"exact_match"`` (of greedy completions, higher is better).

    Returns:
        :class:`TaskData`; ``dev`` is the reporting split for known tasks and ``None`` for a local
        file. Class labels are int64 ids into ``spec.labels``; regression labels are float32.

    Raises:
        UserError: unknown task, missing files or columns, bad labels, empty data, hub unreachable.
    """
    if not isinstance(name, str) or not name.strip():
        raise UserError("task", name, "is empty", _unknown_task_fix())
    if lm_score not in LM_METRICS:
        raise UserError("lm_score", lm_score, "is not a causal-LM score", f"use one of {', '.join(LM_METRICS)}")
    local = _local_file_path(name)
    if local is not None:
        if task_kind == "causal_lm":
            return _load_lm_file(local, text_columns, label_column, lm_score)
        return _load_local_file(local, text_columns, label_column, task_kind)
    known = _lookup(name)
    if known is None:
        raise UserError("task", name, "is not a known task nor an existing data file", _unknown_task_fix(name))
    _check_no_file_options(known.spec, text_columns, label_column, task_kind)
    root = resolve_data_dir(data_dir)
    if root is None:
        return _load_hub(known, name)
    return _load_known_local(known, root)


# --------------------------------------------------------------------------------------------- names


def _unknown_task_fix(name: str | None = None) -> str:
    known = ", ".join(KNOWN_TASKS)
    hint = ""
    if name is not None:
        key = _normalise_name(name)
        close = [k for k in KNOWN_TASKS if k.split("/", 1)[1] == key]
        if close:
            hint = f"did you mean {' or '.join(close)}? Otherwise "
    return (
        f"{hint}use one of {known}, or a local file as file:<path> (or the path of an existing "
        f".csv, .tsv or .jsonl file) with `text_columns` and `label_column`"
    )


def _local_file_path(name: str) -> Path | None:
    """The local file ``name`` refers to, or ``None`` if it should be looked up as a known task."""
    if name.startswith(FILE_PREFIX):
        raw = name[len(FILE_PREFIX) :]
        path = Path(raw).expanduser()
        if not path.is_file():
            raise UserError("task", name, f"names no existing file (looked at {path.resolve()})", "check the path")
        return _check_suffix(path, name)
    if _lookup(name) is not None:
        return None
    path = Path(name).expanduser()
    if path.is_file():
        return _check_suffix(path, name)
    if path.suffix.lower() in LOCAL_SUFFIXES:
        raise UserError("task", name, f"looks like a data file but none exists at {path.resolve()}", "check the path")
    return None


def _check_suffix(path: Path, name: str) -> Path:
    if path.suffix.lower() not in LOCAL_SUFFIXES:
        raise UserError(
            "task",
            name,
            f"has an unsupported file type {path.suffix!r}",
            f"use a file ending in one of {', '.join(LOCAL_SUFFIXES)}",
        )
    return path.resolve()


def _check_no_file_options(
    spec: TaskSpec, text_columns: Sequence[str] | None, label_column: str | None, task_kind: str | None
) -> None:
    fix = "leave it out for a known task, or pass a local file as `task`"
    if text_columns is not None:
        raise UserError(
            "text_columns",
            text_columns,
            f"applies only to local files; {spec.name} has fixed text columns {list(spec.text_columns)}",
            fix,
        )
    if label_column is not None:
        raise UserError(
            "label_column",
            label_column,
            f"applies only to local files; {spec.name} has a fixed label column",
            fix,
        )
    if task_kind is not None and task_kind != spec.kind:
        raise UserError("task_kind", task_kind, f"does not match {spec.name}, a {spec.kind} task", fix)


# ------------------------------------------------------------------------------------ reading files


def _read_table(path: Path, fmt: str, header: tuple[str, ...] | None = None) -> tuple[list[str], list[_Row]]:
    """Parse a CSV / TSV / JSONL file into (column names, rows).

    CSV uses standard quoting; TSV is read with quoting disabled (GLUE files hold bare ``"``). Both
    are decoded as ``utf-8-sig`` so a leading byte-order mark (MRPC) is dropped. ``header`` gives
    the column names of a TSV without a header row (CoLA). JSONL columns are the keys of the first
    record.
    """
    if fmt == "jsonl":
        return _read_jsonl(path)
    delimiter = "," if fmt == "csv" else "\t"
    quoting = csv.QUOTE_MINIMAL if fmt == "csv" else csv.QUOTE_NONE
    rows: list[_Row] = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter, quoting=quoting)
        try:
            if header is None:
                first = next(reader, None)
                if first is None:
                    return [], []
                columns = [c.strip() for c in first]
            else:
                columns = list(header)
            for fields in reader:
                if not fields:  # blank line
                    continue
                if len(fields) != len(columns):
                    raise UserError(
                        "task",
                        str(path),
                        f"line {reader.line_num} has {len(fields)} fields but the header has {len(columns)}",
                        "fix that row"
                        + (
                            " (a TSV is read with quoting disabled, so a tab inside a text splits it)"
                            if fmt == "tsv"
                            else ""
                        ),
                    )
                rows.append((reader.line_num, dict(zip(columns, fields, strict=True))))
        except UnicodeDecodeError as exc:
            raise _not_utf8(path, exc) from exc
        except csv.Error as exc:
            raise _bad_csv(path, fmt, reader.line_num, exc) from exc
    return columns, rows


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> UserError:
    """The error for a file that is not UTF-8, naming the first line that does not decode."""
    where = _first_undecodable_line(path) or f"byte 0x{exc.object[exc.start]:02x}"
    fixed = f"{path.stem}-utf8{path.suffix}"
    return UserError(
        "task",
        str(path),
        f"is not UTF-8 text: {where} cannot be decoded ({exc.reason})",
        f"save the file as UTF-8 (for a Latin-1 file: iconv -f latin1 -t utf-8 {path.name} > {fixed})",
    )


def _first_undecodable_line(path: Path) -> str | None:
    """Where the first line of ``path`` that is not UTF-8 lies (``"line 3 (byte 0xe9)"``); read only when
    decoding failed, so that a good file is read once, as a stream."""
    with path.open("rb") as f:
        for line_no, line in enumerate(f, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                return f"line {line_no} (byte 0x{line[exc.start]:02x})"
    return None


def _bad_csv(path: Path, fmt: str, line_no: int, exc: csv.Error) -> UserError:
    """The error for a row the csv module cannot parse (a field over its size limit, a NUL byte, ...)."""
    fix = "fix that row"
    if "field larger than field limit" in str(exc):
        limit = csv.field_size_limit()
        fix = (
            f"no field may hold more than {limit:,} characters: shorten that text (it would be cut to "
            "`max_length` tokens anyway)"
        )
        if fmt == "csv":  # a quote left open swallows the lines after it into one field
            fix += ", or close the quote that an earlier field leaves open"
    return UserError("task", str(path), f"line {line_no} cannot be parsed as {fmt.upper()} ({exc})", fix)


def _read_jsonl(path: Path) -> tuple[list[str], list[_Row]]:
    columns: list[str] = []
    rows: list[_Row] = []
    with path.open(encoding="utf-8-sig") as f:
        try:
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UserError(
                        "task", str(path), f"line {line_no} is not valid JSON ({exc.msg})", "fix that line"
                    ) from exc
                if not isinstance(record, dict):
                    raise UserError(
                        "task", str(path), f"line {line_no} is not a JSON object", "write one object per line"
                    )
                if not columns:
                    columns = list(record)
                rows.append((line_no, record))
        except UnicodeDecodeError as exc:
            raise _not_utf8(path, exc) from exc
    return columns, rows


def _cell(row: _Row, column: str, path: Path, field: str) -> Any:
    line_no, values = row
    value = values.get(column)
    if value is None:
        raise UserError(field, column, f"has no value on line {line_no} of {path}", "fill in that row or remove it")
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, bool) else str(value)


def _label_string(value: Any) -> str:
    """A raw label as a string: JSON ``true`` -> ``"true"``, ``1`` -> ``"1"``; whitespace stripped."""
    return _text(value).strip()


def _sort_labels(values: set[str]) -> tuple[str, ...]:
    """Distinct labels in index order: numerically if all are integers (so "10" follows "9"), else
    lexicographically."""
    try:
        return tuple(sorted(values, key=int))
    except ValueError:
        return tuple(sorted(values))


def _build_split(
    rows: list[_Row],
    path: Path,
    text_columns: Sequence[str],
    label_column: str,
    kind: TaskKind,
    labels: tuple[str, ...] | None,
    label_field: str,
) -> Split:
    """Turn parsed rows into a :class:`Split`, checking every label.

    ``label_field`` is the name errors use for the label (the canonical column name).
    """
    text_a = tuple(_text(_cell(r, text_columns[0], path, "text_columns")) for r in rows)
    text_b = (
        tuple(_text(_cell(r, text_columns[1], path, "text_columns")) for r in rows) if len(text_columns) == 2 else None
    )
    if kind == "classification":
        assert labels is not None
        index = {label: i for i, label in enumerate(labels)}
        ids = np.empty(len(rows), dtype=np.int64)
        for i, row in enumerate(rows):
            raw = _label_string(_cell(row, label_column, path, "label_column"))
            if raw not in index:
                raise UserError(
                    label_field,
                    raw,
                    f"on line {row[0]} of {path} is not one of the task's labels {list(labels)}",
                    "correct that row's label or remove the row",
                )
            ids[i] = index[raw]
        return Split(text_a, text_b, ids)
    scores = np.empty(len(rows), dtype=np.float32)
    for i, row in enumerate(rows):
        raw = _cell(row, label_column, path, "label_column")
        try:
            value = float(raw) if not isinstance(raw, bool) else math.nan
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value):
            raise UserError(
                label_field,
                raw,
                f"on line {row[0]} of {path} is not a finite number, as a regression label must be",
                "correct that row's label, or use `task_kind=classification` for class labels",
            )
        scores[i] = value
    return Split(text_a, text_b, scores)


def _check_columns(columns: list[str], wanted: Sequence[str], field: str, path: Path) -> None:
    for column in wanted:
        if column not in columns:
            raise UserError(
                field, column, f"is not a column of {path}", f"use one of its columns: {', '.join(columns)}"
            )


# ------------------------------------------------------------------------------------- local files


def _load_local_file(
    path: Path, text_columns: Sequence[str] | None, label_column: str | None, task_kind: str | None
) -> TaskData:
    """Load one local CSV / TSV / JSONL file as a task with a training split only."""
    kind = "classification" if task_kind is None else task_kind
    if kind not in TASK_KINDS:
        raise UserError("task_kind", task_kind, "is not a task kind", f"use one of {', '.join(TASK_KINDS)}")
    fmt = path.suffix.lower().lstrip(".")
    columns, rows = _read_table(path, fmt)
    if not rows:
        raise UserError("task", f"{FILE_PREFIX}{path}", "holds no examples", "use a file with a header and data rows")
    available = ", ".join(columns)
    if text_columns is None:
        raise UserError("text_columns", None, "is required for a local file", f"name one or two of: {available}")
    text_cols = (text_columns,) if isinstance(text_columns, str) else tuple(text_columns)
    if len(text_cols) not in (1, 2):
        raise UserError(
            "text_columns",
            list(text_cols),
            f"names {len(text_cols)} columns; a task has one or two texts",
            f"name one or two of: {available}",
        )
    if label_column is None:
        raise UserError("label_column", None, "is required for a local file", f"name one of: {available}")
    _check_columns(columns, text_cols, "text_columns", path)
    _check_columns(columns, [label_column], "label_column", path)
    if label_column in text_cols:
        raise UserError("label_column", label_column, "is also a text column", "use different label and text columns")
    labels = _class_labels(rows, path, label_column) if kind == "classification" else None
    is_cls = kind == "classification"
    spec = TaskSpec(
        name=f"{FILE_PREFIX}{path}",
        text_columns=text_cols,
        label_column=label_column,
        kind="classification" if is_cls else "regression",
        labels=labels,
        metrics=("accuracy", "f1") if is_cls else ("pearson", "spearman"),
        main_metric="accuracy" if is_cls else "spearman",
    )
    train = _build_split(rows, path, text_cols, label_column, spec.kind, labels, label_column)
    if is_cls:
        fix = "a task needs examples of at least two classes: add examples of the others, or name another "
    else:
        fix = "a regression task needs targets that vary: name another "
    _check_labels_vary(train, spec, "label_column", label_column, str(path), fix + "`label_column`")
    return TaskData(spec=spec, train=train, dev=None)


#: The fields of a causal-LM file's rows: a prompt and its completion, or one text (all of it the target).
LM_PAIR_FIELDS = ("prompt", "completion")
LM_TEXT_FIELDS = ("text",)


def _load_lm_file(path: Path, text_columns: Sequence[str] | None, label_column: str | None, lm_score: str) -> TaskData:
    """Load one local file of a causal-LM task: every row holds ``prompt`` and ``completion`` strings, or
    one ``text`` string (the whole text is the target, the prompt empty). ``text_columns`` renames the
    fields (one name: a text; two: prompt and completion). The schema is the first row's; every row
    must have its fields, as non-empty text (a prompt may be empty). Numbers are read as their text.

    Returns:
        :class:`TaskData` with ``train.text_a`` the prompts, ``train.text_b`` the completions and
        float32 zero labels; ``dev`` None (the search carves its validation examples from it).
    """
    fix = (
        'write one JSON object per line with "prompt" and "completion" strings (the loss is on the completion '
        'only), or with one "text" string (all of it is learnt); other field names through `text_columns`'
    )
    if label_column is not None:
        raise UserError("label_column", label_column, "does not apply to a causal-LM task (it has no label)", fix)
    fmt = path.suffix.lower().lstrip(".")
    _, rows = _read_table(path, fmt)
    if not rows:
        raise UserError("task", f"{FILE_PREFIX}{path}", "holds no examples", fix)
    if text_columns is not None:
        fields = (text_columns,) if isinstance(text_columns, str) else tuple(text_columns)
        if len(fields) not in (1, 2):
            raise UserError(
                "text_columns", list(fields), "must name a text, or a prompt and a completion", f"e.g. {LM_PAIR_FIELDS}"
            )
    else:
        first = rows[0][1]
        if all(f in first for f in LM_PAIR_FIELDS):
            fields = LM_PAIR_FIELDS
        elif all(f in first for f in LM_TEXT_FIELDS):
            fields = LM_TEXT_FIELDS
        else:
            missing = [f for f in LM_PAIR_FIELDS if f not in first]
            raise UserError(
                missing[0],
                f"line {rows[0][0]} of {path}",
                f'has no "{missing[0]}" field, nor a "text" field (it has: {", ".join(first) or "no fields"})',
                fix,
            )
    if len(fields) == 1 and lm_score == "exact_match":
        raise UserError(
            "lm_score",
            lm_score,
            f'compares completions with references, but the rows of {path} hold one "{fields[0]}" each: there is '
            "no prompt to complete",
            "score it by `lm_score=loss`, or give every row a prompt and a completion",
        )
    texts: list[list[str]] = [[] for _ in fields]
    for line_no, record in rows:
        for k, name in enumerate(fields):
            value = record.get(name)
            if value is None or isinstance(value, (dict, list)):
                what = "has no" if value is None else "has a non-text"
                raise UserError(
                    name,
                    f"line {line_no} of {path}",
                    f'{what} "{name}" field (every row needs {", ".join(repr(f) for f in fields)}, '
                    "as the first row has)",
                    fix,
                )
            text = _text(value)
            completion = k == len(fields) - 1
            if completion and not text.strip():
                problem = f'has an empty "{name}": nothing to learn'
                raise UserError(name, f"line {line_no} of {path}", problem, "fill it in or remove the row")
            texts[k].append(text)
    prompts = tuple(texts[0]) if len(fields) == 2 else ("",) * len(rows)
    spec = TaskSpec(
        name=f"{FILE_PREFIX}{path}",
        text_columns=fields,
        label_column="",
        kind="causal_lm",
        labels=None,
        metrics=("loss",) if lm_score == "loss" else ("exact_match", "loss"),
        main_metric=lm_score,
    )
    train = Split(prompts, tuple(texts[-1]), np.zeros(len(rows), dtype=np.float32))
    return TaskData(spec=spec, train=train, dev=None)


def _class_labels(rows: list[_Row], path: Path, label_column: str) -> tuple[str, ...]:
    """The classes of a local file's label column, in index order; a missing value or a column of scores
    is refused."""
    values = [(row[0], _label_string(_cell(row, label_column, path, "label_column"))) for row in rows]
    for line, value in values:
        if value.lower() in MISSING_LABELS:
            what = "is empty" if value == "" else "is a missing value, not a class,"
            raise UserError(
                label_column,
                value,
                f"{what} on line {line} of {path}",
                "give every row a label or remove it" + (" (if it is a real class, rename it)" if value else ""),
            )
    labels = _sort_labels({value for _, value in values})
    _check_not_scores(labels, len(values), label_column)
    return labels


def _check_not_scores(labels: tuple[str, ...], rows: int, label_column: str) -> None:
    """Refuse numeric labels with many distinct values, most of them rare: a column of scores read as
    classes (a classifier with ~one example per class learns nothing, and says nothing of it)."""
    if len(labels) <= MAX_NUMERIC_CLASSES or 2 * len(labels) <= rows:
        return
    try:
        numbers = [float(label) for label in labels]
    except ValueError:
        return  # text classes: many of them is unusual but not a sign of scores
    if not all(math.isfinite(x) for x in numbers):
        return
    raise UserError(
        "label_column",
        label_column,
        f"holds {len(labels)} distinct numbers in {rows} rows (from {min(numbers):g} to {max(numbers):g}): "
        "scores, not classes",
        "use `task_kind=regression` to predict them as numbers, or group them into a few classes",
    )


def _check_labels_vary(split: Split, spec: TaskSpec, field: str, value: Any, source: str, fix: str) -> None:
    """Refuse training examples that all have one class, or all the same regression target: nothing to
    learn, and the metrics (F1, Spearman) are undefined."""
    labels = split.labels
    if not len(labels):
        return
    if spec.kind == "classification":
        present = np.unique(labels)
        if present.size < 2:
            assert spec.labels is not None
            only = spec.labels[int(present[0])]
            problem = f"has one class only: all {len(labels)} training examples of {source} are {only!r}"
            raise UserError(field, value, problem, fix)
    elif float(labels.min()) == float(labels.max()):
        problem = f"has one target only: all {len(labels)} training examples of {source} score {float(labels[0]):g}"
        raise UserError(field, value, problem, fix)


# -------------------------------------------------------------------------------- known, local dir


def _load_known_local(task: _KnownTask, root: Path) -> TaskData:
    layout = task.local
    splits: list[Split] = []
    for file_name in (layout.train_file, layout.dev_file):
        path = root / layout.subdir / file_name
        if not path.is_file():
            raise UserError(
                "data_dir",
                str(root),
                f"has no {task.spec.name} file: looked for {path}",
                f"put {layout.subdir}/{{{layout.train_file},{layout.dev_file}}} there, or "
                "leave out `data_dir` and AUTOPEFT_DATA to load from the Hugging Face hub",
            )
        columns, rows = _read_table(path, layout.fmt, layout.header)
        if not rows:
            raise UserError("data_dir", str(root), f"{path} holds no examples", "restore the file")
        _check_columns(columns, layout.text_columns, "text_columns", path)
        _check_columns(columns, [layout.label_column], "label_column", path)
        splits.append(
            _build_split(
                rows,
                path,
                layout.text_columns,
                layout.label_column,
                task.spec.kind,
                task.spec.labels,
                task.spec.label_column,
            )
        )
    train_path = root / layout.subdir / layout.train_file
    _check_labels_vary(splits[0], task.spec, "data_dir", str(root), str(train_path), f"restore {train_path}")
    return TaskData(spec=task.spec, train=splits[0], dev=splits[1])


# -------------------------------------------------------------------------------------------- hub


def _load_hub(task: _KnownTask, name: str) -> TaskData:
    """Load a known task from the Hugging Face hub (needs internet, or a warm ``datasets`` cache)."""
    hub = task.hub
    try:
        import datasets

        loaded = datasets.load_dataset(hub.path, hub.config)
        parts = (loaded["train"], loaded["validation"])
    except Exception as exc:  # no internet, hub down, dataset moved: all end the same way
        raise UserError(
            "task",
            name,
            f"could not be loaded from the Hugging Face hub ({hub.path}, config {hub.config!r}): "
            f"{type(exc).__name__}: {exc}",
            _DATA_DIR_FIX,
        ) from exc
    splits = [_hub_split(ds, task, name, split) for ds, split in zip(parts, ("train", "validation"), strict=True)]
    _check_labels_vary(splits[0], task.spec, "task", name, f"the hub's {hub.path}/{hub.config}", _DATA_DIR_FIX)
    return TaskData(spec=task.spec, train=splits[0], dev=splits[1])


def _hub_column(ds: Any, column: str) -> list[Any]:
    return list(ds[column])


def _hub_split(ds: Any, task: _KnownTask, name: str, split: str) -> Split:
    hub, spec = task.hub, task.spec
    columns = list(ds.column_names)
    for column in (*hub.text_columns, hub.label_column):
        if column not in columns:
            raise UserError(
                "task",
                name,
                f"the hub's {split} split of {hub.path}/{hub.config} has no column {column!r} "
                f"(it has {', '.join(columns)})",
                _DATA_DIR_FIX,
            )
    if not len(ds):
        raise UserError("task", name, f"the hub's {split} split is empty", _DATA_DIR_FIX)
    text_a = tuple(_text(v) for v in _hub_column(ds, hub.text_columns[0]))
    text_b = tuple(_text(v) for v in _hub_column(ds, hub.text_columns[1])) if len(hub.text_columns) == 2 else None
    raw = _hub_column(ds, hub.label_column)
    if spec.kind == "regression":
        scores = np.asarray(raw, dtype=np.float32)
        bad = np.flatnonzero(~np.isfinite(scores))
        if bad.size:
            raise UserError(
                spec.label_column,
                raw[bad[0]],
                f"row {bad[0]} of the hub's {split} split is not a score",
                _DATA_DIR_FIX,
            )
        return Split(text_a, text_b, scores)
    assert spec.labels is not None and hub.label_names is not None
    # hub integer i -> spec class id of the label string hub.label_names[i]
    remap = np.array([spec.labels.index(lab) for lab in hub.label_names], dtype=np.int64)
    ids = np.asarray(raw, dtype=np.int64)
    bad = np.flatnonzero((ids < 0) | (ids >= len(remap)))
    if bad.size:
        raise UserError(
            spec.label_column,
            int(ids[bad[0]]),
            f"row {bad[0]} of the hub's {split} split is not a class id in 0..{len(remap) - 1} (unlabelled test data?)",
            _DATA_DIR_FIX,
        )
    return Split(text_a, text_b, remap[ids])
