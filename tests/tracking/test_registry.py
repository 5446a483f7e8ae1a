"""``report_to``: read as the Hugging Face Trainer reads it, checked before a search writes anything."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from autopeft.errors import UserError
from autopeft.study.settings import SearchSettings
from autopeft.tracking import TRACKERS, Backend, check_installed, make_trackers, parse_report_to


@pytest.mark.parametrize(
    ("value", "names"),
    [
        (None, ()),
        ("", ()),
        ("none", ()),
        ("NONE", ()),
        ("mlflow", ("mlflow",)),
        (" MLflow , tensorboard ,", ("mlflow", "tensorboard")),
        ("tensorboard,mlflow,tensorboard", ("tensorboard", "mlflow")),
        (["mlflow"], ("mlflow",)),
        (("tensorboard",), ("tensorboard",)),
        ("all", tuple(TRACKERS)),
    ],
)
def test_report_to_names(value, names):
    assert parse_report_to(value) == names


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("wandb", "'wandb' is not a tracker"),
        ("mlflow,tensorbord", "'tensorbord' is not a tracker"),
        ("none,mlflow", "`none` turns tracking off"),
        (3, "must be text or a list"),
        ([1, 2], "must be text or a list"),
    ],
)
def test_a_bad_report_to_names_the_field_and_the_fix(value, needle):
    with pytest.raises(UserError) as err:
        parse_report_to(value)
    assert err.value.field == "report_to" and needle in err.value.problem
    assert "`report_to=mlflow,tensorboard`" in err.value.fix and "`report_to=none`" in err.value.fix


def test_settings_keep_report_to_as_names_and_read_back_without_it():
    settings = SearchSettings(report_to="mlflow,tensorboard")
    assert settings.report_to == ("mlflow", "tensorboard")
    assert settings.to_dict()["report_to"] == ["mlflow", "tensorboard"]
    assert SearchSettings.from_dict(settings.to_dict()) == settings
    older = {k: v for k, v in SearchSettings().to_dict().items() if k != "report_to"}  # a search.json of before
    assert SearchSettings.from_dict(older).report_to == ()
    with pytest.raises(UserError, match="report_to"):
        SearchSettings(report_to="comet")


def test_a_tracker_whose_package_is_missing_is_refused_with_the_install_command(monkeypatch):
    missing = dataclasses.replace(TRACKERS["mlflow"], requires=("autopeft_no_such_package",))
    monkeypatch.setitem(TRACKERS, "mlflow", missing)
    # a module every Python has, so that this test does not need the tracking extra
    monkeypatch.setitem(TRACKERS, "tensorboard", dataclasses.replace(TRACKERS["tensorboard"], requires=("json",)))
    check_installed(["tensorboard"])  # the others are fine
    with pytest.raises(UserError) as err:
        check_installed(["tensorboard", "mlflow"])
    assert err.value.field == "report_to" and err.value.value == "tensorboard,mlflow"
    assert "autopeft_no_such_package package, which is not installed" in err.value.problem
    assert "pip install 'autopeft[tracking]'" in err.value.fix


def test_reading_settings_needs_no_tracker_installed(monkeypatch):
    # `autopeft show` reads the settings of a search made with trackers on a machine without them
    missing = dataclasses.replace(TRACKERS["mlflow"], requires=("autopeft_no_such_package",))
    monkeypatch.setitem(TRACKERS, "mlflow", missing)
    assert SearchSettings.from_dict(SearchSettings(report_to="mlflow").to_dict()).report_to == ("mlflow",)


def test_trackers_are_made_without_importing_their_packages():
    trackers = make_trackers(list(TRACKERS))
    assert [t.name for t in trackers] == list(TRACKERS)


def test_only_the_backends_import_a_trackers_package_and_only_when_they_run():
    """The core never needs mlflow or tensorboard: the backends import them inside their methods."""
    package = Path(__file__).resolve().parents[2] / "src" / "autopeft"
    backends = {package / "tracking" / "mlflow_tracker.py", package / "tracking" / "tensorboard_tracker.py"}
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text())
        top = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            tracker_names = [n for n in names if n.split(".")[0] in ("mlflow", "tensorboard", "torch")]
            tracker_names = [n for n in tracker_names if n.split(".")[0] != "torch" or "tensorboard" in n]
            if not tracker_names:
                continue
            where = path.relative_to(package)
            assert path in backends, f"{where} imports {tracker_names}"
            assert id(node) not in top, f"{where} imports {tracker_names} at module level"


def test_tracking_imports_nothing_of_the_project_above_the_records():
    """The study calls the trackers; they see plain records (a search's settings arrive flattened)."""
    package = Path(__file__).resolve().parents[2] / "src" / "autopeft"
    allowed = ("autopeft.records", "autopeft.errors", "autopeft.tracking")
    for path in sorted((package / "tracking").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("autopeft"):
                assert node.module.startswith(allowed), f"tracking/{path.name} imports {node.module}"


def test_a_backend_names_what_it_needs():
    with pytest.raises(ValueError, match="lowercase"):
        Backend("MLflow", ("mlflow",), lambda: None)  # type: ignore[arg-type, return-value]
    with pytest.raises(ValueError, match="modules it needs"):
        Backend("x", (), lambda: None)  # type: ignore[arg-type, return-value]
