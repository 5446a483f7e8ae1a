"""Search settings: the device and the output directory checked before anything is written; the default
ledger URL holds any path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from sqlalchemy.engine import make_url

from autopeft.errors import UserError
from autopeft.study.settings import SearchSettings, default_storage, for_directory, load_settings


@pytest.mark.parametrize(
    "name", ["plain", "a?b", "100%", "50%20off", "x#y", "{SCHEMA_VERSION}", "a b", "café", "a;b&c"]
)
def test_the_default_ledger_url_names_the_study_db_inside_out(tmp_path, name):
    out = tmp_path / name
    url = make_url(default_storage(out))
    assert url.drivername == "sqlite" and url.query == {} and url.database == str(out.resolve() / "study.db")


def test_a_plain_path_gives_the_url_it_always_gave(tmp_path):
    """Searches already on disk keep their ledger: an ordinary path is not escaped."""
    out = tmp_path / "runs" / "sst2-1"
    assert default_storage(out) == f"sqlite:///{out.resolve() / 'study.db'}"


def test_the_device_form_is_checked_with_the_settings():
    with pytest.raises(UserError) as err:
        SearchSettings(device="tpu")
    assert err.value.field == "device"


def test_a_search_made_on_a_gpu_reads_back_on_a_machine_without_one(tmp_path, monkeypatch):
    """``show`` reads the settings anywhere; only running the search needs the device."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    (tmp_path / "search.json").write_text(json.dumps(SearchSettings(device="cuda").to_dict()))
    settings = load_settings(tmp_path)
    assert settings.device == "cuda"
    with pytest.raises(UserError, match="no CUDA device"):
        for_directory(settings, tmp_path)


def test_for_directory_refuses_an_out_it_could_not_write(tmp_path):
    a_file = tmp_path / "f"
    a_file.write_text("")
    for out, problem in ((a_file, "is a file"), (a_file / "x" / "y", "lies under")):
        with pytest.raises(UserError, match=problem) as err:
            for_directory(SearchSettings(), out)
        assert err.value.field == "out" and err.value.value == str(out)
    link = tmp_path / "gone"
    link.symlink_to(tmp_path / "missing")
    with pytest.raises(UserError, match="broken link"):
        for_directory(SearchSettings(), link / "search")
    assert {p.name for p in tmp_path.iterdir()} == {"f", "gone"}
    assert for_directory(SearchSettings(), Path(tmp_path / "new" / "search")).study_name == "search"


def test_fp16_needs_a_cuda_device():
    from autopeft.train.budget import Budget

    with pytest.raises(UserError) as err:
        SearchSettings(device="cpu", budget=Budget(dtype="fp16"))
    assert err.value.field == "dtype" and "bf16" in err.value.fix
    assert SearchSettings(device="cuda", budget=Budget(dtype="fp16")).budget.dtype == "fp16"
