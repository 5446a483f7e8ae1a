"""Atomic writes: no temporary files left behind, the old file kept when a write fails."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from autopeft.analysis.pareto import ParetoFront
from autopeft.records.io import atomic_write_bytes, atomic_write_text
from autopeft.render import write_pareto_json, write_trials_csv


def test_write_text_and_bytes(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "dir" / "out.txt"  # parents are created
    assert atomic_write_text(target, "héllo\n") == target
    assert target.read_text(encoding="utf-8") == "héllo\n"
    atomic_write_bytes(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]


def test_overwrite_keeps_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_new_file_is_not_private(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    atomic_write_text(target, "x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_failure_keeps_old_file_and_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    target = tmp_path / "report.txt"
    target.write_text("old contents")

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, failing, boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "new contents that never land")
    monkeypatch.undo()
    assert target.read_text() == "old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["report.txt"]


def test_failure_while_writing_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "report.bin"
    target.write_bytes(b"old")
    real_fdopen = os.fdopen

    class Exploding:
        def __init__(self, handle) -> None:  # type: ignore[no-untyped-def]
            self.handle = handle

        def __enter__(self):  # type: ignore[no-untyped-def]
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def write(self, data: bytes) -> None:
            self.handle.write(data[:1])  # a partial write, then the crash
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: Exploding(real_fdopen(fd, mode)))
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(target, b"new data")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.bin"]


def test_report_writers_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, study) -> None:
    csv_path, json_path = tmp_path / "trials.csv", tmp_path / "pareto.json"
    csv_path.write_text("old csv")
    json_path.write_text("old json")

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("no space left")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        write_trials_csv(study, csv_path)
    with pytest.raises(OSError):
        write_pareto_json(ParetoFront.from_trials(study), json_path)
    assert csv_path.read_text() == "old csv" and json_path.read_text() == "old json"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pareto.json", "trials.csv"]
