"""README's Python API example runs as written (it trains the packaged MiniLM: marked slow)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def _api_example() -> str:
    section = README.read_text().split("## Python API", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, "README's Python API section has no python block"
    return blocks[0]


@pytest.mark.slow
def test_the_readme_example_runs(tmp_path, monkeypatch, data_dir):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTOPEFT_DATA", str(data_dir))
    namespace: dict = {}
    exec(compile(_api_example(), str(README), "exec"), namespace)
    result = namespace["result"]
    assert (tmp_path / "runs" / "api-demo" / "study.db").is_file()
    assert len(result.front) >= 1 and namespace["table"].shape[0] == 3


def test_the_readme_example_is_short():
    lines = [line for line in _api_example().splitlines() if line.strip()]
    assert len(lines) <= 10
