"""Pack what `sst2_table_gpu.sh` needs on a lent GPU machine into ``.gpu/`` (git-ignored, < 64 MiB).

That machine reaches no network and has its own PyTorch but not this project's pinned libraries, and
what travels is capped at 64 MiB, less than MiniLM's 87 MiB of weights. So:

* the project's libraries (transformers, peft, optuna, ...) travel as an installed site folder for
  Python 3.12, ``site.tar.xz``;
* MiniLM's word-embedding rows of every token that the table's data never holds are zeroed before
  compression (``model/model.safetensors.xz``; ``model/kept_ids.json`` lists the rows kept). A row
  that no input looks up has no effect on any output or gradient, so on that data the packed model
  computes exactly what MiniLM computes; the device script re-checks that every token id of its
  prepared data is a kept row before it trains;
* GLUE SST-2, MRPC and RTE (train, dev) as ``glue.tar.xz`` (MRPC and RTE for ``bench/throughput.py``,
  whose timings do not depend on the weights: on their data the packed model is not MiniLM).

Usage (from the repository root, with the project installed and ``../shared/data`` beside it)::

    python bench/device/pack_sst2.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from autopeft.models import BaseModel, resolve_model
from autopeft.study.settings import SearchSettings
from autopeft.train.budget import Budget
from autopeft.train.data import prepare_data

# The table's budget (bench/README.md); the packed model is exact for this data only.
BUDGET = Budget(train_examples=1000, val_examples=500, epochs=1, max_length=64)
SEED = 0
# The versions tested here (pyproject.toml's ranges), with the dependencies that the GPU image lacks or holds
# in other versions. Changed from the adapters stack (transformers 4.57.6, adapters 1.3.0) of the committed
# GPU run without a device to try it on: the first lent device checks that this set imports there.
WHEELS = (
    "transformers==5.23.0",
    "tokenizers==0.23.3",
    "huggingface_hub==2.4.0",
    "typer==0.29.2",
    "peft==0.21.2",
    "accelerate==1.15.0",
    "safetensors==0.8.0",
    "optuna==5.0.0",
    "alembic==1.20.1",
    "sqlalchemy==2.1.9",
    "mako==1.4.3",
    "colorlog==6.12.0",
)
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
EMBEDDINGS = "embeddings.word_embeddings.weight"


def pack_model(out: Path, data_dir: str) -> int:
    """Write the model folder with unused embedding rows zeroed; return the number of rows kept."""
    settings = SearchSettings(task="glue/sst2", data_dir=data_dir, budget=BUDGET, seed=SEED)
    base = BaseModel.load("minilm")
    data = prepare_data(settings.load_task(), base.tokenizer, BUDGET, SEED)
    ids = set(base.tokenizer.all_special_ids) | {data.pad_token_id}
    for enc in (data.train, data.val):
        for f in enc.features:
            ids.update(f["input_ids"])
    src = Path(resolve_model("minilm"))
    out.mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file() and f.name != "model.safetensors":
            shutil.copy(f, out / f.name)
    weights = load_file(str(src / "model.safetensors"))
    keep = torch.zeros(weights[EMBEDDINGS].shape[0], dtype=torch.bool)
    keep[sorted(ids)] = True
    weights[EMBEDDINGS] = weights[EMBEDDINGS] * keep[:, None]
    save_file(weights, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "kept_ids.json").write_text(json.dumps(sorted(ids)))
    subprocess.run(["xz", "-T2", "-6", "-f", str(out / "model.safetensors")], check=True)
    return len(ids)


def pack_site(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wheels, site = Path(tmp) / "whl", Path(tmp) / "site"
        platform = [a for p in PLATFORMS for a in ("--platform", p)]
        common = ["--no-deps", "--only-binary=:all:", "--python-version", "3.12", "--implementation", "cp"]
        pip = [sys.executable, "-m", "pip", "-q"]
        subprocess.run([*pip, "download", *common, *platform, "-d", str(wheels), *WHEELS], check=True)
        subprocess.run(
            [*pip, "install", *common, *platform, "--no-compile", "--target", str(site), *map(str, wheels.iterdir())],
            check=True,
        )
        subprocess.run(["tar", "-cJf", str(out), "-C", tmp, "site"], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--out", default=".gpu")
    args = parser.parse_args()
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir()
    kept = pack_model(out / "model", str(Path(args.data_dir).resolve()))
    pack_site(out / "site.tar.xz")
    glue = [f"glue/{t}" for t in ("SST-2", "MRPC", "RTE")]
    subprocess.run(["tar", "-cJf", str(out / "glue.tar.xz"), "-C", args.data_dir, *glue], check=True)
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"{out}: {total / 2**20:.1f} MiB ({kept} embedding rows kept)")


if __name__ == "__main__":
    main()
